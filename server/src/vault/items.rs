//! Items: sealed envelopes (PROTOCOL.md §8) whose clear header must agree
//! with the request, the author and the relationship's state. Client-chosen
//! ids make a retried upload idempotent; deleting leaves a tombstone.
//!
//! Who sees what: a member sees the relationship's messages and documents
//! of the epochs they hold (a removed member keeps the earlier ones and gets
//! nothing new); a coach's notes are seen by that coach alone, and for
//! everyone else they do not exist.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kluis_crypto::deletion::{DeletedItem, ItemDeletion};
use kluis_crypto::identity::IdentityBundle;
use kluis_crypto::item::{ItemKind, SealedItem};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::error::{ApiError, ErrorCode};
use crate::ids::{self, ItemId, RelationshipId, UserId};
use crate::org::role::Role;
use crate::vault::envelope::{mismatch, rejected};
use crate::vault::relationships::Seen;
use crate::vault::{key_directory, notes_keys};

/// The largest item envelope: 163 bytes of framing + 8 MiB of content.
pub const MAX_ITEM_ENVELOPE: usize = 163 + kluis_crypto::item::MAX_ITEM_CONTENT;
/// Items per page at most.
pub const MAX_PAGE_ITEMS: i64 = 100;
/// A page stops growing past this many envelope bytes (at least one item).
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// An item as stored.
#[derive(Debug)]
pub struct Stored {
    /// Client-chosen id.
    pub item_id: ItemId,
    /// Server order.
    pub seq: i64,
    /// Epoch (notes: generation).
    pub epoch: i64,
    /// `message`, `document` or `note`.
    pub kind: String,
    /// Author.
    pub author_id: UserId,
    /// Server receive time, Unix ms.
    pub received_ms: i64,
    /// When the author deleted it.
    pub deleted_ms: Option<i64>,
    /// The envelope; `None` for a tombstone.
    pub envelope: Option<Vec<u8>>,
    /// The author's signed deletion (0x0B) of a tombstone; `None` for a
    /// live item and for tombstones from before deletions were signed.
    pub deletion: Option<Vec<u8>>,
}

fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Message => "message",
        ItemKind::Document => "document",
        ItemKind::Note => "note",
    }
}

const COLUMNS: &str =
    "item_id, seq, epoch, kind, author_id, received_ms, deleted_ms, envelope, deletion";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Stored, ApiError> {
    Ok(Stored {
        item_id: ids::get(r, "item_id")?,
        seq: r.try_get("seq")?,
        epoch: r.try_get("epoch")?,
        kind: r.try_get("kind")?,
        author_id: ids::get(r, "author_id")?,
        received_ms: r.try_get("received_ms")?,
        deleted_ms: r.try_get("deleted_ms")?,
        envelope: r.try_get("envelope")?,
        deletion: r.try_get("deletion")?,
    })
}

/// Stores an item under the id the request names (`None`: text that is
/// no item id, which no header can agree with); `Ok((true, …))` when new,
/// `Ok((false, …))` for an identical retry.
pub async fn put(
    conn: &mut AnyConnection,
    seen: &Seen,
    item_id: Option<ItemId>,
    envelope: &[u8],
    now: i64,
) -> Result<(bool, Stored), ApiError> {
    let sealed = SealedItem::decode(envelope).map_err(|e| rejected("sealed item", e))?;
    let header = sealed.header();
    if header.relationship_id != seen.relationship.id {
        return Err(mismatch("the item names another relationship"));
    }
    if Some(header.item_id) != item_id {
        return Err(mismatch("the item names another item id"));
    }
    let item_id = header.item_id;
    if header.author_id != seen.me.account_id {
        return Err(mismatch("the item names another author"));
    }
    if !seen.me.is_current() {
        return Err(ApiError::Forbidden);
    }
    let epoch = i64::from(header.epoch.0);
    match header.kind {
        ItemKind::Message | ItemKind::Document => {
            if epoch != seen.relationship.current_epoch {
                return Err(ApiError::conflict(
                    ErrorCode::StaleEpoch,
                    "items are sealed under the relationship's current epoch",
                ));
            }
        }
        ItemKind::Note => {
            if seen.me.role != Role::Coach {
                return Err(ApiError::Forbidden);
            }
            if !notes_keys::exists(&mut *conn, seen.me.account_id, epoch).await? {
                return Err(ApiError::conflict(
                    ErrorCode::UnknownNotesGeneration,
                    "publish the notes key of this generation first",
                ));
            }
        }
    }
    let digest = Sha256::digest(envelope).to_vec();
    let sql =
        format!("SELECT {COLUMNS}, digest FROM items WHERE relationship_id = $1 AND item_id = $2");
    let existing = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(seen.relationship.id.to_string())
        .bind(item_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = existing {
        let stored_digest: Vec<u8> = row.try_get("digest")?;
        return if stored_digest == digest {
            Ok((false, from_row(&row)?))
        } else {
            Err(ApiError::conflict(
                ErrorCode::ItemConflict,
                "an item with this id exists with other content",
            ))
        };
    }
    // Shared items go in only if the epoch is still current when the row is
    // written: a new epoch (removing a member) committed after the check
    // above must not leave an item readable by that member.
    let guard = match header.kind {
        ItemKind::Note => "",
        ItemKind::Message | ItemKind::Document => {
            " WHERE EXISTS (SELECT 1 FROM relationships WHERE id = $1 AND current_epoch = $3)"
        }
    };
    let sql = format!(
        "INSERT INTO items (relationship_id, item_id, epoch, kind, author_id, envelope, digest, received_ms) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8{guard} RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(seen.relationship.id.to_string())
        .bind(item_id.to_string())
        .bind(epoch)
        .bind(kind_name(header.kind))
        .bind(seen.me.account_id.to_string())
        .bind(envelope)
        .bind(digest)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                ErrorCode::StaleEpoch,
                "items are sealed under the relationship's current epoch",
            )
        })?;
    Ok((true, from_row(&row)?))
}

