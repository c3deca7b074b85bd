//! What coach and client keep, as ciphertext: the key directory and who
//! may see whose keys, relationships and their epochs, items and
//! attachments. The server checks shapes and membership; it never holds a
//! key.

pub mod attachments;
pub(crate) mod chain;
pub(crate) mod envelope;
pub mod items;
pub(crate) mod key_directory;
pub(crate) mod membership;
pub(crate) mod notes_keys;
pub(crate) mod peers;
pub(crate) mod relationships;
