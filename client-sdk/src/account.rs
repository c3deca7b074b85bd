//! Getting in: setting up the first organisation from the printed link,
//! signing up from an invitation, logging in, and the password reset — each
//! an OPAQUE exchange (PROTOCOL.md §3) after which the identity is created
//! or unsealed on this device.

use std::sync::Arc;

use kluis_crypto::identity::{IdentityBundle, IdentityKeyPair, SealKind, SealedIdentity};
use kluis_crypto::ids::UserId;
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::opaque;
use kluis_crypto::recovery::RecoveryKey;
use rand::rngs::OsRng;
use serde::Serialize;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::api::{b64, unb64, Api};
use crate::error::{Error, Result, Violation};
use crate::link::token_of;
use crate::password::{opaque_password, require_acceptable};
use crate::session::Session;
use crate::state::StateStore;
use crate::wire::{
    EmailOnly, InvitationInfo, LoginAnswer, LoginChallenge, LoginStart, MyKeys, PendingOnly,
    PublishKeys, RegistrationChallenge, ResetFinish, SecondFactorCode, SecondFactorMethod,
    SessionGranted, Status, TokenOnly, TokenRegistrationStart,
};

/// How the server should hand out the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    /// A bearer token the SDK keeps in memory (native clients).
    Bearer,
    /// An HttpOnly cookie the browser keeps, out of reach of page script.
    Cookie,
}

/// The entry point: a server, a place for local state, and how this
/// device calls itself in the session list.
#[derive(Clone)]
pub struct Kluis {
    api: Api,
    store: Arc<dyn StateStore>,
    device_label: String,
    mode: SessionMode,
}

impl std::fmt::Debug for Kluis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kluis")
            .field("server", &self.api.base())
            .field("device_label", &self.device_label)
            .finish()
    }
}

/// A new account: its session and the recovery key, to be shown to the user
/// once and never stored by Kluis.
#[derive(Debug)]
pub struct NewAccount {
    /// The logged-in session.
    pub session: Session,
    /// The recovery key (56 characters when displayed).
    pub recovery_key: RecoveryKey,
}

/// The outcome of a login.
#[derive(Debug)]
pub enum Login {
    /// Logged in with the identity unsealed.
    Ready(Box<Session>),
    /// The password is right but the identity is not sealed under it (the
    /// password was reset, or no identity was ever published): restore it
    /// with the recovery key, or start a new identity.
    NeedsRecovery(Box<PendingRecovery>),
    /// The password is right and the account uses two-factor login: send
    /// a code to get the session.
    SecondFactor(Box<PendingSecondFactor>),
}

/// A login waiting for its second factor (five minutes, five tries).
pub struct PendingSecondFactor {
    kluis: Kluis,
    email: String,
    /// Kept for a recovery after the login: publishing needs the password
    /// proven again if the user takes longer than the server's window.
    password: Zeroizing<String>,
    export_key: ExportKey,
    pending_login: String,
    methods: Vec<SecondFactorMethod>,
}

impl std::fmt::Debug for PendingSecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSecondFactor")
            .field("email", &self.email)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl PendingSecondFactor {
    /// What the server accepts.
    pub fn methods(&self) -> &[SecondFactorMethod] {
        &self.methods
    }

    /// Has a code sent by SMS to the account's verified phone (when
    /// [`Self::methods`] offers it); then [`Self::complete`] with
    /// [`SecondFactorMethod::Sms`].
    pub async fn send_sms(&self) -> Result<()> {
        let _: Status = self
            .kluis
            .api
            .post(
                "/api/login/second-factor/sms",
                &PendingOnly {
                    pending_login: &self.pending_login,
                },
            )
            .await?;
        Ok(())
    }

    /// Sends a code of `method`. A wrong or used code is
    /// [`Error::SecondFactorFailed`]; the pending login stays for another
    /// try (until five wrong ones), so this takes `&self`.
    pub async fn complete(&self, method: SecondFactorMethod, code: &str) -> Result<Login> {
        let granted: SessionGranted = self
            .kluis
            .api
            .post(
                "/api/login/second-factor",
                &SecondFactorCode {
                    pending_login: &self.pending_login,
                    method,
                    code,
                },
            )
            .await?;
        // The key stays here too: a later step (recovery) takes it by value.
        let export_key = ExportKey::from_secret_bytes(*self.export_key.expose_secret());
        self.kluis
            .open_granted(granted, &self.email, &self.password, export_key)
            .await
    }
}

