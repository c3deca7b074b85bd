//! Confirming an e-mail address from the e-mailed link.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::invitations::TokenOnly;
use super::Status;
use crate::auth::email_token::{self, Purpose};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::LinkJson;
use crate::org::accounts;
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_email))
}

/// Confirms the address the link was sent to (and makes it the account's
/// address if it was a change).
#[utoipa::path(post, path = "/api/email/verify", tag = "account",
    request_body = TokenOnly,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn verify_email(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenOnly>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let subject = email_token::consume(&mut tx, Purpose::VerifyEmail, &body.token, now).await?;
    let before = accounts::by_id(&mut tx, subject.account_id).await?;
    accounts::set_email(&mut tx, subject.account_id, &subject.email, true).await?;
    if before.is_some_and(|a| a.email != subject.email) {
        // A change the member asked for takes effect: erasing the account
        // soon after it waits (a cooling-off), as after a reset.
        accounts::record_event(&mut tx, subject.account_id, "email_changed", now).await?;
    }
    // Links sent to any address before this change stop working.
    email_token::end_all(&mut tx, subject.account_id, now).await?;
    tx.commit().await?;
    tracing::info!(account = %subject.account_id, "e-mail address confirmed");
    Ok(Status::json("email_verified"))
}
