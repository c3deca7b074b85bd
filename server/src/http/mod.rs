//! HTTP: the session and address extractors, the JSON extractor, the
//! layers every answer passes (security headers, metrics, limits, panics)
//! and the routes. The domains below it take and return plain values.

pub mod extract;
pub(crate) mod json;
pub(crate) mod middleware;
pub(crate) mod routes;
pub(crate) mod web;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::AppState;

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
    // The web client's files at the root; anything else is the JSON 404.
    let source = match &state.config.web_dir {
        Some(dir) => web::Source::Dir(dir.clone()),
        None => web::Source::Embedded,
    };
    let routes = routes.fallback(move |method, uri, headers| {
        let source = source.clone();
        async move { web::serve(source, method, uri, headers).await }
    });
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