impl Login {
    /// The session, or [`Error::InvalidInput`] explaining that recovery is
    /// needed.
    pub fn ready(self) -> Result<Session> {
        match self {
            Self::Ready(s) => Ok(*s),
            Self::NeedsRecovery(_) => Err(Error::InvalidInput(
                "the identity is not sealed under this password: restore it with the recovery key (kluis recover)".into(),
            )),
            Self::SecondFactor(_) => Err(Error::InvalidInput(
                "this account uses two-factor login: send a code first".into(),
            )),
        }
    }
}

/// A login whose identity still has to be restored.
pub struct PendingRecovery {
    api: Api,
    store: Arc<dyn StateStore>,
    me: UserId,
    email: String,
    /// Publishing the restored or new identity needs the password proven
    /// in the session (PUT /api/keys, `reauthentication_required`).
    password: Zeroizing<String>,
    export_key: ExportKey,
    published: Option<MyKeys>,
}

impl std::fmt::Debug for PendingRecovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRecovery")
            .field("account", &self.me)
            .field("has_published_identity", &self.published.is_some())
            .finish()
    }
}

impl PendingRecovery {
    /// Whether an identity was published that a recovery key can restore.
    pub fn has_published_identity(&self) -> bool {
        self.published.is_some()
    }

    /// Restores the published identity with the recovery key and seals it
    /// under the new password; peers see no change.
    pub async fn recover(self, recovery_key: &RecoveryKey) -> Result<Session> {
        let keys = self
            .published
            .as_ref()
            .ok_or_else(|| Error::InvalidInput("no identity was published to restore".into()))?;
        let sealed = SealedIdentity::decode(&unb64("sealed_recovery", &keys.sealed_recovery)?)
            .map_err(|_| Violation::SealedIdentityInvalid)?;
        if sealed.kind() != SealKind::RecoveryKey || sealed.user_id() != self.me {
            return Err(Violation::SealedIdentityInvalid.into());
        }
        let identity = sealed
            .open_with_recovery_key(recovery_key, self.me)
            .map_err(|_| {
                Error::InvalidInput(
                    "this recovery key does not open the identity (a different key, or a typo that still passed the checksum)".into(),
                )
            })?;
        check_matches_published(&identity, &keys.bundle)?;
        prove_password::<Value>(&self.api, "/api/reauth", &self.password).await?;
        publish(&self.api, &identity, &self.export_key, recovery_key).await?;
        Session::open(self.api, self.store, self.email, identity, &self.export_key)
    }

    /// Starts over with a new identity (the old one is lost): a new
    /// recovery key, and every peer is told the key changed.
    pub async fn new_identity(self) -> Result<NewAccount> {
        let identity = IdentityKeyPair::generate(&mut OsRng, self.me);
        let recovery_key = RecoveryKey::random(&mut OsRng);
        if self.published.is_some() {
            // A replacement: the server wants the password proven again
            // (a first identity needs only the session).
            prove_password::<Value>(&self.api, "/api/reauth", &self.password).await?;
        }
        publish(&self.api, &identity, &self.export_key, &recovery_key).await?;
        // The store of the old identity cannot open under the new one;
        // choosing a new identity is choosing to pin every peer afresh, so
        // the old store is set aside (kept), not reported.
        self.store.set_aside(&self.me)?;
        let session = Session::open(self.api, self.store, self.email, identity, &self.export_key)?;
        Ok(NewAccount {
            session,
            recovery_key,
        })
    }
}

impl Kluis {
    /// A client for the server at `server`, keeping sealed local state in
    /// `store`.
    pub fn new(server: &str, store: Arc<dyn StateStore>) -> Result<Self> {
        Ok(Self {
            api: Api::new(server)?,
            store,
            device_label: String::from("Kluis SDK"),
            mode: SessionMode::Bearer,
        })
    }

    /// Names this device in the session list ("kluis CLI on laptop").
    pub fn with_device_label(mut self, label: impl Into<String>) -> Self {
        self.device_label = label.into();
        self
    }

    /// Asks for browser cookies instead of bearer tokens (the web client).
    pub fn with_session_mode(mut self, mode: SessionMode) -> Self {
        self.mode = mode;
        self
    }

