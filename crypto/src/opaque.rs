//! OPAQUE configuration (PROTOCOL.md §3; RFC 9807 via `opaque-ke` 4.0).
//!
//! Protocol version 1 fixes one cipher suite:
//!
//! * OPRF: ristretto255-SHA512 (RFC 9497 §4.1),
//! * key exchange: 3DH over ristretto255 with SHA-512 (RFC 9807 §6.4),
//! * key-stretching function: Argon2id (RFC 9106) with m = 64 MiB, t = 3,
//!   p = 1, salt = 16 zero bytes, output length = 64 bytes.
//!
//! The stretching parameters are constants of [`Argon2idV1`]: they are not in
//! any message, so a server can neither choose nor lower them. A zero salt is
//! sound because Argon2's input is the OPRF output, which already depends on
//! a per-user OPRF key only the server holds (RFC 9807 §3.3.2, the same
//! choice as `opaque-ke`'s own Argon2 instantiation).
//!
//! Both sides also bind the application context `kluis/v1/opaque` into the
//! key exchange transcript (RFC 9807 §6.1), and use the default identities
//! (the two static public keys, RFC 9807 §4).
//!
//! Every message crosses the network as opaque-ke's fixed-size byte encoding,
//! which is RFC 9807's own.

use argon2::{Algorithm, Argon2, Params, Version};
use opaque_ke::errors::{InternalError, ProtocolError};
use opaque_ke::generic_array::{ArrayLength, GenericArray};
use opaque_ke::ksf::Ksf;
use opaque_ke::{
    CipherSuite,
    ClientLogin,
    ClientLoginFinishParameters,
    ClientRegistration,
    ClientRegistrationFinishParameters,
    CredentialFinalization,
    CredentialRequest,
    CredentialResponse,
    RegistrationRequest,
    RegistrationResponse,
    // RFC 9807's `RegistrationRecord`; opaque-ke calls it an upload.
    RegistrationUpload as RegistrationRecord,
    Ristretto255,
    ServerLogin,
    ServerLoginParameters,
    ServerRegistration,
    ServerSetup,
    TripleDh,
};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::key_schedule::ExportKey;
use crate::secret::secret_bytes;
use crate::{Error, Result};

/// Argon2id memory cost in KiB (64 MiB).
pub const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes.
pub const ARGON2_ITERATIONS: u32 = 3;
/// Argon2id lanes.
pub const ARGON2_PARALLELISM: u32 = 1;
/// The OPAQUE application context (RFC 9807 §6.1).
pub const OPAQUE_CONTEXT: &[u8] = b"kluis/v1/opaque";

/// The key-stretching function of protocol version 1. Its parameters are
/// constants; it has no constructor that takes them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Argon2idV1;

impl Ksf for Argon2idV1 {
    fn hash<L: ArrayLength<u8>>(
        &self,
        input: GenericArray<u8, L>,
    ) -> Result<GenericArray<u8, L>, InternalError> {
        let params = Params::new(
            ARGON2_MEMORY_KIB,
            ARGON2_ITERATIONS,
            ARGON2_PARALLELISM,
            Some(L::to_usize()),
        )
        .map_err(|_| InternalError::KsfError)?;
        let mut output = GenericArray::default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(&input, &[0u8; 16], &mut output)
            .map_err(|_| InternalError::KsfError)?;
        Ok(output)
    }
}

/// The OPAQUE cipher suite of protocol version 1.
#[derive(Debug, Clone, Copy)]
pub struct OpaqueSuiteV1;

impl CipherSuite for OpaqueSuiteV1 {
    type OprfCs = Ristretto255;
    type KeyExchange = TripleDh<Ristretto255, sha2::Sha512>;
    type Ksf = Argon2idV1;
}

type Suite = OpaqueSuiteV1;

secret_bytes! {
    /// The key both sides share after a successful login (RFC 9807 §6.4).
    /// Kluis does not use it for the session token, which the server draws
    /// at random, but it is returned for callers that want channel binding.
    pub struct SessionKey([u8; 64]);
}

fn copy_64(mut value: GenericArray<u8, opaque_ke::generic_array::typenum::U64>) -> Box<[u8; 64]> {
    let mut out = Box::new([0u8; 64]);
    out.copy_from_slice(&value);
    value.zeroize();
    out
}

