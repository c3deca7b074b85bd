//! The server's JSON shapes, as the SDK sends and receives them
//! (`/api/openapi.json` is the reference). Only shapes live here; what the
//! values mean is checked where they are used.

use serde::{Deserialize, Serialize};

/// A role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the organisation; never reads dialogue.
    Manager,
    /// Coaches clients.
    Coach,
    /// Is coached.
    Client,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Manager => "manager",
            Self::Coach => "coach",
            Self::Client => "client",
        })
    }
}

impl std::str::FromStr for Role {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "manager" => Ok(Self::Manager),
            "coach" => Ok(Self::Coach),
            "client" => Ok(Self::Client),
            other => Err(crate::Error::InvalidInput(format!(
                "role must be manager, coach or client, not {other:?}"
            ))),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct TokenRegistrationStart<'a> {
    pub token: &'a str,
    pub request: String,
}

#[derive(Deserialize)]
pub(crate) struct RegistrationChallenge {
    pub response: String,
}

#[derive(Deserialize)]
pub(crate) struct SessionGranted {
    pub account_id: String,
    #[allow(dead_code)]
    pub session_id: String,
    pub token: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct LoginStart<'a> {
    pub email: &'a str,
    pub request: String,
}

#[derive(Deserialize)]
pub(crate) struct LoginChallenge {
    pub login_id: String,
    pub response: String,
}

#[derive(Serialize)]
pub(crate) struct TokenOnly<'a> {
    pub token: &'a str,
}

#[derive(Serialize)]
pub(crate) struct EmailOnly<'a> {
    pub email: &'a str,
}

#[derive(Serialize)]
pub(crate) struct ResetFinish<'a> {
    pub token: &'a str,
    pub upload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<SecondFactorMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
}

/// `{ "status": … }`: only its shape is checked.
#[derive(Debug, Deserialize)]
pub(crate) struct Status {
    #[allow(dead_code)]
    pub status: String,
}

/// An organisation the user belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    /// Its id.
    pub organisation_id: String,
    /// Its name.
    pub organisation_name: String,
    /// The user's role in it.
    pub role: Role,
    /// Whether a manager disabled the user there.
    pub disabled: bool,
}

/// The logged-in account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Me {
    /// Account id.
    pub account_id: String,
    /// E-mail address.
    pub email: String,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// Display name.
    pub display_name: String,
    /// Organisations.
    pub memberships: Vec<Membership>,
    /// The language of the account's e-mails and notices.
    #[serde(default)]
    pub language: Language,
    /// Whether an e-mail tells of new messages and files.
    #[serde(default)]
    pub activity_emails: bool,
    /// The current privacy notice waits to be shown and acknowledged
    /// ([`crate::Session::privacy_notice`]).
    #[serde(default)]
    pub privacy_notice_pending: bool,
    /// An organisation requires two-factor login and the account has not
    /// set it up: only enrolment works until it has.
    #[serde(default)]
    pub two_factor_enrolment_required: bool,
    /// A new address a manager proposed, waiting for the user to confirm
    /// ([`crate::Session::confirm_proposed_email`]) or refuse it; nothing
    /// changes until then.
    #[serde(default)]
    pub proposed_email: Option<String>,
    /// The account's erasure is scheduled for then (Unix ms): see
    /// [`crate::Session::cancel_account_deletion`].
    #[serde(default)]
    pub deletion_scheduled_for_ms: Option<i64>,
    /// A session ends after this long without a request, ms (`None` from
    /// a server that does not say). A client that polls on its own locks
    /// itself after this long without its user.
    #[serde(default)]
    pub session_idle_ms: Option<i64>,
    /// The largest attachment stream the server accepts, bytes
    /// ([`crate::max_file_size`] says how large a file that is).
    #[serde(default)]
    pub max_attachment_bytes: Option<u64>,
}

/// The privacy notice: the user's rights, in their language.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivacyNotice {
    /// Its version (acknowledge this one).
    pub version: i64,
    /// The language of `text`.
    pub language: Language,
    /// The notice, Markdown.
    pub text: String,
    /// When this version was acknowledged, Unix ms.
    pub acknowledged_ms: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Acknowledge {
    pub version: i64,
}

