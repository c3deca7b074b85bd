//! The server's OPAQUE setup (RFC 9807 §5.1): created once, persisted in the
//! database so that every instance on one PostgreSQL shares it, and loaded
//! at start. Losing it invalidates every password registration
//! (docs/OPERATIONS.md, with the server issue).

use kluis_crypto::opaque::ServerSetupKey;
use rand::rngs::OsRng;

use crate::error::StartError;
use crate::store::Store;

const NAME: &str = "opaque_server_setup";

/// Loads the setup, creating it on first start. Two instances starting at
/// once both insert with `ON CONFLICT DO NOTHING` and then read the one row
/// that won, so they agree.
pub async fn load_or_create(store: &Store) -> Result<ServerSetupKey, StartError> {
    let fresh = ServerSetupKey::generate(&mut OsRng);
    sqlx::query(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(NAME)
    .bind(fresh.to_secret_bytes().to_vec())
    .execute(store.pool())
    .await?;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(NAME)
        .fetch_one(store.pool())
        .await?;
    let stored = zeroize::Zeroizing::new(stored);
    ServerSetupKey::from_secret_bytes(&stored).map_err(StartError::ServerKey)
}
