//! A logged-in user on this device: the session, the unsealed identity
//! (only ever in memory), the local state and the keys unwrapped so far.
//! The vault operations are `impl Session` blocks in their own modules.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use kluis_crypto::identity::{IdentityBundle, IdentityKeyPair, KeyFingerprint};
use kluis_crypto::ids::{RelationshipId, UserId};
use kluis_crypto::key_schedule::{ExportKey, LocalStoreKey};
use kluis_crypto::notes::NotesKey;
use kluis_crypto::relationship::RelationshipKey;

use crate::api::Api;
use crate::chain::VerifiedChain;
use crate::error::{Error, Result};
use crate::state::{LocalState, StateStore};
use crate::wire::{
    Acknowledge, CodeProof, InvitationSent, Language, Me, MemberUpdate, NewInvitation,
    OrganisationMember, PendingInvitation, PhoneNumber, Preferences, PrivacyNotice, RecoveryCodes,
    RelationshipView, Role, SecondFactorMethod, SessionInfo, Status, TokenOnly, TotpEnrolment,
    TwoFactorPolicy, TwoFactorStatus,
};

/// What became of a request to erase the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountDeletion {
    /// Erased, with everything of it.
    Deleted,
    /// Only scheduled: a password reset, an address change or a new
    /// identity was recent, so the erasure waits (the coaches are told).
    Scheduled {
        /// When it happens, Unix ms.
        at_ms: i64,
    },
}

