//! The caller's own account.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::role::Role;
use crate::{accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// One organisation I belong to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyMembership {
    /// The organisation.
    pub organisation_id: String,
    /// Its name.
    pub organisation_name: String,
    /// My role there.
    pub role: Role,
    /// Disabled there by a manager.
    pub disabled: bool,
}

/// My account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// My user id.
    pub account_id: String,
    /// My e-mail address.
    pub email: String,
    /// Whether it is confirmed.
    pub email_verified: bool,
    /// My name as others see it.
    pub display_name: String,
    /// My organisations.
    pub memberships: Vec<MyMembership>,
}

/// Who am I.
#[utoipa::path(get, path = "/api/me", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<Me>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let account = accounts::by_id(&mut conn, &auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let memberships = accounts::memberships(&mut conn, &auth.account_id)
        .await?
        .into_iter()
        .map(|m| MyMembership {
            organisation_id: m.organisation_id,
            organisation_name: m.organisation_name,
            role: m.role,
            disabled: m.disabled,
        })
        .collect();
    Ok(Json(Me {
        account_id: account.id,
        email: account.email,
        email_verified: account.email_verified,
        display_name: account.display_name,
        memberships,
    }))
}
