//! OPAQUE registration and login with the fixed Kluis configuration
//! (PROTOCOL.md §3). Each run costs Argon2id at 64 MiB, so the cases are few.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kluis_crypto::opaque::{self, ServerLoginState, ServerSetupKey};
use kluis_crypto::Error;
use rand::rngs::OsRng;

/// The credential identifier is the user id's 16 bytes (PROTOCOL.md §3),
/// here those of `0f5ad1c2-8a1e-4c55-9f0e-2f6b8d1c7a10`.
const CREDENTIAL: &[u8] = &[
    0x0f, 0x5a, 0xd1, 0xc2, 0x8a, 0x1e, 0x4c, 0x55, 0x9f, 0x0e, 0x2f, 0x6b, 0x8d, 0x1c, 0x7a, 0x10,
];

fn register(
    setup: &ServerSetupKey,
    password: &[u8],
) -> (Vec<u8>, kluis_crypto::key_schedule::ExportKey) {
    let (request, state) = opaque::client_registration_start(&mut OsRng, password).unwrap();
    let response = opaque::server_registration_start(setup, &request, CREDENTIAL).unwrap();
    let (upload, export_key) = state.finish(&mut OsRng, password, &response).unwrap();
    (
        opaque::server_registration_finish(&upload).unwrap(),
        export_key,
    )
}

fn login(
    setup: &ServerSetupKey,
    file: Option<&[u8]>,
    password: &[u8],
) -> Result<kluis_crypto::key_schedule::ExportKey, Error> {
    let (ke1, client) = opaque::client_login_start(&mut OsRng, password).unwrap();
    let (ke2, server) =
        opaque::server_login_start(&mut OsRng, setup, file, &ke1, CREDENTIAL).unwrap();
    // The server's state survives a round trip through storage (another
    // instance may finish the login).
    let server = ServerLoginState::from_secret_bytes(&server.to_secret_bytes()).unwrap();
    let done = client.finish(&mut OsRng, password, &ke2)?;
    let server_key = server.finish(&done.finalization)?;
    assert_eq!(server_key, done.session_key);
    Ok(done.export_key)
}

#[test]
fn registration_then_login_yields_the_same_export_key() {
    let setup = ServerSetupKey::generate(&mut OsRng);
    let setup = ServerSetupKey::from_secret_bytes(&setup.to_secret_bytes()).unwrap();
    let (file, export_at_registration) = register(&setup, b"Correct horse 9");
    let export_at_login = login(&setup, Some(&file), b"Correct horse 9").unwrap();
    assert_eq!(export_at_registration, export_at_login);
}

#[test]
fn wrong_password_and_unknown_account_fail_the_same_way() {
    let setup = ServerSetupKey::generate(&mut OsRng);
    let (file, _) = register(&setup, b"Correct horse 9");
    assert!(matches!(
        login(&setup, Some(&file), b"Correct horse 8"),
        Err(Error::LoginFailed)
    ));
    assert!(matches!(
        login(&setup, None, b"Correct horse 9"),
        Err(Error::LoginFailed)
    ));

    // The fake response for an unknown account has the same length as a
    // real one.
    let (ke1, _) = opaque::client_login_start(&mut OsRng, b"x").unwrap();
    let (real, _) =
        opaque::server_login_start(&mut OsRng, &setup, Some(&file), &ke1, CREDENTIAL).unwrap();
    let (fake, _) = opaque::server_login_start(&mut OsRng, &setup, None, &ke1, CREDENTIAL).unwrap();
    assert_eq!(real.len(), fake.len());
}

#[test]
fn server_rejects_a_forged_finalization() {
    let setup = ServerSetupKey::generate(&mut OsRng);
    let (file, _) = register(&setup, b"Correct horse 9");
    let (ke1, client) = opaque::client_login_start(&mut OsRng, b"Correct horse 9").unwrap();
    let (ke2, server) =
        opaque::server_login_start(&mut OsRng, &setup, Some(&file), &ke1, CREDENTIAL).unwrap();
    let done = client.finish(&mut OsRng, b"Correct horse 9", &ke2).unwrap();
    let mut forged = done.finalization.clone();
    forged[0] ^= 1;
    assert!(matches!(server.finish(&forged), Err(Error::LoginFailed)));
}

#[test]
fn malformed_messages_are_typed_errors() {
    let setup = ServerSetupKey::generate(&mut OsRng);
    assert!(matches!(
        opaque::server_registration_start(&setup, &[0u8; 3], CREDENTIAL),
        Err(Error::OpaqueMessage { .. })
    ));
    assert!(matches!(
        opaque::server_registration_finish(&[0u8; 10]),
        Err(Error::OpaqueMessage { .. })
    ));
    assert!(matches!(
        opaque::server_login_start(&mut OsRng, &setup, None, &[1u8; 5], CREDENTIAL),
        Err(Error::OpaqueMessage { .. })
    ));
    assert!(matches!(
        ServerSetupKey::from_secret_bytes(&[0u8; 7]),
        Err(Error::OpaqueMessage { .. })
    ));
}

#[test]
fn stretching_is_argon2id_64mib_t3_p1_whatever_the_caller_wants() {
    use opaque_ke::ksf::Ksf;
    // The suite's KSF is the RFC 9106 Argon2id with the version-1 constants
    // and a zero salt; there is no way to hand it other parameters.
    let input = opaque_ke::generic_array::GenericArray::from([7u8; 64]);
    let ours = opaque::Argon2idV1.hash(input).unwrap();
    let mut reference = [0u8; 64];
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(64 * 1024, 3, 1, Some(64)).unwrap(),
    )
    .hash_password_into(&[7u8; 64], &[0u8; 16], &mut reference)
    .unwrap();
    assert_eq!(ours.as_slice(), &reference[..]);
    let mut weaker = [0u8; 64];
    argon2::Argon2::default()
        .hash_password_into(&[7u8; 64], &[0u8; 16], &mut weaker)
        .unwrap();
    assert_ne!(ours.as_slice(), &weaker[..]);
}
