//! The right of access (GDPR art. 15): `GET /api/me/data`, everything the
//! server holds about the caller, as one JSON document (format
//! `kluis-data/1`, docs/OPERATIONS.md "The right of access"). What it
//! cannot read it describes by its metadata: which relationships, how many
//! items and files of theirs, how large, when. Never another person's
//! address, name or session, never a secret (no password record, no TOTP
//! secret, no token), never a mail's body.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::sessions::{self, SessionInfo};
use crate::auth::{sms, two_factor};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::Auth;
use crate::language::Language;
use crate::mail::outbox;
use crate::org::members::{self, Member};
use crate::org::{accounts, privacy_notice};
use crate::vault::attachments::{self, Uploaded};
use crate::vault::items::{self, Written};
use crate::vault::relationships::{self, Place};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_data))
}

/// Everything the server holds about the caller.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MyData {
    /// `kluis-data/1`.
    pub format: &'static str,
    /// When this was put together, Unix ms.
    pub generated_ms: i64,
    /// The account.
    pub account: AccountRecord,
    /// Each organisation, with the role and the dates kept there.
    pub memberships: Vec<Member>,
    /// Each relationship the account is or was in (its place, not its
    /// content, which the server cannot read).
    pub relationships: Vec<Place>,
    /// Items the account wrote, counted per relationship and kind.
    pub items_written: Vec<Written>,
    /// Files the account uploaded, counted per relationship.
    pub files_uploaded: Vec<Uploaded>,
    /// Signed-in devices.
    pub sessions: Vec<SessionInfo>,
    /// Two-step sign-in: which methods, never their secrets.
    pub two_factor: TwoFactorRecord,
    /// Each version of the privacy notice shown, and when acknowledged.
    pub privacy_notices: Vec<NoticeRecord>,
    /// The e-mails the outbox still holds for the account's address: kind
    /// and times, never the text.
    pub mail: Vec<MailRecord>,
    /// What happened to the account (password reset, key change, …).
    pub events: Vec<EventRecord>,
}

/// The account's own fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct AccountRecord {
    /// Its id.
    pub account_id: String,
    /// The sign-in address.
    pub email: String,
    /// Whether the address was proven.
    pub email_verified: bool,
    /// The name others see.
    pub display_name: String,
    /// Its language.
    pub language: Language,
    /// Whether it gets e-mails about new messages and files.
    pub activity_emails: bool,
    /// Disabled by the operator.
    pub disabled: bool,
    /// Created, Unix ms.
    pub created_ms: i64,
}

/// Two-step sign-in, without secrets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct TwoFactorRecord {
    /// An authenticator app is set up.
    pub authenticator: bool,
    /// The phone number codes go to, if one is verified.
    pub sms_phone: Option<String>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

/// A privacy notice shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct NoticeRecord {
    /// Its version.
    pub version: i64,
    /// The language it was shown in.
    pub language: String,
    /// Shown, Unix ms.
    pub shown_ms: i64,
    /// Acknowledged, Unix ms.
    pub acknowledged_ms: Option<i64>,
}

/// An e-mail, without its text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MailRecord {
    /// What it was (invitation, activity, password_reset, …).
    pub kind: String,
    /// Queued, Unix ms.
    pub created_ms: i64,
    /// Handed to the mail server, Unix ms.
    pub sent_ms: Option<i64>,
}

/// Something that happened to the account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EventRecord {
    /// What.
    pub kind: String,
    /// When, Unix ms.
    pub created_ms: i64,
}

/// Everything the server holds about me (the right of access), as one
/// document. Content stays ciphertext: it is described by its metadata.
#[utoipa::path(get, path = "/api/me/data", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = MyData), (status = 401, body = ErrorBody)))]
async fn my_data(State(state): State<AppState>, auth: Auth) -> Result<Json<MyData>, ApiError> {
    let me = auth.account_id;
    let now = now_ms();
    let mut conn = state.store.pool().acquire().await?;
    let account = accounts::by_id(&mut conn, me)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let mut memberships = Vec::new();
    for m in accounts::memberships(&mut conn, me).await? {
        memberships.push(members::one(&mut conn, m.organisation_id, me).await?);
    }
    let factors = two_factor::factors(&mut conn, me).await?;
    let two_factor = TwoFactorRecord {
        authenticator: factors.totp,
        sms_phone: sms::verified_phone(&mut conn, me).await?,
        recovery_codes_left: factors.recovery_codes_left,
    };
    let privacy_notices = privacy_notice::records(&mut conn, me)
        .await?
        .into_iter()
        .map(
            |(version, language, shown_ms, acknowledged_ms)| NoticeRecord {
                version,
                language,
                shown_ms,
                acknowledged_ms,
            },
        )
        .collect();
    let mail = outbox::kept_for(&mut conn, &account.email)
        .await?
        .into_iter()
        .map(|(kind, created_ms, sent_ms)| MailRecord {
            kind,
            created_ms,
            sent_ms,
        })
        .collect();
    let events = accounts::events(&mut conn, me)
        .await?
        .into_iter()
        .map(|(kind, created_ms)| EventRecord { kind, created_ms })
        .collect();
    Ok(Json(MyData {
        format: "kluis-data/1",
        generated_ms: now,
        account: AccountRecord {
            account_id: account.id.to_string(),
            created_ms: accounts::created_ms(&mut conn, me).await?,
            email: account.email,
            email_verified: account.email_verified,
            display_name: account.display_name,
            language: account.language,
            activity_emails: account.notify_activity,
            disabled: account.disabled,
        },
        memberships,
        relationships: relationships::places_of(&mut conn, me).await?,
        items_written: items::written_by(&mut conn, me).await?,
        files_uploaded: attachments::uploaded_by(&mut conn, me).await?,
        sessions: sessions::list(&mut conn, me, auth.session_id, now).await?,
        two_factor,
        privacy_notices,
        mail,
        events,
    }))
}
