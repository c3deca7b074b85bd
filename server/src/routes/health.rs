//! `GET /health`: the process is up and its database answers.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

pub(super) async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let one: i64 = sqlx::query_scalar("SELECT 1")
        .fetch_one(state.store.pool())
        .await?;
    Ok(Json(json!({ "status": "ok", "database": one == 1 })))
}
