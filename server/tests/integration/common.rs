//! The in-process server of the integration tests: a fresh database on
//! either engine, the app and its worker on an ephemeral port, and an HTTP
//! client for it (`kluis_test_support::Client`, reached through `Deref`).

use std::collections::HashMap;
use std::net::SocketAddr;

use kluis_server::config::Config;
use kluis_server::http::extract::PeerAddr;
use kluis_server::store::Engine;
use kluis_server::AppState;
use kluis_test_support::{Client, TestDb, GENEROUS_LIMITS};

/// A configuration on `db`, with generous rate limits and SMS codes on the
/// console unless `overrides` (KLUIS_* names) say otherwise.
pub fn config(db: &TestDb, public_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = [
        ("KLUIS_DATABASE_URL", db.url.as_str()),
        ("KLUIS_DATA_DIR", db.dir.path().to_str().unwrap()),
        ("KLUIS_BIND", "127.0.0.1:0"),
        ("KLUIS_PUBLIC_URL", public_url),
        ("KLUIS_SMS_PROVIDER", "console"),
    ]
    .into_iter()
    .chain(GENEROUS_LIMITS)
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::load(None, move |k| env.get(k).cloned()).unwrap()
}

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub api: Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    // Last: dropped after the tasks are stopped and the store closed.
    _db: TestDb,
}

impl std::ops::Deref for TestServer {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.api
    }
}

impl TestServer {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, &[]).await
    }

    pub async fn start_with(engine: Engine, overrides: &[(&str, &str)]) -> Self {
        let db = TestDb::new(engine);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let config = config(&db, &base, overrides);
        let (router, state) = kluis_server::build(&config).await.unwrap();
        let app = router.into_make_service_with_connect_info::<PeerAddr>();
        let serve = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let worker = tokio::spawn(kluis_server::worker::run(state.clone()));
        let api = Client::new(&base, &db.dir.path().join("outbox"));
        Self {
            addr,
            state,
            api,
            tasks: vec![serve, worker],
            _db: db,
        }
    }

    /// Stops the server and the worker, closes the store and drops the
    /// database.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.state.store.close().await;
    }

    /// Runs the worker's steps now (tests that must not wait for a tick).
    pub async fn run_worker_once(&self) {
        kluis_server::worker::process_reset_requests(&self.state)
            .await
            .unwrap();
        kluis_server::mail::outbox::deliver_due(&self.state.store, &self.state.mailer)
            .await
            .unwrap();
    }

    /// Sets up the first organisation from a fresh setup link; returns
    /// (organisation id, manager token, manager account id).
    pub async fn setup_organisation(
        &self,
        email: &str,
        password: &str,
    ) -> (String, String, String) {
        let link = kluis_server::org::setup::issue_link(&self.state.store, &self.state.config)
            .await
            .unwrap();
        self.api.setup_from_link(&link, email, password).await
    }
}

/// The body of a request opening relationship `rid` between `coach` and
/// the client `client`: epoch 0's key wrapped to both, and the opening
/// membership record (PROTOCOL.md §7.6) the coach signs.
pub fn opening_body(
    coach: &kluis_crypto::identity::IdentityKeyPair,
    client: &kluis_crypto::identity::IdentityBundle,
    rid: kluis_crypto::ids::RelationshipId,
) -> serde_json::Value {
    use kluis_crypto::ids::Epoch;
    use kluis_crypto::membership::{Member, MemberRole, MembershipRecord, RecordHash};
    use kluis_crypto::relationship::RelationshipKey;
    use rand::rngs::OsRng;
    let entry = |b: &kluis_crypto::identity::IdentityBundle, role| Member {
        user_id: b.user_id(),
        role,
        fingerprint: b.fingerprint(),
    };
    let record = MembershipRecord::sign(
        coach,
        rid,
        Epoch(0),
        RecordHash::NONE,
        1,
        vec![
            entry(coach.bundle(), MemberRole::Coach),
            entry(client, MemberRole::Client),
        ],
    )
    .expect("a coach and a client make an opening record");
    let key = RelationshipKey::generate(&mut OsRng, rid, Epoch(0));
    let wrapped: Vec<String> = [coach.bundle(), client]
        .iter()
        .map(|b| {
            let wrapped = key
                .wrap(&mut OsRng, coach, b, &record.hash())
                .expect("wrapping to a published bundle");
            kluis_test_support::b64(&wrapped.encode())
        })
        .collect();
    serde_json::json!({
        "relationship_id": rid.to_string(),
        "client_id": client.user_id().to_string(),
        "wrapped_keys": wrapped,
        "membership_record": kluis_test_support::b64(&record.encode()),
    })
}