fn export_key(value: GenericArray<u8, opaque_ke::generic_array::typenum::U64>) -> ExportKey {
    ExportKey::from_boxed(copy_64(value))
}

fn malformed(what: &'static str) -> impl Fn(ProtocolError) -> Error {
    move |_| Error::OpaqueMessage { what }
}

fn login_error(e: ProtocolError) -> Error {
    match e {
        ProtocolError::SerializationError => Error::OpaqueMessage { what: "message" },
        // Wrong password, unknown account (fake record), a reflected or
        // tampered message: one answer, as RFC 9807 §10.9 requires.
        _ => Error::LoginFailed,
    }
}

// ---------------------------------------------------------------- client ---

/// Client state between the two registration messages.
pub struct ClientRegistrationState(ClientRegistration<Suite>);

impl core::fmt::Debug for ClientRegistrationState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ClientRegistrationState([redacted])")
    }
}

/// Registration, client side, step 1: returns `RegistrationRequest` bytes
/// for the server.
pub fn client_registration_start<R: RngCore + CryptoRng>(
    rng: &mut R,
    password: &[u8],
) -> Result<(Vec<u8>, ClientRegistrationState)> {
    let start = ClientRegistration::<Suite>::start(rng, password).map_err(login_error)?;
    Ok((
        start.message.serialize().to_vec(),
        ClientRegistrationState(start.state),
    ))
}

impl ClientRegistrationState {
    /// Registration, client side, step 2: from the server's
    /// `RegistrationResponse`, returns the `RegistrationRecord` bytes (RFC
    /// 9807 §5.2.3, 192 bytes) and the export key. Runs Argon2id (64 MiB,
    /// ~0.15 s native).
    pub fn finish<R: RngCore + CryptoRng>(
        self,
        rng: &mut R,
        password: &[u8],
        response: &[u8],
    ) -> Result<(Vec<u8>, ExportKey)> {
        let response = RegistrationResponse::<Suite>::deserialize(response)
            .map_err(malformed("registration response"))?;
        let ksf = Argon2idV1;
        let finish = self
            .0
            .finish(
                rng,
                password,
                response,
                ClientRegistrationFinishParameters::new(Default::default(), Some(&ksf)),
            )
            .map_err(login_error)?;
        Ok((
            finish.message.serialize().to_vec(),
            export_key(finish.export_key),
        ))
    }
}

/// Client state between the login messages.
pub struct ClientLoginState(ClientLogin<Suite>);

impl core::fmt::Debug for ClientLoginState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ClientLoginState([redacted])")
    }
}

/// Login, client side, step 1: returns `CredentialRequest` (KE1) bytes.
pub fn client_login_start<R: RngCore + CryptoRng>(
    rng: &mut R,
    password: &[u8],
) -> Result<(Vec<u8>, ClientLoginState)> {
    let start = ClientLogin::<Suite>::start(rng, password).map_err(login_error)?;
    Ok((
        start.message.serialize().to_vec(),
        ClientLoginState(start.state),
    ))
}

/// What a successful login gives the client.
#[derive(Debug)]
pub struct ClientLoginFinish {
    /// `CredentialFinalization` (KE3) bytes for the server.
    pub finalization: Vec<u8>,
    /// The export key, root of [`crate::key_schedule`].
    pub export_key: ExportKey,
    /// The OPAQUE session key.
    pub session_key: SessionKey,
}

impl ClientLoginState {
    /// Login, client side, step 2: from the server's `CredentialResponse`
    /// (KE2). A wrong password gives [`Error::LoginFailed`].
    pub fn finish<R: RngCore + CryptoRng>(
        self,
        rng: &mut R,
        password: &[u8],
        response: &[u8],
    ) -> Result<ClientLoginFinish> {
        let response = CredentialResponse::<Suite>::deserialize(response)
            .map_err(malformed("credential response"))?;
        let ksf = Argon2idV1;
        let finish = self
            .0
            .finish(
                rng,
                password,
                response,
                ClientLoginFinishParameters::new(
                    Some(OPAQUE_CONTEXT),
                    Default::default(),
                    Some(&ksf),
                ),
            )
            .map_err(login_error)?;
        Ok(ClientLoginFinish {
            finalization: finish.message.serialize().to_vec(),
            export_key: export_key(finish.export_key),
            session_key: SessionKey::from_boxed(copy_64(finish.session_key)),
        })
    }
}

// ---------------------------------------------------------------- server ---