    /// The server's address.
    pub fn server(&self) -> &str {
        self.api.base()
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            SessionMode::Bearer => "bearer",
            SessionMode::Cookie => "cookie",
        }
    }

    /// Creates the first organisation and its manager from the setup link
    /// the server printed at its first start.
    pub async fn setup_organisation(
        &self,
        link: &str,
        organisation_name: &str,
        email: &str,
        display_name: &str,
        password: &str,
    ) -> Result<NewAccount> {
        require_acceptable(password, &[email, display_name, organisation_name])?;
        let token = token_of(link)?;
        let fields = Map::from_iter([
            ("organisation_name".to_owned(), json!(organisation_name)),
            ("email".to_owned(), json!(email)),
            ("display_name".to_owned(), json!(display_name)),
        ]);
        self.register_new("/api/setup", &token, password, fields, email)
            .await
    }

    /// What an invitation link offers (organisation, role, address).
    pub async fn lookup_invitation(&self, link: &str) -> Result<InvitationInfo> {
        let token = token_of(link)?;
        self.api
            .post("/api/invitations/lookup", &TokenOnly { token: &token })
            .await
    }

    /// Signs up from an invitation link: the password rule, OPAQUE
    /// registration, a new identity published, the recovery key returned.
    pub async fn sign_up(
        &self,
        link: &str,
        display_name: &str,
        password: &str,
    ) -> Result<NewAccount> {
        let info = self.lookup_invitation(link).await?;
        if info.account_exists {
            return Err(Error::InvalidInput(format!(
                "{} already has an account: log in and accept the invitation instead",
                info.email
            )));
        }
        require_acceptable(password, &[&info.email, display_name])?;
        let token = token_of(link)?;
        let fields = Map::from_iter([("display_name".to_owned(), json!(display_name))]);
        self.register_new(
            "/api/invitations/register",
            &token,
            password,
            fields,
            &info.email,
        )
        .await
    }

    async fn register_new(
        &self,
        prefix: &str,
        token: &str,
        password: &str,
        mut fields: Map<String, Value>,
        email: &str,
    ) -> Result<NewAccount> {
        let password = &opaque_password(password);
        let (request, state) = opaque::client_registration_start(&mut OsRng, password.as_bytes())?;
        let challenge: RegistrationChallenge = self
            .api
            .post(
                &format!("{prefix}/start"),
                &TokenRegistrationStart {
                    token,
                    request: b64(&request),
                },
            )
            .await?;
        let (upload, export_key) = state
            .finish(
                &mut OsRng,
                password.as_bytes(),
                &unb64("response", &challenge.response)?,
            )
            .map_err(|_| Violation::Malformed("OPAQUE registration response".into()))?;
        fields.insert("token".into(), json!(token));
        fields.insert("upload".into(), json!(b64(&upload)));
        fields.insert("device_label".into(), json!(self.device_label));
        fields.insert("session".into(), json!(self.mode_name()));
        let granted: SessionGranted = self.api.post(&format!("{prefix}/finish"), &fields).await?;
        let me: UserId = granted
            .account_id
            .parse()
            .map_err(|_| Violation::Malformed("account id".into()))?;
        let api = self.api.with_token(granted.token);
        let identity = IdentityKeyPair::generate(&mut OsRng, me);
        let recovery_key = RecoveryKey::random(&mut OsRng);
        publish(&api, &identity, &export_key, &recovery_key).await?;
        let session = Session::open(
            api,
            self.store.clone(),
            email.to_owned(),
            identity,
            &export_key,
        )?;
        Ok(NewAccount {
            session,
            recovery_key,
        })
    }

    /// Logs in: OPAQUE, then the identity is fetched sealed and opened with
    /// the export key, and checked against the published bundle.
    pub async fn login(&self, email: &str, password: &str) -> Result<Login> {
        let password = &opaque_password(password);
        let (ke1, state) = opaque::client_login_start(&mut OsRng, password.as_bytes())?;
        let challenge: LoginChallenge = self
            .api
            .post(
                "/api/login/start",
                &LoginStart {
                    email,
                    request: b64(&ke1),
                },
            )
            .await?;
        let done = finish_login(state, password, &challenge.response)?;
        #[derive(Serialize)]
        struct Finish<'a> {
            login_id: &'a str,
            finalization: String,
            device_label: &'a str,
            session: &'a str,
        }
        let answer: LoginAnswer = self
            .api
            .post(
                "/api/login/finish",
                &Finish {
                    login_id: &challenge.login_id,
                    finalization: b64(&done.finalization),
                    device_label: &self.device_label,
                    session: self.mode_name(),
                },
            )
            .await?;
        match answer {
            LoginAnswer::Granted(granted) => {
                self.open_granted(granted, email, password, done.export_key)
                    .await
            }
            LoginAnswer::SecondFactor(required) => {
                Ok(Login::SecondFactor(Box::new(PendingSecondFactor {
                    kluis: self.clone(),
                    email: email.to_owned(),
                    password: Zeroizing::new(password.as_str().to_owned()),
                    export_key: done.export_key,
                    pending_login: required.pending_login,
                    methods: required.methods,
                })))
            }
        }
    }

    /// After every factor passed: the identity is fetched sealed, opened
    /// with the export key, and checked against the published bundle.
    async fn open_granted(
        &self,
        granted: SessionGranted,
        email: &str,
        password: &str,
        export_key: ExportKey,
    ) -> Result<Login> {
        let me: UserId = granted
            .account_id
            .parse()
            .map_err(|_| Violation::Malformed("account id".into()))?;
        let api = self.api.with_token(granted.token);
        let published = match api.get::<MyKeys>("/api/keys/mine").await {
            Ok(keys) => Some(keys),
            Err(Error::Refused { status: 404, .. }) => None,
            Err(e) => return Err(e),
        };
        let opened = published
            .as_ref()
            .map(|keys| open_password_sealed(keys, &export_key, me))
            .transpose()?
            .flatten();
        match opened {
            Some(identity) => Ok(Login::Ready(Box::new(Session::open(
                api,
                self.store.clone(),
                email.to_owned(),
                identity,
                &export_key,
            )?))),
            None => Ok(Login::NeedsRecovery(Box::new(PendingRecovery {
                api,
                store: self.store.clone(),
                me,
                email: email.to_owned(),
                password: Zeroizing::new(password.to_owned()),
                export_key,
                published,
            }))),
        }
    }

    /// Asks for a reset link. The answer is the same whether or not the
    /// address has an account.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let _: Status = self
            .api
            .post("/api/password-reset", &EmailOnly { email })
            .await?;
        Ok(())
    }

    /// Sets a new password from the e-mailed reset link. Every session ends;
    /// log in with the new password, then restore the identity with the
    /// recovery key ([`Login::NeedsRecovery`]). On an account with two-factor
    /// login the link alone is refused (`second_factor_required`): use
    /// [`Self::reset_password_with_second_factor`].
    pub async fn reset_password(&self, link: &str, new_password: &str) -> Result<()> {
        self.reset(link, new_password, None).await
    }

    /// [`Self::reset_password`] for an account with two-factor login: with
    /// a code of its second factor (the app, an SMS asked for with
    /// [`Self::send_reset_sms`]) or a recovery code. A wrong code is
    /// refused (`invalid_code`) and changes nothing.
    pub async fn reset_password_with_second_factor(
        &self,
        link: &str,
        new_password: &str,
        method: SecondFactorMethod,
        code: &str,
    ) -> Result<()> {
        self.reset(link, new_password, Some((method, code.trim())))
            .await
    }

    /// Has an SMS code for the reset sent to the account's verified phone.
    pub async fn send_reset_sms(&self, link: &str) -> Result<()> {
        let token = token_of(link)?;
        let _: Status = self
            .api
            .post("/api/password-reset/sms", &TokenOnly { token: &token })
            .await?;
        Ok(())
    }

    async fn reset(
        &self,
        link: &str,
        new_password: &str,
        second_factor: Option<(SecondFactorMethod, &str)>,
    ) -> Result<()> {
        let new_password = &opaque_password(new_password);
        require_acceptable(new_password, &[])?;
        let token = token_of(link)?;
        let (request, state) =
            opaque::client_registration_start(&mut OsRng, new_password.as_bytes())?;
        let challenge: RegistrationChallenge = self
            .api
            .post(
                "/api/password-reset/start",
                &TokenRegistrationStart {
                    token: &token,
                    request: b64(&request),
                },
            )
            .await?;
        let (upload, _export) = state
            .finish(
                &mut OsRng,
                new_password.as_bytes(),
                &unb64("response", &challenge.response)?,
            )
            .map_err(|_| Violation::Malformed("OPAQUE registration response".into()))?;
        let _: Status = self
            .api
            .post(
                "/api/password-reset/finish",
                &ResetFinish {
                    token: &token,
                    upload: b64(&upload),
                    method: second_factor.map(|(m, _)| m),
                    code: second_factor.map(|(_, c)| c),
                },
            )
            .await?;
        Ok(())
    }

    /// Confirms the address a verification link was sent to (and makes it
    /// the account's address, if it was a change the user asked for).
    pub async fn verify_email(&self, link: &str) -> Result<()> {
        let token = token_of(link)?;
        let _: Status = self
            .api
            .post("/api/email/verify", &TokenOnly { token: &token })
            .await?;
        Ok(())
    }

    /// Confirms, from the link sent to the current address, the new
    /// address a manager proposed: it becomes the account's address.
    pub async fn confirm_email_change(&self, link: &str) -> Result<()> {
        let token = token_of(link)?;
        let _: Status = self
            .api
            .post("/api/email-change/confirm", &TokenOnly { token: &token })
            .await?;
        Ok(())
    }

    /// Refuses, from the link sent to the current address, the new address
    /// a manager proposed: nothing changes.
    pub async fn refuse_email_change(&self, link: &str) -> Result<()> {
        let token = token_of(link)?;
        let _: Status = self
            .api
            .post("/api/email-change/refuse", &TokenOnly { token: &token })
            .await?;
        Ok(())
    }
}

