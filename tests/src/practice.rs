//! A coaching practice on a running server, the way most end-to-end tests
//! begin: the organisation set up from the printed link, its manager, and
//! members who sign up from their mailed invitations — each through the
//! address the test chooses (the server itself, or a lying proxy in front
//! of it) and with their own device store.

use std::sync::Arc;

use kluis_sdk::kluis_crypto::ids::{RelationshipId, UserId};
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{Kluis, Role, Session};

use crate::Server;

/// The password every member of a test practice signs up with.
pub const PASSWORD: &str = "Vliegende-Kiwi-42";

/// An organisation with its manager, who talks to the server directly.
pub struct Practice<'a> {
    /// The server it runs on.
    pub server: &'a Server,
    /// The manager's session.
    pub manager: Session,
    /// The organisation's id.
    pub org: String,
}

impl std::fmt::Debug for Practice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Practice").field("org", &self.org).finish()
    }
}

impl<'a> Practice<'a> {
    /// Sets up "Praktijk" with manager Manon (m@p.nl).
    pub async fn set_up(server: &'a Server) -> Self {
        let manager = Kluis::new(&server.base, Arc::new(MemoryStore::new()))
            .unwrap()
            .setup_organisation(&server.setup_link, "Praktijk", "m@p.nl", "Manon", PASSWORD)
            .await
            .unwrap()
            .session;
        let me = manager.me().await.unwrap();
        let org = me.memberships.first().unwrap().organisation_id.clone();
        Self {
            server,
            manager,
            org,
        }
    }

    /// `inviter` (the manager if `None`) invites `email` as `role`; they
    /// sign up from the mailed link through `via`, keeping their device
    /// state in `store`, and are logged in.
    pub async fn join(
        &self,
        inviter: Option<&Session>,
        email: &str,
        role: Role,
        via: &str,
        store: Arc<MemoryStore>,
    ) -> Session {
        inviter
            .unwrap_or(&self.manager)
            .invite(&self.org, email, role)
            .await
            .unwrap();
        let link = Server::link_in(&self.server.mail(email, "invitation").await);
        Kluis::new(via, store)
            .unwrap()
            .sign_up(&link, email, PASSWORD)
            .await
            .unwrap()
            .session
    }
}

/// `coach` starts the conversation with `email`, a client of theirs who
/// signed up, and writes `first` in it: the relationship and the client.
pub async fn start_conversation(
    practice: &Practice<'_>,
    coach: &mut Session,
    email: &str,
    first: &str,
) -> (RelationshipId, UserId) {
    let client = coach
        .members(&practice.org)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email == email)
        .expect("the client signed up");
    let client = kluis_sdk::parse_user_id(&client.account_id).unwrap();
    let rid = coach
        .open_relationship(&practice.org, client)
        .await
        .unwrap();
    coach.send_message(rid, first).await.unwrap();
    (rid, client)
}

/// The member `email` forgot their password: a reset from the mailed
/// link, then, without a recovery key, a new identity — the way a peer's
/// key changes honestly. Returns the new session.
pub async fn new_identity_after_reset(
    server: &Server,
    email: &str,
    new_password: &str,
    store: Arc<MemoryStore>,
) -> Session {
    let kluis = Kluis::new(&server.base, store).unwrap();
    kluis.request_password_reset(email).await.unwrap();
    let reset = Server::link_in(&server.mail(email, "password_reset").await);
    kluis.reset_password(&reset, new_password).await.unwrap();
    let kluis_sdk::Login::NeedsRecovery(pending) = kluis.login(email, new_password).await.unwrap()
    else {
        panic!("{email} needs a recovery key or a new identity");
    };
    pending.new_identity().await.unwrap().session
}
