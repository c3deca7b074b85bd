//! What a client remembers between runs, and where it keeps it.
//!
//! [`LocalState`] holds the peers' pinned identity keys and the highest
//! epoch seen per relationship: the client's defence against a server that
//! substitutes a key or rolls a relationship back. It is serialised as JSON
//! and sealed under the login's [`LocalStoreKey`] (PROTOCOL.md §4.3) before
//! a [`StateStore`] gets it, so a store only ever holds ciphertext.

use std::collections::BTreeMap;
use std::sync::Mutex;

use kluis_crypto::ids::UserId;
use kluis_crypto::key_schedule::LocalStoreKey;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A peer's pinned identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pin {
    /// The pinned bundle (base64 of the canonical encoding).
    pub bundle: String,
    /// Its fingerprint (hex), for messages.
    pub fingerprint: String,
    /// Whether the user compared the safety number and said it matched.
    pub verified: bool,
    /// Bundles this peer used before (base64): items they signed then
    /// still verify, but nothing new is wrapped to them.
    #[serde(default)]
    pub previous: Vec<String>,
}

/// A peer's key that changed; kept until the user re-verifies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyChange {
    /// The peer.
    pub user: String,
    /// The pinned fingerprint (hex).
    pub pinned: String,
    /// The fingerprint offered now (hex).
    pub offered: String,
    /// The offered bundle (base64), pinned if the user accepts it.
    pub offered_bundle: String,
}

/// The last membership record this client verified for a relationship
/// (PROTOCOL.md §7.6.3): a later chain must contain it unchanged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChainHead {
    /// Its epoch.
    pub epoch: u32,
    /// Its record hash (hex).
    pub hash: String,
}

/// Everything a client keeps between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalState {
    /// Pinned identities by user id.
    #[serde(default)]
    pub pins: BTreeMap<String, Pin>,
    /// Highest epoch seen by relationship id.
    #[serde(default)]
    pub epochs: BTreeMap<String, u32>,
    /// Key changes not yet accepted, by user id.
    #[serde(default)]
    pub key_changes: BTreeMap<String, KeyChange>,
    /// The last verified membership record by relationship id.
    #[serde(default)]
    pub chains: BTreeMap<String, ChainHead>,
    /// Key changes the user chose to decide on later, by user id: the
    /// offered fingerprint (hex) the deferral is for. Sending goes on
    /// meanwhile (`key_change_guard.rs`).
    #[serde(default)]
    pub deferred_key_changes: BTreeMap<String, String>,
    /// By relationship id: the epoch up to which the user has seen who
    /// joined (a page shows later joins until they are acknowledged).
    #[serde(default)]
    pub acknowledged_joins: BTreeMap<String, u32>,
}

impl LocalState {
    /// Seals the state for `user`.
    pub fn seal(&self, key: &LocalStoreKey, user: &UserId) -> Result<Vec<u8>> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(self).map_err(|e| Error::LocalStore(e.to_string()))?,
        );
        Ok(key.seal_store(&mut rand::rngs::OsRng, user, &json)?)
    }

    /// Opens a sealed state of `user`.
    pub fn open(key: &LocalStoreKey, user: &UserId, sealed: &[u8]) -> Result<Self> {
        let json = key.open_store(user, sealed).map_err(|e| {
            Error::LocalStore(format!(
                "{e} (it belongs to another account, was changed, or the password changed since it was written)"
            ))
        })?;
        serde_json::from_slice(&json).map_err(|e| Error::LocalStore(e.to_string()))
    }
}

/// Where sealed local state lives: memory, a file, browser storage.
pub trait StateStore: Send + Sync {
    /// The sealed state of `user`, if any was saved.
    fn load(&self, user: &UserId) -> Result<Option<Vec<u8>>>;
    /// Replaces the sealed state of `user`.
    fn save(&self, user: &UserId, sealed: &[u8]) -> Result<()>;
    /// Forgets the state of `user` (the account was deleted).
    fn remove(&self, user: &UserId) -> Result<()>;
    /// Whether this store ever held state for `user`: a store that had
    /// state and has none now lost it, and the session refuses to start
    /// afresh on its own ([`crate::Error::LocalStoreMissing`]).
    fn had_state(&self, _user: &UserId) -> Result<bool> {
        Ok(false)
    }
    /// Moves the state of `user` out of the way, kept, so that a fresh one
    /// can start (a new identity, or the user's explicit decision).
    fn set_aside(&self, user: &UserId) -> Result<()> {
        self.remove(user)
    }
}