/// A logged-in user.
pub struct Session {
    pub(crate) api: Api,
    pub(crate) me: UserId,
    email: String,
    pub(crate) identity: IdentityKeyPair,
    store_key: LocalStoreKey,
    store: Arc<dyn StateStore>,
    pub(crate) state: LocalState,
    pub(crate) epoch_keys: HashMap<(RelationshipId, u32), RelationshipKey>,
    /// Epochs whose key was wrapped to an earlier identity of this user.
    pub(crate) lost_epochs: HashSet<(RelationshipId, u32)>,
    pub(crate) notes_keys: BTreeMap<u32, NotesKey>,
    /// Verified membership chains (PROTOCOL.md §7.6).
    pub(crate) chains: HashMap<RelationshipId, VerifiedChain>,
    /// Bundles by (user, fingerprint), from pins and the key directory.
    pub(crate) bundles: HashMap<(UserId, KeyFingerprint), IdentityBundle>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.api.base())
            .field("account", &self.me)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with an unsealed identity; loads the local state sealed
    /// under this login's store key.
    pub(crate) fn open(
        api: Api,
        store: Arc<dyn StateStore>,
        email: String,
        identity: IdentityKeyPair,
        export_key: &ExportKey,
    ) -> Result<Self> {
        let me = identity.user_id();
        // Bound to the identity, not the password (PROTOCOL.md §4.3): the
        // pins survive a password change and a reset with the recovery key.
        let store_key = LocalStoreKey::for_identity(&identity)?;
        let state = match store.load(&me)? {
            None if store.had_state(&me)? => return Err(Error::LocalStoreMissing),
            None => LocalState::default(),
            Some(sealed) => match LocalState::open(&store_key, &me, &sealed) {
                Ok(state) => state,
                // Written by an earlier client under the export key: moved
                // to the identity-bound key once.
                Err(_) => {
                    let legacy = export_key.local_store_key(&me)?;
                    LocalState::open(&legacy, &me, &sealed)
                        .map_err(|_| Error::LocalStoreUnreadable)?
                }
            },
        };
        let session = Self {
            api,
            me,
            email,
            identity,
            store_key,
            store,
            state,
            epoch_keys: HashMap::new(),
            lost_epochs: HashSet::new(),
            notes_keys: BTreeMap::new(),
            chains: HashMap::new(),
            bundles: HashMap::new(),
        };
        // Saved at once: a legacy store is re-sealed under the identity key.
        session.save_state()?;
        Ok(session)
    }

    /// This account's id.
    pub fn account_id(&self) -> UserId {
        self.me
    }

    /// The address logged in with.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The server's address.
    pub fn server(&self) -> &str {
        self.api.base()
    }

    /// This user's public identity.
    pub fn identity_bundle(&self) -> &kluis_crypto::identity::IdentityBundle {
        self.identity.bundle()
    }

    /// Seals and stores the local state.
    pub(crate) fn save_state(&self) -> Result<()> {
        let sealed = self.state.seal(&self.store_key, &self.me)?;
        self.store.save(&self.me, &sealed)
    }

    /// The account, its organisations and roles.
    pub async fn me(&self) -> Result<Me> {
        self.api.get("/api/me").await
    }

    /// The account's live sessions.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        self.api.get("/api/sessions").await
    }

    /// Ends one of the account's sessions.
    pub async fn revoke_session(&self, session_id: &str) -> Result<()> {
        let _: Status = self
            .api
            .delete(&format!("/api/sessions/{session_id}"))
            .await?;
        Ok(())
    }

    /// Ends this session; the keys leave memory with `self`.
    pub async fn logout(self) -> Result<()> {
        self.end().await
    }

    /// Ends this session on the server without consuming it (for holders
    /// that cannot give it up, like the web bindings).
    pub async fn end(&self) -> Result<()> {
        let _: Status = self.api.post("/api/logout", &()).await?;
        Ok(())
    }

    /// Ends every session of the account, this one included.
    pub async fn logout_everywhere(self) -> Result<()> {
        self.end_everywhere().await
    }

    /// [`Self::logout_everywhere`] without consuming the session (for
    /// holders that cannot give it up, like the web bindings).
    pub async fn end_everywhere(&self) -> Result<()> {
        let _: Status = self.api.post("/api/logout/everywhere", &()).await?;
        Ok(())
    }

    /// Changes the password: proves the old one, registers the new one and
    /// re-seals the identity under the new export key, all stored by the
    /// server in one transaction. Other sessions end; the local store is
    /// re-sealed under the new login's key.
    pub async fn change_password(&mut self, old: &str, new: &str) -> Result<()> {
        use kluis_crypto::opaque;
        use rand::rngs::OsRng;
        let old = &crate::password::opaque_password(old);
        let new = &crate::password::opaque_password(new);
        crate::password::require_acceptable(new, &[&self.email])?;
        #[derive(serde::Serialize)]
        struct Start {
            login_request: String,
            registration_request: String,
        }
        #[derive(serde::Deserialize)]
        struct Challenge {
            login_id: String,
            login_response: String,
            registration_response: String,
        }
        #[derive(serde::Serialize)]
        struct Finish<'a> {
            login_id: &'a str,
            finalization: String,
            upload: String,
            sealed_password: String,
        }
        let (ke1, login) = opaque::client_login_start(&mut OsRng, old.as_bytes())?;
        let (request, registration) =
            opaque::client_registration_start(&mut OsRng, new.as_bytes())?;
        let challenge: Challenge = self
            .api
            .post(
                "/api/password/start",
                &Start {
                    login_request: crate::api::b64(&ke1),
                    registration_request: crate::api::b64(&request),
                },
            )
            .await?;
        let done = crate::account::finish_login(login, old, &challenge.login_response)?;
        let (upload, export_key) = registration
            .finish(
                &mut OsRng,
                new.as_bytes(),
                &crate::api::unb64("registration_response", &challenge.registration_response)?,
            )
            .map_err(|_| crate::Violation::Malformed("OPAQUE registration response".into()))?;
        let sealed = self.identity.seal_with_password(&export_key, &mut OsRng)?;
        let _: Status = self
            .api
            .post(
                "/api/password/finish",
                &Finish {
                    login_id: &challenge.login_id,
                    finalization: crate::api::b64(&done.finalization),
                    upload: crate::api::b64(&upload),
                    sealed_password: crate::api::b64(&sealed.encode()),
                },
            )
            .await?;
        // The store key is bound to the identity, which did not change.
        self.save_state()
    }

    /// Deletes this account (clients only) and everything of it: every
    /// relationship it is the client of, with all messages, notes and
    /// files. The password is proven again. Erased at once, the local store
    /// is removed; within the cooling-off period after a password reset,
    /// an address change or a new identity the server only schedules the
    /// erasure (the coaches are told) and says when
    /// ([`AccountDeletion::Scheduled`]; cancel with
    /// [`Self::cancel_account_deletion`]).
    pub async fn delete_account(self, password: &str) -> Result<AccountDeletion> {
        self.request_account_deletion(password).await
    }

    /// [`Self::delete_account`] without consuming the session (for holders
    /// that cannot give it up, like the web bindings): after
    /// [`AccountDeletion::Deleted`] the session is gone on the server and
    /// the holder must drop it.
    pub async fn request_account_deletion(&self, password: &str) -> Result<AccountDeletion> {
        #[derive(serde::Deserialize)]
        struct Outcome {
            status: String,
            scheduled_for_ms: Option<i64>,
        }
        let outcome: Outcome =
            crate::account::prove_password(&self.api, "/api/account/delete", password).await?;
        match (outcome.status.as_str(), outcome.scheduled_for_ms) {
            ("deleted", _) => {
                self.store.remove(&self.me)?;
                Ok(AccountDeletion::Deleted)
            }
            ("scheduled", Some(at_ms)) => Ok(AccountDeletion::Scheduled { at_ms }),
            _ => Err(crate::Violation::Malformed("account deletion answer".into()).into()),
        }
    }

    /// Cancels this account's scheduled erasure.
    pub async fn cancel_account_deletion(&self) -> Result<()> {
        let _: Status = self
            .api
            .post("/api/account/delete/cancel", &serde_json::json!({}))
            .await?;
        Ok(())
    }

    /// Proves the password again in this session. Publishing a new
    /// identity, turning two-factor login off, setting up a first second
    /// factor and changing the e-mail address need a recent proof (the
    /// login counts for a few minutes); after that the server answers
    /// `reauthentication_required` until this is called.
    pub async fn reauthenticate(&self, password: &str) -> Result<()> {
        let _: serde_json::Value =
            crate::account::prove_password(&self.api, "/api/reauth", password).await?;
        Ok(())
    }

    /// Asks to change this account's e-mail address: a confirmation link
    /// goes to the new address (the change takes effect when it is opened),
    /// and the current address is told. Needs a recent password proof
    /// ([`Self::reauthenticate`]).
    pub async fn change_email(&self, new_email: &str) -> Result<()> {
        let _: Status = self
            .api
            .put("/api/me/email", &serde_json::json!({ "email": new_email }))
            .await?;
        Ok(())
    }

    /// Confirms the new address a manager proposed ([`Me::proposed_email`]):
    /// it becomes the account's address at once. Needs a recent password
    /// proof ([`Self::reauthenticate`]).
    pub async fn confirm_proposed_email(&self) -> Result<()> {
        let _: Status = self
            .api
            .post("/api/me/email-change/confirm", &serde_json::json!({}))
            .await?;
        Ok(())
    }

    /// Refuses the new address a manager proposed: nothing changes.
    pub async fn refuse_proposed_email(&self) -> Result<()> {
        let _: Status = self
            .api
            .post("/api/me/email-change/refuse", &serde_json::json!({}))
            .await?;
        Ok(())
    }

    /// Changes the account's language (of e-mails and notices) and whether
    /// new messages and files are told by e-mail; `None` leaves a setting.
    pub async fn set_preferences(
        &self,
        language: Option<Language>,
        activity_emails: Option<bool>,
    ) -> Result<Me> {
        self.api
            .put(
                "/api/me/preferences",
                &Preferences {
                    language,
                    activity_emails,
                },
            )
            .await
    }

    /// The current privacy notice in the account's language (the server
    /// records that it was shown). Show it when [`Me::privacy_notice_pending`]
    /// says so: at the first login, and after the notice changed.
    pub async fn privacy_notice(&self) -> Result<PrivacyNotice> {
        self.api.get("/api/privacy-notice").await
    }

    /// Records that the user read `version` of the notice.
    pub async fn acknowledge_privacy_notice(&self, version: i64) -> Result<PrivacyNotice> {
        self.api
            .post("/api/privacy-notice/acknowledge", &Acknowledge { version })
            .await
    }

    /// The account's two-factor login.
    pub async fn two_factor(&self) -> Result<TwoFactorStatus> {
        self.api.get("/api/two-factor").await
    }

    /// Starts setting up an authenticator app: show the QR code (or the
    /// secret), then [`Self::confirm_totp`] with a code from the app.
    pub async fn enrol_totp(&self) -> Result<TotpEnrolment> {
        self.api
            .post("/api/two-factor/totp", &serde_json::json!({}))
            .await
    }

    /// Confirms the authenticator: two-factor login is on from now. Returns
    /// the ten recovery codes, to show the user once.
    pub async fn confirm_totp(&self, code: &str) -> Result<Vec<String>> {
        let codes: RecoveryCodes = self
            .api
            .post(
                "/api/two-factor/totp/confirm",
                &CodeProof {
                    method: SecondFactorMethod::Totp,
                    code,
                },
            )
            .await?;
        Ok(codes.recovery_codes)
    }

    /// Sets up a phone number for SMS codes; a code is sent to it, to be
    /// typed back with [`Self::confirm_sms`].
    pub async fn enrol_sms(&self, phone: &str) -> Result<()> {
        let _: Status = self
            .api
            .post("/api/two-factor/sms", &PhoneNumber { phone })
            .await?;
        Ok(())
    }

    /// Confirms the phone with the code sent to it. Returns recovery codes
    /// if the account had none (show them once), else an empty list.
    pub async fn confirm_sms(&self, code: &str) -> Result<Vec<String>> {
        let codes: RecoveryCodes = self
            .api
            .post(
                "/api/two-factor/sms/confirm",
                &CodeProof {
                    method: SecondFactorMethod::Sms,
                    code,
                },
            )
            .await?;
        Ok(codes.recovery_codes)
    }

    /// New recovery codes (a valid code of either kind proves it is you);
    /// the old ones stop working.
    pub async fn renew_recovery_codes(
        &self,
        method: SecondFactorMethod,
        code: &str,
    ) -> Result<Vec<String>> {
        let codes: RecoveryCodes = self
            .api
            .post(
                "/api/two-factor/recovery-codes",
                &CodeProof { method, code },
            )
            .await?;
        Ok(codes.recovery_codes)
    }

    /// Turns two-factor login off (a valid code needed).
    pub async fn disable_two_factor(&self, method: SecondFactorMethod, code: &str) -> Result<()> {
        let _: Status = self
            .api
            .post("/api/two-factor/disable", &CodeProof { method, code })
            .await?;
        Ok(())
    }

    /// Managers: require (or stop requiring) two-factor login of the
    /// organisation's members.
    pub async fn require_two_factor(&self, organisation: &str, required: bool) -> Result<()> {
        let _: Status = self
            .api
            .put(
                &format!("/api/organisations/{organisation}/two-factor"),
                &TwoFactorPolicy { required },
            )
            .await?;
        Ok(())
    }

    /// Managers: proposes a new e-mail address for a member. Nothing
    /// changes until the member confirms it (logged in, or from the link
    /// sent to their current address); the current address is told.
    pub async fn propose_member_email(
        &self,
        organisation: &str,
        member: UserId,
        email: &str,
    ) -> Result<()> {
        let update = MemberUpdate {
            email: Some(email.to_owned()),
            ..MemberUpdate::default()
        };
        self.update_member(organisation, member, &update).await
    }

    /// Managers: changes a member's profile (name, dates; a new e-mail
    /// address only as a proposal the member confirms).
    pub async fn update_member(
        &self,
        organisation: &str,
        member: UserId,
        update: &MemberUpdate,
    ) -> Result<()> {
        let _: serde_json::Value = self
            .api
            .call(
                reqwest::Method::PATCH,
                &format!("/api/organisations/{organisation}/members/{member}"),
                crate::api::Body::Json(update),
            )
            .await?;
        Ok(())
    }

    /// Managers: disables a member in the organisation (their sessions end
    /// and they cannot sign in there) or enables them again.
    pub async fn set_member_disabled(
        &self,
        organisation: &str,
        member: UserId,
        disabled: bool,
    ) -> Result<()> {
        let action = if disabled { "disable" } else { "enable" };
        let _: serde_json::Value = self
            .api
            .post(
                &format!("/api/organisations/{organisation}/members/{member}/{action}"),
                &serde_json::json!({}),
            )
            .await?;
        Ok(())
    }

    /// Managers: the organisation's relationships as metadata (members and
    /// dates; no keys, no items).
    pub async fn organisation_relationships(
        &self,
        organisation: &str,
    ) -> Result<Vec<RelationshipView>> {
        self.api
            .get(&format!("/api/organisations/{organisation}/relationships"))
            .await
    }

    /// The members of `organisation` this user may see (a coach: their
    /// clients; a client: their coaches; a manager: everyone), by name.
    pub async fn members(&self, organisation: &str) -> Result<Vec<OrganisationMember>> {
        self.api
            .get(&format!("/api/organisations/{organisation}/members"))
            .await
    }

    /// Invites `email` to `organisation` as `role` (managers invite coaches
    /// and managers, coaches invite clients); the server e-mails the link.
    pub async fn invite(
        &self,
        organisation: &str,
        email: &str,
        role: Role,
    ) -> Result<InvitationSent> {
        self.api
            .post(
                &format!("/api/organisations/{organisation}/invitations"),
                &NewInvitation { email, role },
            )
            .await
    }

    /// Everything the server holds about this account (the right of
    /// access), as the server's `kluis-data/1` document
    /// (docs/OPERATIONS.md, "The right of access"). The server can describe
    /// content only by its metadata; the content itself is in
    /// [`Self::export_to`].
    pub async fn my_data(&self) -> Result<serde_json::Value> {
        let data: serde_json::Value = self.api.get("/api/me/data").await?;
        if data.get("format").and_then(|f| f.as_str()) != Some("kluis-data/1") {
            return Err(crate::Violation::Malformed(
                "GET /api/me/data: not a kluis-data/1 document".into(),
            )
            .into());
        }
        Ok(data)
    }

    /// The invitations not used yet and still valid, newest first: a
    /// manager's organisation's, a coach's own.
    pub async fn pending_invitations(&self, organisation: &str) -> Result<Vec<PendingInvitation>> {
        self.api
            .get(&format!("/api/organisations/{organisation}/invitations"))
            .await
    }

    /// Withdraws an invitation not used yet: its link stops working.
    pub async fn withdraw_invitation(&self, organisation: &str, invitation: &str) -> Result<()> {
        let _: Status = self
            .api
            .delete(&format!(
                "/api/organisations/{organisation}/invitations/{invitation}"
            ))
            .await?;
        Ok(())
    }

    /// Accepts an invitation (to another organisation) for this account.
    pub async fn accept_invitation(&self, link: &str) -> Result<()> {
        let token = crate::link::token_of(link)?;
        let _: Status = self
            .api
            .post("/api/invitations/accept", &TokenOnly { token: &token })
            .await?;
        Ok(())
    }
}