/// Proves the password again with a fresh OPAQUE login against the
/// two-step route `prefix` (`/api/reauth`, `/api/account/delete`): the
/// `start` gets KE1, the `finish` KE3; the finish's answer is returned. A
/// wrong password is [`Error::WrongCredentials`].
pub(crate) async fn prove_password<T: serde::de::DeserializeOwned>(
    api: &Api,
    prefix: &str,
    password: &str,
) -> Result<T> {
    #[derive(Serialize)]
    struct Start {
        request: String,
    }
    #[derive(Serialize)]
    struct Finish<'a> {
        login_id: &'a str,
        finalization: String,
    }
    // The same bytes as at sign-up, whatever form the password was typed in.
    let password: &str = &opaque_password(password);
    let (ke1, state) = opaque::client_login_start(&mut OsRng, password.as_bytes())?;
    let challenge: LoginChallenge = api
        .post(&format!("{prefix}/start"), &Start { request: b64(&ke1) })
        .await?;
    let done = finish_login(state, password, &challenge.response)?;
    api.post(
        &format!("{prefix}/finish"),
        &Finish {
            login_id: &challenge.login_id,
            finalization: b64(&done.finalization),
        },
    )
    .await
}

/// The client's last OPAQUE login step on the server's base64 KE2; a wrong
/// password (or a forged KE2) is [`Error::WrongCredentials`].
pub(crate) fn finish_login(
    state: opaque::ClientLoginState,
    password: &str,
    ke2_b64: &str,
) -> Result<opaque::ClientLoginFinish> {
    state
        .finish(
            &mut OsRng,
            password.as_bytes(),
            &unb64("response", ke2_b64)?,
        )
        .map_err(|e| match e {
            kluis_crypto::Error::LoginFailed => Error::WrongCredentials,
            other => Error::Crypto(other),
        })
}

