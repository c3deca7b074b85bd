//! The dialogue: messages and document items shared in a relationship, and
//! the coach's private notes about it. Every listed item is opened and
//! checked — where the server put it against what its sealed header says,
//! the author against the signature and the pinned key, and the order
//! against the epochs and the authors' own clocks — before it is shown.

use std::collections::HashMap;

use kluis_crypto::attachment::DocumentDescription;
use kluis_crypto::deletion::{DeletedItem, ItemDeletion};
use kluis_crypto::ids::{Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{seal_item, seal_note, ItemKind, OpenedItem, SealedItem, SharedItemKind};
use kluis_crypto::notes::{NotesKey, SealedNotesKey};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use crate::api::{b64, unb64};
use crate::error::{Error, Result, Violation};
use crate::relationships::epoch_of;
use crate::session::Session;
use crate::wire::{EnvelopeUpload, ItemPage, ItemView, NotesKeyView, RelationshipView};

/// What a message or note holds inside its ciphertext (UTF-8 JSON). The
/// author's clock is sealed with it so that the order of one author's items
/// can be checked.
#[derive(Serialize, Deserialize)]
struct TextContent {
    text: String,
    sent_ms: i64,
}

/// A file shared in the dialogue, as its signed description tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentInfo {
    /// The attachment.
    pub attachment_id: String,
    /// The file name the author gave.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Plaintext size in bytes.
    pub size: u64,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryContent {
    /// A message.
    Message {
        /// Its text.
        text: String,
    },
    /// A shared file.
    Document(DocumentInfo),
    /// A coach-private note (only its coach ever sees it).
    Note {
        /// Its text.
        text: String,
    },
    /// The server reports it as deleted; only the fact remains. Nothing
    /// proves that its author deleted it (a server could hide an item this
    /// way, and items deleted before deletions were signed look the same),
    /// so it is shown as the server's report, never as the author's act.
    Deleted,
    /// Deleted by its author, as their signed deletion proves (PROTOCOL.md
    /// §8.7): verified with the key the membership chain names for them.
    DeletedByAuthor {
        /// When they deleted it, by their clock (Unix ms).
        deleted_ms: u64,
    },
    /// Written in an epoch whose key was wrapped to an earlier identity of
    /// this user (lost with it when the password was reset without the
    /// recovery key): shown as unreadable, never skipped.
    Unreadable,
}

/// A page of the dialogue, oldest first, and the cursor of the page
/// before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialoguePage {
    /// The entries, oldest first, each checked.
    pub entries: Vec<Entry>,
    /// The cursor for the entries before these, if there are any.
    pub older: Option<String>,
}

/// One verified entry of a relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The item id.
    pub item_id: String,
    /// Its place in the relationship (the server's sequence).
    pub seq: i64,
    /// The epoch (notes: the notes-key generation).
    pub epoch: u32,
    /// The author, as the signature proves.
    pub author: String,
    /// When the server received it, Unix ms.
    pub received_ms: i64,
    /// When the author wrote it by their clock, Unix ms (messages, notes).
    pub sent_ms: Option<i64>,
    /// The content.
    pub content: EntryContent,
}

pub(crate) fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

fn text_bytes(text: &str) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    serde_json::to_vec(&TextContent {
        text: text.to_owned(),
        sent_ms: now_ms(),
    })
    .map(zeroize::Zeroizing::new)
    .map_err(|e| Error::InvalidInput(e.to_string()))
}

fn text_of(item: &str, opened: &OpenedItem) -> Result<TextContent> {
    serde_json::from_slice(opened.content()).map_err(|_| {
        Violation::ItemCorrupt {
            item: item.to_owned(),
        }
        .into()
    })
}

impl Session {
    /// Sends a message to the relationship's current members.
    pub async fn send_message(&mut self, rid: RelationshipId, text: &str) -> Result<ItemId> {
        let content = text_bytes(text)?;
        self.put_shared(rid, SharedItemKind::Message, &content)
            .await
    }