/// The server's long-term OPAQUE secret: OPRF seed and key-exchange key pair
/// (RFC 9807 §5.1). Created once and persisted; losing it invalidates every
/// registration.
pub struct ServerSetupKey(ServerSetup<Suite>);

impl core::fmt::Debug for ServerSetupKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServerSetupKey([redacted])")
    }
}

impl ServerSetupKey {
    /// A fresh setup.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(ServerSetup::new(rng))
    }

    /// The bytes to persist (secret).
    pub fn to_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.serialize().to_vec())
    }

    /// Restores a persisted setup.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        ServerSetup::deserialize(bytes)
            .map(Self)
            .map_err(|_| Error::OpaqueMessage {
                what: "server setup",
            })
    }
}

/// Registration, server side, step 1: answers a `RegistrationRequest`.
/// `credential_id` is RFC 9807's `credential_identifier`: in Kluis it MUST
/// be the account's 16 user-id bytes (PROTOCOL.md §3), never another
/// encoding, because the per-user OPRF key is derived from it and a login
/// with other bytes fails.
pub fn server_registration_start(
    setup: &ServerSetupKey,
    request: &[u8],
    credential_id: &[u8],
) -> Result<Vec<u8>> {
    let request = RegistrationRequest::<Suite>::deserialize(request)
        .map_err(malformed("registration request"))?;
    let start = ServerRegistration::<Suite>::start(&setup.0, request, credential_id)
        .map_err(malformed("registration request"))?;
    Ok(start.message.serialize().to_vec())
}

/// Registration, server side, step 2: checks the `RegistrationRecord`'s
/// shape and returns the bytes to store (the same 192 bytes).
pub fn server_registration_finish(record: &[u8]) -> Result<Vec<u8>> {
    let record = RegistrationRecord::<Suite>::deserialize(record)
        .map_err(malformed("registration record"))?;
    Ok(ServerRegistration::<Suite>::finish(record)
        .serialize()
        .to_vec())
}

/// Server state between KE2 and KE3. Serializable so that a login may
/// finish on another server instance.
pub struct ServerLoginState(ServerLogin<Suite>);

impl core::fmt::Debug for ServerLoginState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServerLoginState([redacted])")
    }
}

/// Login, server side, step 1: answers a `CredentialRequest` (KE1).
///
/// With `record = None` (unknown account) opaque-ke answers with a
/// fake record derived from the setup, so the response is indistinguishable
/// from a real one (RFC 9807 §10.9) and costs the same.
pub fn server_login_start<R: RngCore + CryptoRng>(
    rng: &mut R,
    setup: &ServerSetupKey,
    record: Option<&[u8]>,
    request: &[u8],
    credential_id: &[u8],
) -> Result<(Vec<u8>, ServerLoginState)> {
    let record = record
        .map(ServerRegistration::<Suite>::deserialize)
        .transpose()
        .map_err(malformed("registration record"))?;
    let request = CredentialRequest::<Suite>::deserialize(request)
        .map_err(malformed("credential request"))?;
    let start = ServerLogin::start(
        rng,
        &setup.0,
        record,
        request,
        credential_id,
        ServerLoginParameters {
            context: Some(OPAQUE_CONTEXT),
            identifiers: Default::default(),
        },
    )
    .map_err(login_error)?;
    Ok((
        start.message.serialize().to_vec(),
        ServerLoginState(start.state),
    ))
}

impl ServerLoginState {
    /// The bytes to keep until KE3 arrives (secret).
    pub fn to_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.serialize().to_vec())
    }

    /// Restores the state kept between KE2 and KE3.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        ServerLogin::deserialize(bytes)
            .map(Self)
            .map_err(malformed("server login state"))
    }

    /// Login, server side, step 2: verifies KE3. A wrong password (or an
    /// unknown account) gives [`Error::LoginFailed`].
    pub fn finish(self, finalization: &[u8]) -> Result<SessionKey> {
        let finalization = CredentialFinalization::<Suite>::deserialize(finalization)
            .map_err(malformed("credential finalization"))?;
        let finish = self
            .0
            .finish(
                finalization,
                ServerLoginParameters {
                    context: Some(OPAQUE_CONTEXT),
                    identifiers: Default::default(),
                },
            )
            .map_err(login_error)?;
        Ok(SessionKey::from_boxed(copy_64(finish.session_key)))
    }
}
