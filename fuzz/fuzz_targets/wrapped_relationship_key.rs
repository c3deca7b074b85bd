//! Fuzz target: wrapped relationship key (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::membership::RecordHash;
use kluis_crypto::relationship::WrappedRelationshipKey;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    if let Ok(w) = WrappedRelationshipKey::decode(data) {
        assert_eq!(w.encode(), data);
        let f = fixture::get();
        // The fixture never wrapped anything: nothing may open.
        assert!(w.unwrap(&f.client, f.coach.bundle(), w.relationship_id(), w.epoch(), &RecordHash([0; 32])).is_err());
    }
});