    /// Seals `content` under the current epoch key and stores it.
    pub(crate) async fn put_shared(
        &mut self,
        rid: RelationshipId,
        kind: SharedItemKind,
        content: &[u8],
    ) -> Result<ItemId> {
        let (item_id, sealed) = self.seal_shared(rid, kind, content).await?;
        self.store_item(rid, item_id, &sealed).await
    }

    /// Seals `content` under the current epoch key as a new item, without
    /// storing it: a caller that may have to retry keeps the envelope and
    /// stores exactly it again (the server takes the same bytes twice as
    /// one item; a new seal would be a second one).
    pub(crate) async fn seal_shared(
        &mut self,
        rid: RelationshipId,
        kind: SharedItemKind,
        content: &[u8],
    ) -> Result<(ItemId, SealedItem)> {
        let view = self.relationship(rid).await?;
        // A peer's unaccepted key change stops sealing (key_change_guard.rs).
        self.refuse_unaccepted_key_changes(&view).await?;
        let epoch =
            u32::try_from(view.current_epoch).map_err(|_| Violation::Malformed("epoch".into()))?;
        let item_id = ItemId::random(&mut OsRng);
        self.ensure_epoch_key(&view, epoch).await?;
        let key = self.held_key(rid, epoch)?;
        let sealed = seal_item(&mut OsRng, key, item_id, kind, &self.identity, content)?;
        Ok((item_id, sealed))
    }

    /// Stores a sealed item (again, after a lost answer: the same bytes).
    pub(crate) async fn store_item(
        &self,
        rid: RelationshipId,
        item_id: ItemId,
        sealed: &SealedItem,
    ) -> Result<ItemId> {
        let _: serde_json::Value = self
            .api
            .put_bytes(
                &format!("/api/relationships/{rid}/items/{item_id}"),
                sealed.encode(),
            )
            .await?;
        Ok(item_id)
    }

    /// Deletes one of this user's own items: the server throws the
    /// envelope away and keeps a tombstone with this user's signed
    /// deletion, which proves to the other members that the author
    /// deleted it (PROTOCOL.md §8.7).
    pub async fn delete_item(&mut self, rid: RelationshipId, item: ItemId) -> Result<()> {
        let view = self.relationship(rid).await?;
        let epoch = Epoch(
            self.verified_chain(rid, epoch_of(view.current_epoch)?)
                .await?
                .head()
                .epoch()
                .0,
        );
        let deleted_ms = u64::try_from(now_ms()).unwrap_or(0);
        let deletion = ItemDeletion::sign(&self.identity, rid, item, epoch, deleted_ms);
        let _: serde_json::Value = self
            .api
            .delete_bytes(
                &format!("/api/relationships/{rid}/items/{item}"),
                deletion.encode(),
            )
            .await?;
        Ok(())
    }

    /// Writes a private note about the relationship (coaches).
    pub async fn add_note(&mut self, rid: RelationshipId, text: &str) -> Result<ItemId> {
        let content = text_bytes(text)?;
        let generation = self.current_notes_generation().await?;
        let key = self
            .notes_keys
            .get(&generation)
            .ok_or_else(|| Error::InvalidInput("no notes key".into()))?;
        let item_id = ItemId::random(&mut OsRng);
        let sealed = seal_note(&mut OsRng, key, rid, item_id, &self.identity, &content)?;
        self.store_item(rid, item_id, &sealed).await
    }

    /// Loads this coach's notes keys; creates generation 0 if there is none.
    async fn load_notes_keys(&mut self) -> Result<()> {
        let views: Vec<NotesKeyView> = self.api.get("/api/notes-keys").await?;
        for v in views {
            let generation = u32::try_from(v.generation)
                .map_err(|_| Violation::Malformed("notes key generation".into()))?;
            let invalid = || Violation::NotesKeyInvalid { generation };
            let sealed =
                SealedNotesKey::decode(&unb64("envelope", &v.envelope)?).map_err(|_| invalid())?;
            if sealed.coach_id() != self.me || sealed.generation() != Epoch(generation) {
                return Err(invalid().into());
            }
            let key = sealed.open(&self.identity).map_err(|_| invalid())?;
            self.notes_keys.insert(generation, key);
        }
        Ok(())
    }

