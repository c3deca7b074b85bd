//! Safety numbers (PROTOCOL.md §11).
//!
//! Two people compare one 60-digit number, aloud or by scanning a QR code,
//! to check that each holds the other's real identity keys. For each bundle:
//!
//! `d = SHA-256(SAFETY_NUMBER_LABEL ‖ 0x00 ‖ bundle_body)` (32 bytes), and
//! its 30 digits are, for each of the first six 5-byte groups `g` of `d`,
//! `g` read as a big-endian integer modulo 100 000, written as five digits.
//!
//! The two digests are ordered bytewise; the number is the 30 digits of the
//! smaller followed by the 30 of the larger, so both people see the same
//! number whichever way round it is computed. The QR payload is
//! `version ‖ 0x08 ‖ d_small ‖ d_large` (66 bytes) and is compared exactly.
//!
//! Each half carries ~99.7 bits (30 digits): finding another key pair whose
//! half matches is a second-preimage search of that size, so unlike Signal
//! (whose halves are ~100 bits too, but from iterated SHA-512 over a key
//! that may be chosen) no iteration is needed to slow an attacker down.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::encoding::{EnvelopeType, Writer};
use crate::identity::IdentityBundle;

/// Prefix of the safety-number hash input.
pub const SAFETY_NUMBER_LABEL: &str = "kluis/v1/safety-number";
/// Number of digits in a safety number.
pub const SAFETY_NUMBER_DIGITS: usize = 60;

/// The safety number of a pair of identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyNumber {
    digits: String,
    qr_payload: Vec<u8>,
}

fn digest(bundle: &IdentityBundle) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SAFETY_NUMBER_LABEL.as_bytes());
    h.update([0u8]);
    h.update(bundle.body());
    h.finalize().into()
}

fn digits_of(d: &[u8; 32], out: &mut String) {
    for group in d.chunks_exact(5).take(6) {
        let value = group.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        out.push_str(&format!("{:05}", value % 100_000));
    }
}

impl SafetyNumber {
    /// The safety number of `a` and `b`; `of(a, b) == of(b, a)`.
    pub fn of(a: &IdentityBundle, b: &IdentityBundle) -> Self {
        let (da, db) = (digest(a), digest(b));
        let (low, high) = if da <= db { (da, db) } else { (db, da) };
        let mut digits = String::with_capacity(SAFETY_NUMBER_DIGITS);
        digits_of(&low, &mut digits);
        digits_of(&high, &mut digits);
        let mut w = Writer::with_capacity(EnvelopeType::SafetyNumber, 66);
        w.fixed(&low).fixed(&high);
        Self {
            digits,
            qr_payload: w.finish(),
        }
    }

    /// The 60 digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The digits in 12 groups of five, separated by spaces, for display.
    pub fn display_groups(&self) -> String {
        self.digits
            .as_bytes()
            .chunks(5)
            .map(|g| String::from_utf8_lossy(g).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The bytes to put in a QR code.
    pub fn qr_payload(&self) -> &[u8] {
        &self.qr_payload
    }

    /// Compares a scanned QR payload with this number, in constant time.
    pub fn matches_qr_payload(&self, scanned: &[u8]) -> bool {
        self.qr_payload.ct_eq(scanned).into()
    }
}
