//! Protocol version (PROTOCOL.md §1.2).
//!
//! Every envelope starts with this byte and every key-derivation label
//! carries `v1`. A future algorithm change is a new version: decoders reject
//! versions they do not know instead of guessing.

/// The only protocol version this crate produces and accepts.
pub const PROTOCOL_VERSION: u8 = 1;