    async fn current_notes_generation(&mut self) -> Result<u32> {
        if self.notes_keys.is_empty() {
            self.load_notes_keys().await?;
        }
        if self.notes_keys.is_empty() {
            let key = NotesKey::generate(&mut OsRng, self.me, Epoch(0));
            let sealed = key.seal(&mut OsRng, &self.identity)?;
            let _: serde_json::Value = self
                .api
                .put(
                    "/api/notes-keys/0",
                    &EnvelopeUpload {
                        envelope: b64(&sealed.encode()),
                    },
                )
                .await?;
            self.notes_keys.insert(0, key);
        }
        self.notes_keys
            .keys()
            .next_back()
            .copied()
            .ok_or_else(|| Error::InvalidInput("no notes key".into()))
    }

    /// Every item of the relationship this user may read, oldest first,
    /// each opened and checked. Any failed check fails the whole listing
    /// with the [`Violation`] found: nothing tampered is shown as genuine.
    pub async fn dialogue(&mut self, rid: RelationshipId) -> Result<Vec<Entry>> {
        let view = self.relationship(rid).await?;
        let mut raw: Vec<ItemView> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/relationships/{rid}/items?limit=100&before={c}"),
                None => format!("/api/relationships/{rid}/items?limit=100"),
            };
            let page: ItemPage = self.api.get(&path).await?;
            raw.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        raw.reverse();
        self.check_and_open(&view, raw).await
    }

    /// The newest `limit` entries (for following a conversation).
    pub async fn recent(&mut self, rid: RelationshipId, limit: u32) -> Result<Vec<Entry>> {
        Ok(self.dialogue_page(rid, None, limit).await?.entries)
    }

    /// One page of the dialogue, for reading it from the newest back:
    /// the newest `limit` entries, or with `older` (a page's
    /// [`DialoguePage::older`]) the `limit` before it. Each page is checked
    /// as [`Self::dialogue`] checks the whole; `before_seq` (the oldest
    /// place already shown) makes the server's pages join: an entry at or
    /// after it is [`Violation::OutOfOrder`].
    pub async fn dialogue_page(
        &mut self,
        rid: RelationshipId,
        older: Option<(&str, i64)>,
        limit: u32,
    ) -> Result<DialoguePage> {
        let view = self.relationship(rid).await?;
        let path = match older {
            Some((cursor, _)) => {
                format!("/api/relationships/{rid}/items?limit={limit}&before={cursor}")
            }
            None => format!("/api/relationships/{rid}/items?limit={limit}"),
        };
        let page: ItemPage = self.api.get(&path).await?;
        let mut raw = page.items;
        if let Some((_, before_seq)) = older {
            if let Some(item) = raw.iter().find(|i| i.seq >= before_seq) {
                return Err(Violation::OutOfOrder {
                    item: item.item_id.clone(),
                }
                .into());
            }
        }
        raw.reverse();
        Ok(DialoguePage {
            entries: self.check_and_open(&view, raw).await?,
            older: page.next,
        })
    }

    async fn check_and_open(
        &mut self,
        view: &RelationshipView,
        raw: Vec<ItemView>,
    ) -> Result<Vec<Entry>> {
        let mut entries = Vec::with_capacity(raw.len());
        let mut last_seq = i64::MIN;
        let mut last_epoch = 0u32;
        let mut last_sent: HashMap<String, i64> = HashMap::new();
        for item in raw {
            if item.seq <= last_seq {
                return Err(Violation::OutOfOrder { item: item.item_id }.into());
            }
            last_seq = item.seq;
            let entry = self.open_listed(view, &item).await?;
            if !matches!(
                entry.content,
                EntryContent::Note { .. }
                    | EntryContent::Deleted
                    | EntryContent::DeletedByAuthor { .. }
                    | EntryContent::Unreadable
            ) {
                if entry.epoch < last_epoch {
                    return Err(Violation::OutOfOrder { item: item.item_id }.into());
                }
                last_epoch = entry.epoch;
            }
            if let Some(sent) = entry.sent_ms {
                if last_sent
                    .get(&entry.author)
                    .is_some_and(|&prev| sent < prev)
                {
                    return Err(Violation::OutOfOrder { item: item.item_id }.into());
                }
                last_sent.insert(entry.author.clone(), sent);
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Opens one listed item after checking its sealed header against the
    /// listing.
    pub(crate) async fn open_listed(
        &mut self,
        view: &RelationshipView,
        item: &ItemView,
    ) -> Result<Entry> {
        Ok(self.open_item(view, item).await?.0)
    }

    /// [`Self::open_listed`], also returning a document's description (with
    /// its file key).
    async fn open_item(
        &mut self,
        view: &RelationshipView,
        item: &ItemView,
    ) -> Result<(Entry, Option<DocumentDescription>)> {
        let rid = view.id()?;
        let listed_epoch =
            u32::try_from(item.epoch).map_err(|_| Violation::Malformed("item epoch".into()))?;
        let mut entry = Entry {
            item_id: item.item_id.clone(),
            seq: item.seq,
            epoch: listed_epoch,
            author: item.author_id.clone(),
            received_ms: item.received_ms,
            sent_ms: None,
            content: EntryContent::Deleted,
        };
        if item.deleted {
            entry.content = self.tombstone(rid, item, listed_epoch).await?;
            return Ok((entry, None));
        }
        let corrupt = || Violation::ItemCorrupt {
            item: item.item_id.clone(),
        };
        let envelope = item.envelope.as_deref().ok_or_else(corrupt)?;
        let sealed = SealedItem::decode(&unb64("envelope", envelope)?).map_err(|_| corrupt())?;
        let header = *sealed.header();
        let moved = |found: String| Violation::ItemMoved {
            item: item.item_id.clone(),
            found,
        };
        if header.relationship_id != rid {
            return Err(moved(format!("relationship {}", header.relationship_id)).into());
        }
        if header.item_id.to_string() != item.item_id {
            return Err(moved(format!("item id {}", header.item_id)).into());
        }
        if header.epoch.0 != listed_epoch {
            return Err(moved(format!("epoch {}", header.epoch.0)).into());
        }
        if header.author_id.to_string() != item.author_id {
            return Err(Violation::AuthorMismatch {
                item: item.item_id.clone(),
                listed: item.author_id.clone(),
                sealed: header.author_id.to_string(),
            }
            .into());
        }
        let kind_name = match header.kind {
            ItemKind::Message => "message",
            ItemKind::Document => "document",
            ItemKind::Note => "note",
        };
        if kind_name != item.kind {
            return Err(moved(format!("kind {kind_name}")).into());
        }
        let author = header.author_id;
        let opened = if header.kind == ItemKind::Note {
            if author != self.me {
                return Err(corrupt().into());
            }
            if !self.notes_keys.contains_key(&header.epoch.0) {
                self.load_notes_keys().await?;
            }
            let key = self.notes_keys.get(&header.epoch.0).ok_or_else(corrupt)?;
            sealed
                .open_note(key, rid, header.item_id, self.identity.bundle())
                .map_err(|_| corrupt())?
        } else {
            self.ensure_epoch_key(view, header.epoch.0).await?;
            if self.lost_epochs.contains(&(rid, header.epoch.0)) {
                entry.content = EntryContent::Unreadable;
                return Ok((entry, None));
            }
            // The author's key is the one the membership chain names for
            // them in this epoch: a key they replaced verifies nothing later.
            let bundle = self
                .chain_bundle(rid, header.epoch.0, author, "the author")
                .await?;
            let key = self.held_key(rid, header.epoch.0)?;
            sealed
                .open(key, header.item_id, &bundle)
                .map_err(|_| corrupt())?
        };
        let mut description = None;
        entry.content = match header.kind {
            ItemKind::Message | ItemKind::Note => {
                let text = text_of(&item.item_id, &opened)?;
                entry.sent_ms = Some(text.sent_ms);
                if header.kind == ItemKind::Note {
                    EntryContent::Note { text: text.text }
                } else {
                    EntryContent::Message { text: text.text }
                }
            }
            ItemKind::Document => {
                let d = DocumentDescription::decode(opened.content()).map_err(|_| corrupt())?;
                let info = DocumentInfo {
                    attachment_id: d.attachment_id.to_string(),
                    name: d.name.clone(),
                    media_type: d.media_type.clone(),
                    size: d.size,
                };
                description = Some(d);
                EntryContent::Document(info)
            }
        };
        Ok((entry, description))
    }

    /// What a tombstone proves: with a deletion that verifies, that its
    /// author deleted it; without one, only that the server says so.
    async fn tombstone(
        &mut self,
        rid: RelationshipId,
        item: &ItemView,
        listed_epoch: u32,
    ) -> Result<EntryContent> {
        let Some(deletion) = item.deletion.as_deref() else {
            return Ok(EntryContent::Deleted);
        };
        let forged = |reason: String| Violation::DeletionForged {
            item: item.item_id.clone(),
            reason,
        };
        let deletion = ItemDeletion::decode(&unb64("deletion", deletion)?)
            .map_err(|e| forged(e.to_string()))?;
        let expected = DeletedItem {
            relationship_id: rid,
            item_id: parse_item_id(&item.item_id)
                .map_err(|_| Violation::Malformed("item id".into()))?,
            author_id: parse_user_id(&item.author_id)
                .map_err(|_| Violation::Malformed("item author".into()))?,
        };
        deletion
            .check_names(&expected)
            .map_err(|e| forged(e.to_string()))?;
        // A note's epoch is its notes generation, not a relationship epoch.
        if item.kind != "note" && deletion.epoch().0 < listed_epoch {
            return Err(forged("it is dated before the item's epoch".into()).into());
        }
        let bundle = self
            .chain_bundle(
                rid,
                deletion.epoch().0,
                expected.author_id,
                "the deleting author",
            )
            .await?;
        deletion
            .verify(&expected, &bundle)
            .map_err(|e| forged(e.to_string()))?;
        Ok(EntryContent::DeletedByAuthor {
            deleted_ms: deletion.deleted_ms(),
        })
    }

    /// The document description of item `item` (with its file key).
    pub(crate) async fn document(
        &mut self,
        rid: RelationshipId,
        item: ItemId,
    ) -> Result<DocumentDescription> {
        let view = self.relationship(rid).await?;
        let listed: ItemView = self
            .api
            .get(&format!("/api/relationships/{rid}/items/{item}"))
            .await?;
        if listed.item_id != item.to_string() {
            return Err(Violation::ItemMoved {
                item: item.to_string(),
                found: format!("item id {}", listed.item_id),
            }
            .into());
        }
        self.open_item(&view, &listed)
            .await?
            .1
            .ok_or_else(|| Error::InvalidInput(format!("item {item} is not a shared file")))
    }
}

/// Parses an account id typed or passed in.
pub fn parse_user_id(id: &str) -> Result<UserId> {
    id.trim()
        .parse()
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not an account id")))
}

/// Parses a relationship id typed or passed in.
pub fn parse_relationship_id(id: &str) -> Result<RelationshipId> {
    id.trim()
        .parse()
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not a relationship id")))
}

/// Parses an item id typed or passed in.
pub fn parse_item_id(id: &str) -> Result<ItemId> {
    id.trim()
        .parse()
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not an item id")))
}
