//! HTTP routes: thin handlers that extract, call the domain, respond.

mod health;

use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .with_state(state)
}
