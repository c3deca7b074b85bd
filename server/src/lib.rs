//! The Kluis server: accounts, organisations and roles, invitations, OPAQUE
//! login, sessions and password reset, on SQLite or PostgreSQL. It never
//! receives a password or a key; what users say to each other reaches it
//! only as ciphertext (the vault API builds on this).
#![forbid(unsafe_code)]
// Only what the tests, benches and the e2e binary use is `pub`; the rest is
// `pub(crate)`, so an unused item is a warning rather than an API.
#![warn(unreachable_pub)]

// The root holds what every domain uses: storage, configuration, time,
// errors, typed ids and the other shared value types, and the process
// around the HTTP server.
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub(crate) mod fields;
pub mod ids;
pub(crate) mod language;
pub(crate) mod metrics;
pub(crate) mod rate_limit;
pub mod store;
pub mod tls;
pub mod worker;

// The domains, each owning its tables: who you are (auth), the
// organisation and its people (org), what coach and client keep (vault),
// what Kluis tells them by e-mail (mail).
pub mod auth;
pub mod mail;
pub mod org;
pub mod vault;

// HTTP on top: extractors, middleware and the routes that call the domains.
pub mod http;

use std::sync::Arc;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: store::Store,
    /// The OPAQUE server setup, loaded once at start.
    pub opaque_setup: Arc<kluis_crypto::opaque::ServerSetupKey>,
    /// The configuration.
    pub config: Arc<config::Config>,
    /// `scheme://host[:port]` of the public URL: the one `Origin` allowed
    /// to send state-changing cookie requests.
    pub public_origin: Arc<str>,
    /// Rate limits.
    pub limits: Arc<rate_limit::RateLimits>,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Wakes the worker when a request queued mail or a reset request.
    pub worker_wake: Arc<tokio::sync::Notify>,
    /// Where the worker hands mail.
    pub mailer: Arc<mail::mailer::Mailer>,
    /// Where SMS codes go; `None` when SMS is not configured.
    pub sms: Option<Arc<dyn auth::sms::SmsGateway>>,
}

/// Connects, migrates, loads the server key and builds the router (with
/// its OpenAPI document served at `/api/openapi.json`). The caller serves
/// the router and runs [`worker::run`].
pub async fn build(config: &config::Config) -> Result<(axum::Router, AppState), error::StartError> {
    let store = store::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let opaque_setup = Arc::new(auth::server_key::load_or_create(&store).await?);
    let state = AppState {
        store,
        opaque_setup,
        config: Arc::new(config.clone()),
        public_origin: http::extract::origin_of(&config.public_url).into(),
        limits: Arc::new(rate_limit::RateLimits::new(&config.limits)),
        metrics: Arc::new(metrics::Metrics::default()),
        worker_wake: Arc::new(tokio::sync::Notify::new()),
        mailer: Arc::new(mail::mailer::Mailer::new(config)?),
        sms: config.sms.gateway()?.map(Arc::from),
    };
    Ok((http::router(state.clone()), state))
}
