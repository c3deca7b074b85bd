//! The Kluis server (issue 4, part 1 of several): configuration, storage on
//! SQLite or PostgreSQL with migrations, the persisted OPAQUE server setup,
//! a health endpoint and graceful shutdown. Accounts, organisations, login
//! and sessions build on this.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod routes;
pub mod server_key;
pub mod store;

use std::sync::Arc;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: store::Store,
    /// The OPAQUE server setup, loaded once at start.
    pub opaque_setup: Arc<kluis_crypto::opaque::ServerSetupKey>,
}

/// Connects, migrates, loads the server key and builds the router.
pub async fn build(config: &config::Config) -> Result<(axum::Router, AppState), error::StartError> {
    let store = store::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let opaque_setup = Arc::new(server_key::load_or_create(&store).await?);
    let state = AppState {
        store,
        opaque_setup,
    };
    Ok((routes::router(state.clone()), state))
}