/// A store in memory, for one process (tests, the browser page).
#[derive(Debug, Default)]
pub struct MemoryStore {
    sealed: Mutex<BTreeMap<UserId, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StateStore for MemoryStore {
    fn load(&self, user: &UserId) -> Result<Option<Vec<u8>>> {
        let map = self
            .sealed
            .lock()
            .map_err(|_| Error::LocalStore("store lock poisoned".into()))?;
        Ok(map.get(user).cloned())
    }

    fn save(&self, user: &UserId, sealed: &[u8]) -> Result<()> {
        let mut map = self
            .sealed
            .lock()
            .map_err(|_| Error::LocalStore("store lock poisoned".into()))?;
        map.insert(*user, sealed.to_vec());
        Ok(())
    }

    fn remove(&self, user: &UserId) -> Result<()> {
        let mut map = self
            .sealed
            .lock()
            .map_err(|_| Error::LocalStore("store lock poisoned".into()))?;
        map.remove(user);
        Ok(())
    }
}

/// One change to persist from a [`SnapshotStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreWrite {
    /// Replace the sealed state of `user` (and remember that it had one).
    Save {
        /// The account.
        user: UserId,
        /// Its sealed state (ciphertext, §4.3).
        sealed: Vec<u8>,
    },
    /// Forget the state of `user` and that it had one (account deleted).
    Remove {
        /// The account.
        user: UserId,
    },
    /// Move the state of `user` aside, kept (a new identity, or the
    /// user's decision to start afresh); remember that it had one.
    SetAside {
        /// The account.
        user: UserId,
    },
}

#[derive(Debug, Default)]
struct Snapshot {
    sealed: BTreeMap<UserId, Vec<u8>>,
    kept: std::collections::BTreeSet<UserId>,
    fresh: bool,
    writes: Vec<StoreWrite>,
}

/// A store whose contents live somewhere this code cannot reach
/// synchronously — the browser's IndexedDB: loaded whole when the page
/// starts, every change queued as a [`StoreWrite`] that the page persists
/// ([`SnapshotStore::take_writes`]). Like [`FileStore`], it remembers which
/// accounts had a state, so that a state that went missing is reported
/// rather than silently replaced.
#[derive(Debug, Default)]
pub struct SnapshotStore {
    inner: Mutex<Snapshot>,
}

