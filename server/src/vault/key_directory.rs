//! The key directory: each user's signed identity bundle and the two sealed
//! copies of their private keys (PROTOCOL.md §5). The server checks shapes,
//! the bundle's self-signature and that every part names the publishing
//! account; it returns the sealed copies only to their owner, and bundles
//! only to peers (see `peers`). Every change of bundle is a new version in
//! the account's key history, which peers read to notice key changes.

use kluis_crypto::identity::{IdentityBundle, SealKind, SealedIdentity};
use sqlx::{AnyConnection, Row};

use crate::error::ApiError;
use crate::ids::UserId;
use crate::org::accounts;
use crate::vault::envelope::{mismatch, rejected};

/// What a publication did.
#[derive(Debug)]
pub(crate) struct Published {
    /// The current version after it.
    pub version: i64,
    /// Whether the bundle changed (a new version peers will see).
    pub changed: bool,
    /// The current bundle's fingerprint.
    pub fingerprint: [u8; 32],
}

/// Checks and stores an identity.
pub(crate) async fn publish(
    conn: &mut AnyConnection,
    account_id: UserId,
    bundle: &[u8],
    sealed_password: &[u8],
    sealed_recovery: &[u8],
    now: i64,
) -> Result<Published, ApiError> {
    let decoded = IdentityBundle::decode(bundle).map_err(|e| rejected("identity bundle", e))?;
    if decoded.user_id() != account_id {
        return Err(mismatch("the bundle names another user"));
    }
    for (bytes, kind, what) in [
        (
            sealed_password,
            SealKind::Password,
            "password-sealed identity",
        ),
        (
            sealed_recovery,
            SealKind::RecoveryKey,
            "recovery-sealed identity",
        ),
    ] {
        let sealed = SealedIdentity::decode(bytes).map_err(|e| rejected(what, e))?;
        if sealed.kind() != kind {
            return Err(mismatch(format!("{what}: wrong seal kind")));
        }
        if sealed.user_id() != account_id {
            return Err(mismatch(format!("{what}: names another user")));
        }
    }
    let fingerprint = decoded.fingerprint().0;
    let current = current_row(&mut *conn, account_id).await?;
    match current {
        Some((version, stored)) if stored == bundle => {
            sqlx::query(
                "UPDATE identity_keys SET sealed_password = $1, sealed_recovery = $2 \
                 WHERE account_id = $3 AND version = $4",
            )
            .bind(sealed_password)
            .bind(sealed_recovery)
            .bind(account_id.to_string())
            .bind(version)
            .execute(&mut *conn)
            .await?;
            Ok(Published {
                version,
                changed: false,
                fingerprint,
            })
        }
        other => {
            let version = other.map_or(1, |(v, _)| v + 1);
            sqlx::query(
                "INSERT INTO identity_keys (account_id, version, bundle, fingerprint, \
                 sealed_password, sealed_recovery, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(account_id.to_string())
            .bind(version)
            .bind(bundle)
            .bind(fingerprint.to_vec())
            .bind(sealed_password)
            .bind(sealed_recovery)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            if version > 1 {
                accounts::record_event(&mut *conn, account_id, "key_change", now).await?;
            }
            Ok(Published {
                version,
                changed: true,
                fingerprint,
            })
        }
    }
}

async fn current_row(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<(i64, Vec<u8>)>, ApiError> {
    let row = sqlx::query(
        "SELECT version, bundle FROM identity_keys WHERE account_id = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(account_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("version")?, r.try_get("bundle")?)))
        .transpose()
}

/// The owner's current identity with both sealed copies.
#[derive(Debug)]
pub(crate) struct OwnKeys {
    /// Version.
    pub version: i64,
    /// The bundle.
    pub bundle: Vec<u8>,
    /// Sealed under the password-derived key.
    pub sealed_password: Vec<u8>,
    /// Sealed under the recovery key.
    pub sealed_recovery: Vec<u8>,
}

/// The caller's own current keys.
pub(crate) async fn own(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<OwnKeys>, ApiError> {
    let row = sqlx::query(
        "SELECT version, bundle, sealed_password, sealed_recovery FROM identity_keys \
         WHERE account_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(account_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(OwnKeys {
            version: r.try_get("version")?,
            bundle: r.try_get("bundle")?,
            sealed_password: r.try_get("sealed_password")?,
            sealed_recovery: r.try_get("sealed_recovery")?,
        })
    })
    .transpose()
}

/// One version of a user's public identity.
#[derive(Debug)]
pub(crate) struct PublicVersion {
    /// Version (1, 2, …).
    pub version: i64,
    /// The bundle.
    pub bundle: Vec<u8>,
    /// Its fingerprint.
    pub fingerprint: Vec<u8>,
    /// When it was published, Unix ms.
    pub created_ms: i64,
}

/// Every version of a user's bundle, oldest first.
pub(crate) async fn history(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<PublicVersion>, ApiError> {
    let rows = sqlx::query(
        "SELECT version, bundle, fingerprint, created_ms FROM identity_keys \
         WHERE account_id = $1 ORDER BY version",
    )
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PublicVersion {
                version: r.try_get("version")?,
                bundle: r.try_get("bundle")?,
                fingerprint: r.try_get("fingerprint")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .collect()
}

/// The fingerprint of a user's current bundle, if they published one.
pub(crate) async fn current_fingerprint(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<Vec<u8>>, ApiError> {
    let row = sqlx::query(
        "SELECT fingerprint FROM identity_keys WHERE account_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(account_id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("fingerprint")).transpose()?)
}
