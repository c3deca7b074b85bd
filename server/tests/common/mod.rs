//! What the server's integration tests share: a fresh database per test on
//! either engine, an in-process server on an ephemeral port with its worker
//! and data directory, an HTTP client, the client half of OPAQUE, and the
//! development outbox as a mailbox.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kluis_crypto::opaque;
use kluis_server::config::Config;
use kluis_server::http::extract::PeerAddr;
use kluis_server::store::Engine;
use kluis_server::AppState;
use rand::rngs::OsRng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs an async test body once per engine: `both_engines!(name, ...)`
/// expects `async fn name(engine: Engine)` in the test file.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(kluis_server::store::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(kluis_server::store::Engine::Postgres).await;
                }
            )*
        }
    };
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("kluis-test-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A database for one test: a SQLite file in its own directory, or a
/// PostgreSQL database dropped at the end.
pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(engine: Engine) -> Self {
        let dir = temp_dir();
        match engine {
            Engine::Sqlite => Self {
                url: format!("sqlite://{}?mode=rwc", dir.0.join("kluis.db").display()),
                dir,
                pg_name: None,
            },
            Engine::Postgres => {
                let name = format!("kluis_test_{}", rand::random::<u32>());
                let mut admin = sqlx::PgConnection::connect(PG_ADMIN)
                    .await
                    .expect("PostgreSQL at 127.0.0.1:5432");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn drop_db(&self) {
        if let Some(name) = &self.pg_name {
            let mut admin = sqlx::PgConnection::connect(PG_ADMIN).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
    }

    /// A configuration on this database, with generous rate limits unless
    /// `overrides` (KLUIS_* names) say otherwise.
    pub fn config(&self, public_url: &str, overrides: &[(&str, &str)]) -> Config {
        let mut env: HashMap<String, String> = [
            ("KLUIS_DATABASE_URL", self.url.as_str()),
            ("KLUIS_DATA_DIR", self.dir.0.to_str().unwrap()),
            ("KLUIS_BIND", "127.0.0.1:0"),
            ("KLUIS_PUBLIC_URL", public_url),
            ("KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "100000"),
            ("KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "100000"),
            ("KLUIS_RESET_PER_ADDRESS_PER_HOUR", "100000"),
            ("KLUIS_RESET_PER_ACCOUNT_PER_HOUR", "100000"),
            ("KLUIS_INVITATIONS_PER_ACCOUNT_PER_HOUR", "100000"),
            ("KLUIS_TOKENS_PER_ADDRESS_PER_MINUTE", "100000"),
            ("KLUIS_SMS_PROVIDER", "console"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Config::load(None, move |k| env.get(k).cloned()).unwrap()
    }
}

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: TestDb,
    pub api: Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::ops::Deref for TestServer {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.api
    }
}

/// Talks to a server over HTTP and reads its development outbox.
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub outbox: PathBuf,
    read_mail: Mutex<HashSet<PathBuf>>,
}

impl TestServer {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, &[]).await
    }

    pub async fn start_with(engine: Engine, overrides: &[(&str, &str)]) -> Self {
        let db = TestDb::new(engine).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let config = db.config(&base, overrides);
        let (router, state) = kluis_server::build(&config).await.unwrap();
        let app = router.into_make_service_with_connect_info::<PeerAddr>();
        let serve = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let worker = tokio::spawn(kluis_server::worker::run(state.clone()));
        let api = Client::new(&base, &db.dir.0.join("outbox"));
        Self {
            addr,
            state,
            db,
            api,
            tasks: vec![serve, worker],
        }
    }

    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.state.store.close().await;
        self.db.drop_db().await;
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

impl Client {
    pub fn new(base: &str, outbox: &std::path::Path) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
            outbox: outbox.to_owned(),
            read_mail: Mutex::new(HashSet::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        into_json(req.send().await.unwrap()).await
    }

    pub async fn put(&self, path: &str, body: Value, bearer: &str) -> (StatusCode, Value) {
        let req = self
            .http
            .put(self.url(path))
            .json(&body)
            .bearer_auth(bearer);
        into_json(req.send().await.unwrap()).await
    }

    pub async fn patch(&self, path: &str, body: Value, bearer: &str) -> (StatusCode, Value) {
        into_json(
            self.http
                .patch(self.url(path))
                .json(&body)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        into_json(req.send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> (StatusCode, Value) {
        into_json(
            self.http
                .delete(self.url(path))
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The next unread e-mail of `kind` to `to`, waiting for the worker.
    pub async fn mail(&self, to: &str, kind: &str) -> String {
        let dir = &self.outbox;
        for _ in 0..200 {
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            names.sort();
            for path in names {
                if path.extension().is_none_or(|e| e != "eml") {
                    continue;
                }
                if self.read_mail.lock().unwrap().contains(&path) {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains(&format!("To: {to}\n"))
                    && text.contains(&format!("X-Kluis-Kind: {kind}\n"))
                {
                    self.read_mail.lock().unwrap().insert(path);
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} mail to {to}");
    }

    /// Every e-mail delivered so far (read or not).
    pub fn all_mail(&self) -> Vec<String> {
        std::fs::read_dir(&self.outbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    // ----------------------------------------------------------- flows ---

    /// OPAQUE registration against `{prefix}/start` and `{prefix}/finish`;
    /// returns the finish answer.
    pub async fn register(
        &self,
        prefix: &str,
        token: &str,
        password: &str,
        finish_fields: Value,
    ) -> (StatusCode, Value) {
        let (request, client) =
            opaque::client_registration_start(&mut OsRng, password.as_bytes()).unwrap();
        let (status, body) = self
            .post(
                &format!("{prefix}/start"),
                json!({ "token": token, "request": b64(&request) }),
                None,
            )
            .await;
        if status != StatusCode::OK {
            return (status, body);
        }
        let response = unb64(&body["response"]);
        let (upload, _export) = client
            .finish(&mut OsRng, password.as_bytes(), &response)
            .unwrap();
        let mut fields = finish_fields;
        fields["token"] = json!(token);
        fields["upload"] = json!(b64(&upload));
        self.post(&format!("{prefix}/finish"), fields, None).await
    }

    /// A full OPAQUE login; returns the bearer token or the error answer.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, (StatusCode, Value)> {
        let (status, body) = self.login_with(email, password, json!({})).await;
        if status == StatusCode::OK {
            Ok(body["token"].as_str().unwrap().to_owned())
        } else {
            Err((status, body))
        }
    }

    /// A full OPAQUE login with extra fields in the finish request. A wrong
    /// password fails in the client already; then a forged KE3 is sent, as
    /// an attacker would.
    pub async fn login_with(
        &self,
        email: &str,
        password: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let (ke1, client) = opaque::client_login_start(&mut OsRng, password.as_bytes()).unwrap();
        let (status, body) = self
            .post(
                "/api/login/start",
                json!({ "email": email, "request": b64(&ke1) }),
                None,
            )
            .await;
        if status != StatusCode::OK {
            return (status, body);
        }
        let ke2 = unb64(&body["response"]);
        let finalization = match client.finish(&mut OsRng, password.as_bytes(), &ke2) {
            Ok(done) => done.finalization,
            Err(_) => vec![0x42; 64],
        };
        let mut fields = extra;
        fields["login_id"] = body["login_id"].clone();
        fields["finalization"] = json!(b64(&finalization));
        self.post("/api/login/finish", fields, None).await
    }

    /// Uses a setup link; returns (organisation id, manager token, manager
    /// account id).
    pub async fn setup_from_link(
        &self,
        link: &str,
        email: &str,
        password: &str,
    ) -> (String, String, String) {
        let token = token_of(link);
        let (status, body) = self
            .register(
                "/api/setup",
                &token,
                password,
                json!({ "organisation_name": "Praktijk De Linde", "email": email,
                        "display_name": "Manon Manager" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let bearer = body["token"].as_str().unwrap().to_owned();
        let account = body["account_id"].as_str().unwrap().to_owned();
        let (_, me) = self.get("/api/me", Some(&bearer)).await;
        let org = me["memberships"][0]["organisation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (org, bearer, account)
    }

    /// `inviter` invites `email` as `role`; the invitee registers from the
    /// e-mailed link. Returns (token, account id).
    pub async fn invite_and_register(
        &self,
        org: &str,
        inviter: &str,
        email: &str,
        role: &str,
        password: &str,
    ) -> (String, String) {
        let (status, body) = self
            .post(
                &format!("/api/organisations/{org}/invitations"),
                json!({ "email": email, "role": role }),
                Some(inviter),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = token_of(&self.mail(email, "invitation").await);
        let (status, body) = self
            .register(
                "/api/invitations/register",
                &token,
                password,
                json!({ "display_name": format!("{role} {email}") }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["token"].as_str().unwrap().to_owned(),
            body["account_id"].as_str().unwrap().to_owned(),
        )
    }
}

pub async fn into_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn unb64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

/// The token in a link or e-mail (`…#token=XYZ`).
pub fn token_of(text: &str) -> String {
    let start = text.find("#token=").expect("a link with a token") + 7;
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
