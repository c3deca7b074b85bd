//! The Kluis protocol (`docs/PROTOCOL.md`): key hierarchy, key wrapping,
//! content encryption, envelopes and safety numbers.
//!
//! This crate is pure: it performs no I/O of its own, reads no clock, keeps no
//! global state and takes all randomness from a caller-supplied
//! [`rand_core::CryptoRng`]. The only `std::io` it touches is the
//! [`std::io::Read`]/[`std::io::Write`] pair a caller hands to the attachment
//! streaming helpers. It contains no primitive of its own: every algorithm
//! comes from a maintained RustCrypto/dalek/opaque-ke/hpke crate and is
//! composed here as the specification describes.
//!
//! Map from specification sections to modules:
//!
//! | PROTOCOL.md section | module |
//! |---|---|
//! | 2 Encoding and envelopes | [`encoding`], [`ids`] |
//! | 3 OPAQUE configuration | [`opaque`] |
//! | 4 Key schedule | [`key_schedule`] |
//! | 5 Identity | [`identity`] |
//! | 6 Recovery key | [`recovery`] |
//! | 7 Relationship keys | [`relationship`] |
//! | 7.6 Membership chain | [`membership`] |
//! | 8 Items | [`item`] |
//! | 9 Attachments | [`attachment`] |
//! | 10 Coach-private notes | [`notes`] |
//! | 4.3 Local store | [`local_store`] |
//! | 11 Safety numbers | [`fingerprint`] |
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod attachment;
pub mod deletion;
pub mod encoding;
mod error;
pub mod fingerprint;
mod hpke_auth;
pub mod identity;
pub mod ids;
pub mod item;
pub mod key_schedule;
pub mod local_store;
pub mod membership;
pub mod notes;
pub mod opaque;
pub mod recovery;
pub mod relationship;
mod secret;
mod symmetric;
mod version;

pub use error::{Error, Result};
pub use version::PROTOCOL_VERSION;

/// Re-exported so that callers name the same trait versions as this crate.
pub use rand_core;

#[doc(hidden)]
pub mod __internal {
    //! Thin, stable entry points into private modules so that the standard
    //! test vectors (RFC 9180, XChaCha20 draft, Wycheproof) run through the
    //! exact code paths the protocol uses. Not part of the public API.
    pub use crate::hpke_auth::{open as hpke_auth_open, seal as hpke_auth_seal};
    pub use crate::key_schedule::hkdf_sha256_raw;

    /// `derive` of PROTOCOL.md §4.1, for the vector generator; the output
    /// is wiped when dropped.
    pub fn derive(
        ikm: &[u8],
        label: &str,
        context: &[&[u8]],
    ) -> crate::Result<zeroize::Zeroizing<[u8; 32]>> {
        crate::key_schedule::derive(ikm, label, context).map(|k| zeroize::Zeroizing::new(*k))
    }
    pub use crate::symmetric::{xchacha_open, xchacha_seal};
}