/// A language Kluis writes to its users in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Nederlands (the default).
    #[default]
    Nl,
    /// English.
    En,
}

impl std::str::FromStr for Language {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "nl" => Ok(Self::Nl),
            "en" => Ok(Self::En),
            other => Err(crate::Error::InvalidInput(format!(
                "language {other:?}: use nl or en"
            ))),
        }
    }
}

/// The answer to the password step of a login.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum LoginAnswer {
    /// The session (no second factor).
    Granted(SessionGranted),
    /// A second factor is needed.
    SecondFactor(SecondFactorRequired),
}

#[derive(Debug, Deserialize)]
pub(crate) struct SecondFactorRequired {
    pub pending_login: String,
    pub methods: Vec<SecondFactorMethod>,
}

/// A kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorMethod {
    /// A code from the authenticator app (TOTP).
    Totp,
    /// One of the ten one-time recovery codes.
    RecoveryCode,
    /// A code sent by SMS ([`crate::PendingSecondFactor::send_sms`]).
    Sms,
}

impl SecondFactorMethod {
    /// What a typed code is, given the methods on offer: six digits come
    /// from the app (or, without one, by SMS); anything else is taken for
    /// a recovery code.
    pub fn of_code(code: &str, offered: &[Self]) -> Self {
        let code = code.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            if offered.contains(&Self::Sms) && !offered.contains(&Self::Totp) {
                Self::Sms
            } else {
                Self::Totp
            }
        } else {
            Self::RecoveryCode
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct SecondFactorCode<'a> {
    pub pending_login: &'a str,
    pub method: SecondFactorMethod,
    pub code: &'a str,
}

/// An authenticator to add to the user's app.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TotpEnrolment {
    /// The secret, base32, to type in.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code, PNG, base64.
    pub qr_png: String,
}

/// The account's two-factor login.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TwoFactorStatus {
    /// An authenticator app is set up.
    pub totp: bool,
    /// The verified phone for SMS codes, partly hidden.
    #[serde(default)]
    pub sms_phone: Option<String>,
    /// Recovery codes left.
    pub recovery_codes_left: i64,
    /// An organisation of the account requires two-factor login.
    pub required_by_organisation: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CodeProof<'a> {
    pub method: SecondFactorMethod,
    pub code: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct PhoneNumber<'a> {
    pub phone: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct PendingOnly<'a> {
    pub pending_login: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct TwoFactorPolicy {
    pub required: bool,
}

/// What to change of the account's preferences.
#[derive(Debug, Serialize)]
pub(crate) struct Preferences {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_emails: Option<bool>,
}

/// A live session of the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Id, for revoking.
    pub id: String,
    /// What the client called itself.
    pub device_label: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub last_seen_ms: i64,
    /// Unix ms.
    pub expires_ms: i64,
    /// Whether it is this one.
    pub current: bool,
}

/// What an invitation link is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationInfo {
    /// The organisation.
    pub organisation_id: String,
    /// Its name.
    pub organisation_name: String,
    /// The role offered.
    pub role: Role,
    /// The address invited.
    pub email: String,
    /// Whether that address already has an account (then log in and
    /// accept instead of signing up).
    pub account_exists: bool,
    /// Who invited them, by the name they show (none for an operator's
    /// invitation). The server's word, like every name.
    #[serde(default)]
    pub inviter_name: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct NewInvitation<'a> {
    pub email: &'a str,
    pub role: Role,
}

/// An invitation was sent.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InvitationSent {
    /// Its id.
    pub invitation_id: String,
    /// When the link stops working, Unix ms.
    pub expires_ms: i64,
}

/// An invitation not used yet: a manager sees the organisation's, a coach
/// their own.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PendingInvitation {
    /// Its id.
    pub invitation_id: String,
    /// The address it went to.
    pub email: String,
    /// The role offered.
    pub role: Role,
    /// Who sent it (account id); none for the operator's.
    pub invited_by: Option<String>,
    /// When it was sent, Unix ms.
    pub created_ms: i64,
    /// When the link stops working, Unix ms.
    pub expires_ms: i64,
}

#[derive(Serialize)]
pub(crate) struct PublishKeys {
    pub bundle: String,
    pub sealed_password: String,
    pub sealed_recovery: String,
}