/// The SQL condition (with `$2` = caller, `$3` = first epoch held, `$4` =
/// first epoch no longer held) for what the caller may see.
const VISIBLE: &str = "((kind <> 'note' AND epoch >= $3 AND epoch < $4) \
                       OR (kind = 'note' AND author_id = $2))";

fn held_range(seen: &Seen) -> (i64, i64) {
    (seen.me.joined_epoch, seen.me.left_epoch.unwrap_or(i64::MAX))
}

/// One item, if the caller may see it (else `NotFound`).
pub async fn get(
    conn: &mut AnyConnection,
    seen: &Seen,
    item_id: ItemId,
) -> Result<Stored, ApiError> {
    let (from, until) = held_range(seen);
    let sql = format!(
        "SELECT {COLUMNS} FROM items WHERE relationship_id = $1 AND {VISIBLE} AND item_id = $5"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(seen.relationship.id.to_string())
        .bind(seen.me.account_id.to_string())
        .bind(from)
        .bind(until)
        .bind(item_id.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(ApiError::NotFound)?;
    from_row(&row)
}

/// Which way a page goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Newest first, older than the cursor (or from the newest).
    Older,
    /// Oldest first, newer than the cursor ("since").
    Newer,
}

/// A page of items and the cursor to continue from, if there is more.
#[derive(Debug)]
pub struct Page {
    /// The items.
    pub items: Vec<Stored>,
    /// Where the next page starts.
    pub next: Option<String>,
}

/// A cursor names the relationship it belongs to (by its id, or the id's
/// text), so that it cannot be replayed against another.
pub fn encode_cursor(relationship_id: impl std::fmt::Display, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{relationship_id}:{seq}"))
}

fn decode_cursor(relationship_id: RelationshipId, cursor: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            ErrorCode::InvalidCursor,
            "this cursor is not for this relationship",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (rid, seq) = text.rsplit_once(':').ok_or_else(invalid)?;
    if rid != relationship_id.to_string() {
        return Err(invalid());
    }
    seq.parse().map_err(|_| invalid())
}

/// A page of what the caller may see.
pub async fn page(
    conn: &mut AnyConnection,
    seen: &Seen,
    direction: Direction,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page, ApiError> {
    let limit = limit.clamp(1, MAX_PAGE_ITEMS);
    let (from, until) = held_range(seen);
    let position = match cursor {
        Some(c) => decode_cursor(seen.relationship.id, c)?,
        None => match direction {
            Direction::Older => i64::MAX,
            Direction::Newer => 0,
        },
    };
    let (comparison, order) = match direction {
        Direction::Older => ("<", "DESC"),
        Direction::Newer => (">", "ASC"),
    };
    // First the page's rows without their envelopes, to cut it at the byte
    // budget; then only the envelopes that made it. A page never holds more
    // than MAX_PAGE_BYTES (+ one item) in memory.
    let sql = format!(
        "SELECT seq, CAST(LENGTH(envelope) AS BIGINT) AS size FROM items \
         WHERE relationship_id = $1 AND {VISIBLE} AND seq {comparison} $5 ORDER BY seq {order} LIMIT $6"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(seen.relationship.id.to_string())
        .bind(seen.me.account_id.to_string())
        .bind(from)
        .bind(until)
        .bind(position)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let mut chosen: Vec<i64> = Vec::new();
    let mut bytes = 0i64;
    let mut more = false;
    for row in &rows {
        if chosen.len() as i64 == limit || (bytes >= MAX_PAGE_BYTES as i64 && !chosen.is_empty()) {
            more = true;
            break;
        }
        chosen.push(row.try_get("seq")?);
        bytes += row.try_get::<Option<i64>, _>("size")?.unwrap_or(0);
    }
    let (Some(&first), Some(&last)) = (chosen.first(), chosen.last()) else {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    };
    let (low, high) = (first.min(last), first.max(last));
    let sql = format!(
        "SELECT {COLUMNS} FROM items WHERE relationship_id = $1 AND {VISIBLE} \
         AND seq >= $5 AND seq <= $6 ORDER BY seq {order}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(seen.relationship.id.to_string())
        .bind(seen.me.account_id.to_string())
        .bind(from)
        .bind(until)
        .bind(low)
        .bind(high)
        .fetch_all(conn)
        .await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        items
            .last()
            .map(|i| encode_cursor(seen.relationship.id, i.seq))
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Deletes the caller's own item: the envelope goes, a tombstone with the
/// author's signed deletion (PROTOCOL.md §8.7) stays. The deletion must
/// name this relationship, item and caller and the current epoch, and
/// verify under the caller's current bundle — so that an honest client
/// cannot store one its peers would refuse. Deleting again is a no-op.
pub async fn delete(
    conn: &mut AnyConnection,
    seen: &Seen,
    item_id: ItemId,
    deletion: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let item = get(&mut *conn, seen, item_id).await?;
    // A former member signs nothing any more: the chain names them in no
    // current epoch, so their peers could not verify the deletion.
    if item.author_id != seen.me.account_id || !seen.me.is_current() {
        return Err(ApiError::Forbidden);
    }
    if item.deleted_ms.is_some() {
        return Ok(());
    }
    let invalid = |m: &str| ApiError::bad_request(ErrorCode::DeletionInvalid, m.to_owned());
    let record = ItemDeletion::decode(deletion)
        .map_err(|e| invalid(&format!("the deletion does not decode: {e}")))?;
    if i64::from(record.epoch().0) != seen.relationship.current_epoch {
        return Err(invalid(
            "the deletion names another epoch than the current one",
        ));
    }
    let author = key_directory::own(&mut *conn, seen.me.account_id)
        .await?
        .ok_or_else(|| ApiError::conflict(ErrorCode::KeysMissing, "publish your keys first"))?;
    let author = IdentityBundle::decode(&author.bundle)
        .map_err(|_| ApiError::Internal("a stored bundle does not decode".into()))?;
    let expected = DeletedItem {
        relationship_id: seen.relationship.id,
        item_id,
        author_id: seen.me.account_id,
    };
    record
        .verify(&expected, &author)
        .map_err(|e| invalid(&format!("the deletion does not prove this deletion: {e}")))?;
    sqlx::query(
        "UPDATE items SET envelope = NULL, deleted_ms = $1, deletion = $2 \
         WHERE relationship_id = $3 AND item_id = $4 AND deleted_ms IS NULL",
    )
    .bind(now)
    .bind(deletion.to_vec())
    .bind(seen.relationship.id.to_string())
    .bind(item_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// What an account wrote in one relationship, counted: for the right of
/// access (the server cannot read the items, so their metadata is all it
/// holds).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Written {
    /// The relationship.
    pub relationship_id: String,
    /// Items by kind: messages, documents, notes.
    pub kind: String,
    /// How many (deleted ones included: their row stays, without content).
    pub count: i64,
    /// Of which deleted.
    pub deleted: i64,
    /// Bytes of ciphertext still stored.
    pub bytes: i64,
    /// The first and last, Unix ms.
    pub first_ms: i64,
    /// The first and last, Unix ms.
    pub last_ms: i64,
}

/// Every relationship's items `author` wrote, by kind.
pub(crate) async fn written_by(
    conn: &mut AnyConnection,
    author: UserId,
) -> Result<Vec<Written>, ApiError> {
    let rows = sqlx::query(
        "SELECT relationship_id, kind, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(COALESCE(SUM(CASE WHEN deleted_ms IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) AS deleted, \
         CAST(COALESCE(SUM(LENGTH(envelope)), 0) AS BIGINT) AS bytes, \
         MIN(received_ms) AS first_ms, MAX(received_ms) AS last_ms \
         FROM items WHERE author_id = $1 GROUP BY relationship_id, kind \
         ORDER BY relationship_id, kind",
    )
    .bind(author.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Written {
                relationship_id: r.try_get("relationship_id")?,
                kind: r.try_get("kind")?,
                count: r.try_get("n")?,
                deleted: r.try_get("deleted")?,
                bytes: r.try_get("bytes")?,
                first_ms: r.try_get("first_ms")?,
                last_ms: r.try_get("last_ms")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_one_relationship() {
        let rel_a = RelationshipId::from_bytes([0xa; 16]);
        let rel_b = RelationshipId::from_bytes([0xb; 16]);
        let c = encode_cursor(rel_a, 42);
        assert_eq!(c, encode_cursor(rel_a.to_string(), 42));
        assert_eq!(decode_cursor(rel_a, &c).unwrap(), 42);
        assert!(decode_cursor(rel_b, &c).is_err());
        assert!(decode_cursor(rel_a, "!!!").is_err());
        assert!(decode_cursor(rel_a, &URL_SAFE_NO_PAD.encode(format!("{rel_a}:x"))).is_err());
    }
}
