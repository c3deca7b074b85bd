//! Fuzz target: sealed notes key (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::notes::SealedNotesKey;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SealedNotesKey::decode(data) {
        assert_eq!(s.encode(), data);
        assert!(s.open(&fixture::get().coach).is_err());
    }
});