#[derive(Deserialize)]
pub(crate) struct KeysPublished {
    #[allow(dead_code)]
    pub version: i64,
    #[allow(dead_code)]
    pub changed: bool,
}

#[derive(Deserialize)]
pub(crate) struct MyKeys {
    pub bundle: String,
    pub sealed_password: String,
    pub sealed_recovery: String,
}

#[derive(Deserialize)]
pub(crate) struct KeyVersion {
    pub bundle: String,
}

#[derive(Deserialize)]
pub(crate) struct UserKeys {
    pub account_id: String,
    pub history: Vec<KeyVersion>,
}

#[derive(Serialize)]
pub(crate) struct EnvelopeUpload {
    pub envelope: String,
}

#[derive(Deserialize)]
pub(crate) struct NotesKeyView {
    pub generation: i64,
    pub envelope: String,
}

/// A member of a relationship, as the server lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberView {
    /// Account id.
    pub account_id: String,
    /// Display name.
    pub display_name: String,
    /// Role in the organisation.
    pub role: Role,
    /// First epoch held.
    pub joined_epoch: i64,
    /// Epoch at which the member was removed, if so.
    pub left_epoch: Option<i64>,
}

/// A member of an organisation, as the server shows them to the caller:
/// a manager sees everyone with their dates, a coach their clients, a
/// client their coaches (without dates).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrganisationMember {
    /// Account id.
    pub account_id: String,
    /// Name.
    pub display_name: String,
    /// E-mail address.
    pub email: String,
    /// Role in the organisation.
    pub role: Role,
    /// Disabled there by a manager.
    pub disabled: bool,
    /// Coaches: end of the contract (YYYY-MM-DD), managers only.
    #[serde(default)]
    pub contract_end: Option<String>,
    /// Clients: start of the trajectory, managers only.
    #[serde(default)]
    pub trajectory_start: Option<String>,
    /// Clients: end of the trajectory, managers only.
    #[serde(default)]
    pub trajectory_end: Option<String>,
}

/// What a manager changes of a member; `None` leaves it. A date is
/// `YYYY-MM-DD`, or `""` to clear it. A new `email` is only proposed: the
/// member confirms it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberUpdate {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new address to propose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Coaches: end of the contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_end: Option<String>,
    /// Clients: start of the trajectory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trajectory_start: Option<String>,
    /// Clients: end of the trajectory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trajectory_end: Option<String>,
}

/// A relationship (trajectory) as the server lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelationshipView {
    /// Its id.
    pub relationship_id: String,
    /// The organisation.
    pub organisation_id: String,
    /// The current epoch.
    pub current_epoch: i64,
    /// Trajectory start (date).
    pub trajectory_start: Option<String>,
    /// Trajectory end (date).
    pub trajectory_end: Option<String>,
    /// Members, past and present.
    pub members: Vec<MemberView>,
}

#[derive(Serialize)]
pub(crate) struct OpenRelationship {
    pub relationship_id: String,
    pub client_id: String,
    pub wrapped_keys: Vec<String>,
    pub membership_record: String,
}

#[derive(Serialize)]
pub(crate) struct NewEpoch {
    pub epoch: i64,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    pub wrapped_keys: Vec<String>,
    pub membership_record: String,
}

#[derive(Deserialize)]
pub(crate) struct MembershipRecordView {
    pub epoch: i64,
    pub record: String,
}

#[derive(Deserialize)]
pub(crate) struct WrappedKeyView {
    pub epoch: i64,
    pub envelope: String,
}

#[derive(Deserialize)]
pub(crate) struct ItemView {
    pub item_id: String,
    pub seq: i64,
    pub epoch: i64,
    pub kind: String,
    pub author_id: String,
    pub received_ms: i64,
    pub deleted: bool,
    pub envelope: Option<String>,
    /// The author's signed deletion of a tombstone (PROTOCOL.md §8.7).
    #[serde(default)]
    pub deletion: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ItemPage {
    pub items: Vec<ItemView>,
    pub next: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct BeginUpload {
    pub attachment_id: String,
}

#[derive(Deserialize)]
pub(crate) struct AttachmentStatus {
    pub length: i64,
    pub complete: bool,
}

#[derive(Serialize)]
pub(crate) struct CompleteUpload {
    pub length: i64,
    pub sha256: String,
}