impl SnapshotStore {
    /// A store holding `sealed` states, for which `kept` lists every
    /// account that ever had one on this device.
    pub fn new(
        sealed: impl IntoIterator<Item = (UserId, Vec<u8>)>,
        kept: impl IntoIterator<Item = UserId>,
    ) -> Self {
        let sealed: BTreeMap<UserId, Vec<u8>> = sealed.into_iter().collect();
        let mut kept: std::collections::BTreeSet<UserId> = kept.into_iter().collect();
        kept.extend(sealed.keys().copied());
        Self {
            inner: Mutex::new(Snapshot {
                sealed,
                kept,
                ..Snapshot::default()
            }),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Snapshot>> {
        self.inner
            .lock()
            .map_err(|_| Error::LocalStore("store lock poisoned".into()))
    }

    /// The user's explicit decision to start afresh, for the next login:
    /// a state that is there is set aside (kept), a missing one is not
    /// reported, and every peer is pinned anew.
    pub fn start_fresh(&self) -> Result<()> {
        self.lock()?.fresh = true;
        Ok(())
    }

    /// The changes since the last call, oldest first, to persist in order.
    pub fn take_writes(&self) -> Result<Vec<StoreWrite>> {
        Ok(std::mem::take(&mut self.lock()?.writes))
    }
}

impl StateStore for SnapshotStore {
    fn load(&self, user: &UserId) -> Result<Option<Vec<u8>>> {
        if self.lock()?.fresh {
            self.set_aside(user)?;
            return Ok(None);
        }
        Ok(self.lock()?.sealed.get(user).cloned())
    }

    fn had_state(&self, user: &UserId) -> Result<bool> {
        let snapshot = self.lock()?;
        Ok(!snapshot.fresh && snapshot.kept.contains(user))
    }

    fn save(&self, user: &UserId, sealed: &[u8]) -> Result<()> {
        let mut snapshot = self.lock()?;
        // The fresh start ends with the first state written.
        snapshot.fresh = false;
        snapshot.sealed.insert(*user, sealed.to_vec());
        snapshot.kept.insert(*user);
        snapshot.writes.push(StoreWrite::Save {
            user: *user,
            sealed: sealed.to_vec(),
        });
        Ok(())
    }

    fn remove(&self, user: &UserId) -> Result<()> {
        let mut snapshot = self.lock()?;
        snapshot.sealed.remove(user);
        snapshot.kept.remove(user);
        snapshot.writes.push(StoreWrite::Remove { user: *user });
        Ok(())
    }

    fn set_aside(&self, user: &UserId) -> Result<()> {
        let mut snapshot = self.lock()?;
        if snapshot.sealed.remove(user).is_some() {
            snapshot.writes.push(StoreWrite::SetAside { user: *user });
        }
        Ok(())
    }
}

/// A store in a directory: one file per account, written atomically
/// (temporary file, then rename) and readable by the owner only, and a
/// marker that the account had a store here, so that a deleted store is
/// noticed rather than silently replaced.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: std::path::PathBuf,
    fresh: bool,
}

#[cfg(not(target_arch = "wasm32"))]
impl FileStore {
    /// A store in `dir` (created if missing).
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, fresh: false })
    }

    /// The user's explicit decision to start afresh: the next load sets a
    /// store that is there aside (renamed, kept) and every peer is pinned
    /// anew; a missing store is not reported.
    pub fn start_fresh(mut self) -> Self {
        self.fresh = true;
        self
    }

    fn path(&self, user: &UserId) -> std::path::PathBuf {
        self.dir.join(format!("{user}.kluisstore"))
    }

    fn marker(&self, user: &UserId) -> std::path::PathBuf {
        self.dir.join(format!("{user}.kluisstore-kept"))
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl StateStore for FileStore {
    fn load(&self, user: &UserId) -> Result<Option<Vec<u8>>> {
        if self.fresh {
            self.set_aside(user)?;
            return Ok(None);
        }
        match std::fs::read(self.path(user)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn had_state(&self, user: &UserId) -> Result<bool> {
        Ok(!self.fresh && self.marker(user).exists())
    }

    fn set_aside(&self, user: &UserId) -> Result<()> {
        let path = self.path(user);
        if path.exists() {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            std::fs::rename(
                &path,
                path.with_extension(format!("kluisstore-set-aside-{ms}")),
            )?;
        }
        Ok(())
    }

    fn save(&self, user: &UserId, sealed: &[u8]) -> Result<()> {
        use std::io::Write as _;
        let path = self.path(user);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(sealed)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &path)?;
        if !self.marker(user).exists() {
            std::fs::write(self.marker(user), b"")?;
        }
        Ok(())
    }

    fn remove(&self, user: &UserId) -> Result<()> {
        for path in [self.path(user), self.marker(user)] {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u8) -> UserId {
        UserId::from_bytes([n; 16])
    }

    #[test]
    fn a_snapshot_store_queues_its_changes_and_remembers_who_had_state() {
        let store = SnapshotStore::new([(user(1), vec![1, 2])], [user(2)]);
        assert_eq!(store.load(&user(1)).unwrap(), Some(vec![1, 2]));
        // Had one, lost it: reported by the session, not silently replaced.
        assert_eq!(store.load(&user(2)).unwrap(), None);
        assert!(store.had_state(&user(2)).unwrap());
        assert!(!store.had_state(&user(3)).unwrap());
        store.save(&user(3), &[9]).unwrap();
        assert!(store.had_state(&user(3)).unwrap());
        store.remove(&user(1)).unwrap();
        assert!(!store.had_state(&user(1)).unwrap());
        assert_eq!(
            store.take_writes().unwrap(),
            [
                StoreWrite::Save {
                    user: user(3),
                    sealed: vec![9]
                },
                StoreWrite::Remove { user: user(1) },
            ]
        );
        assert!(store.take_writes().unwrap().is_empty());
    }

    #[test]
    fn starting_fresh_sets_the_old_state_aside_once() {
        let store = SnapshotStore::new([(user(1), vec![1])], []);
        store.start_fresh().unwrap();
        assert_eq!(store.load(&user(1)).unwrap(), None);
        assert!(!store.had_state(&user(1)).unwrap());
        store.save(&user(1), &[2]).unwrap();
        assert_eq!(
            store.take_writes().unwrap(),
            [
                StoreWrite::SetAside { user: user(1) },
                StoreWrite::Save {
                    user: user(1),
                    sealed: vec![2]
                },
            ]
        );
        // The decision was for one login: a state lost later is reported.
        assert_eq!(store.load(&user(1)).unwrap(), Some(vec![2]));
        assert!(store.had_state(&user(1)).unwrap());
    }
}
