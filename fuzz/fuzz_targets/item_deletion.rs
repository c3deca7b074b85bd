//! Fuzz target: signed item deletion (untrusted bytes from the server).
#![no_main]

use kluis_crypto::deletion::ItemDeletion;
use libfuzzer_sys::fuzz_target;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = ItemDeletion::decode(data) {
        assert_eq!(d.encode(), data);
        // No fuzzed deletion carries the coach's signature.
        let f = fixture::get();
        assert!(d.verify(&d.item(), f.coach.bundle()).is_err());
    }
});
