//! The Kluis server: accounts, organisations and roles, invitations, OPAQUE
//! login, sessions and password reset, on SQLite or PostgreSQL. It never
//! receives a password or a key; what users say to each other reaches it
//! only as ciphertext (the vault API builds on this).
#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod api_json;
pub mod attachments;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod email_address;
pub mod email_token;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod invitation;
pub mod items;
pub mod key_directory;
pub mod language;
pub mod mail;
pub mod mail_settings;
pub mod mailer;
pub mod metrics;
pub mod middleware;
pub mod notifications;
pub mod outbox;
pub mod peers;
pub mod privacy_notice;
pub mod rate_limit;
pub mod relationships;
pub mod role;
pub mod routes;
pub mod server_key;
pub mod sessions;
pub mod setup;
pub mod sms;
pub mod store;
pub mod tls;
pub mod token;
pub mod two_factor;
pub mod worker;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

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
    pub mailer: Arc<mailer::Mailer>,
    /// Where SMS codes go; `None` when SMS is not configured.
    pub sms: Option<Arc<dyn sms::SmsGateway>>,
}

/// Connects, migrates, loads the server key and builds the router (with
/// its OpenAPI document served at `/api/openapi.json`). The caller serves
/// the router and runs [`worker::run`].
pub async fn build(config: &config::Config) -> Result<(axum::Router, AppState), error::StartError> {
    let store = store::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let opaque_setup = Arc::new(server_key::load_or_create(&store).await?);
    let state = AppState {
        store,
        opaque_setup,
        config: Arc::new(config.clone()),
        public_origin: auth::origin_of(&config.public_url).into(),
        limits: Arc::new(rate_limit::RateLimits::new(&config.limits)),
        metrics: Arc::new(metrics::Metrics::default()),
        worker_wake: Arc::new(tokio::sync::Notify::new()),
        mailer: Arc::new(mailer::Mailer::new(config)?),
        sms: config.sms.gateway()?.map(Arc::from),
    };
    Ok((router(state.clone()), state))
}

/// The whole HTTP surface with its layers.
pub fn router(state: AppState) -> axum::Router {
    let (api, openapi) = routes::router_and_openapi();
    let openapi = Arc::new(openapi);
    let routes = api.route(
        "/api/openapi.json",
        get(move || {
            let doc = Arc::clone(&openapi);
            async move { Json(doc.as_ref().clone()) }
        }),
    );
    with_layers(routes, state)
}

/// Wraps routes in what every answer gets: JSON for unknown routes and
/// methods, metrics, body limit, timeout, panic catching, request spans,
/// security headers. Public so that tests can wrap a route of their own
/// (one that panics, say) exactly as the real ones are wrapped.
pub fn with_layers(routes: axum::Router<AppState>, state: AppState) -> axum::Router {
    let limits = &state.config.limits;
    let routes = match &state.config.web_dir {
        // The web client's files; anything else is the JSON 404.
        Some(dir) => {
            routes.fallback_service(tower_http::services::ServeDir::new(dir).not_found_service(
                axum::handler::HandlerWithoutStateExt::into_service(middleware::not_found),
            ))
        }
        None => routes.fallback(middleware::not_found),
    };
    routes
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::count_requests,
        ))
        .layer(DefaultBodyLimit::max(limits.max_json_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::deadline,
        ))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(
            // Method and route template only: a path may carry ids, a
            // query anything; neither belongs in a log.
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                tracing::info_span!("request", method = %request.method(), route = %route)
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .with_state(state)
}