/// Opens the password-sealed identity; `None` when it is not sealed under
/// this export key (a reset password). A sealed identity of another account
/// or one that does not match the published bundle is a violation.
fn open_password_sealed(
    keys: &MyKeys,
    export_key: &ExportKey,
    me: UserId,
) -> Result<Option<IdentityKeyPair>> {
    let sealed = SealedIdentity::decode(&unb64("sealed_password", &keys.sealed_password)?)
        .map_err(|_| Violation::SealedIdentityInvalid)?;
    if sealed.kind() != SealKind::Password || sealed.user_id() != me {
        return Err(Violation::SealedIdentityInvalid.into());
    }
    let Ok(identity) = sealed.open_with_password(export_key, me) else {
        return Ok(None);
    };
    check_matches_published(&identity, &keys.bundle)?;
    Ok(Some(identity))
}

fn check_matches_published(identity: &IdentityKeyPair, bundle_b64: &str) -> Result<()> {
    let published = IdentityBundle::decode(&unb64("bundle", bundle_b64)?)
        .map_err(|_| Violation::SealedIdentityInvalid)?;
    if published.encode() != identity.bundle().encode() {
        return Err(Violation::SealedIdentityInvalid.into());
    }
    Ok(())
}

/// Publishes the bundle and both sealed copies of the private keys.
pub(crate) async fn publish(
    api: &Api,
    identity: &IdentityKeyPair,
    export_key: &ExportKey,
    recovery_key: &RecoveryKey,
) -> Result<()> {
    let body = PublishKeys {
        bundle: b64(&identity.bundle().encode()),
        sealed_password: b64(&identity
            .seal_with_password(export_key, &mut OsRng)?
            .encode()),
        sealed_recovery: b64(&identity
            .seal_with_recovery_key(recovery_key, &mut OsRng)?
            .encode()),
    };
    let _: crate::wire::KeysPublished = api.put("/api/keys", &body).await?;
    Ok(())
}
