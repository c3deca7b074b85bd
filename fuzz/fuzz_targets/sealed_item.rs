//! Fuzz target: sealed item (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::item::SealedItem;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SealedItem::decode(data) {
        assert_eq!(s.encode(), data);
        let f = fixture::get();
        let h = *s.header();
        let key = kluis_crypto::relationship::RelationshipKey::from_parts(
            h.relationship_id, h.epoch, kluis_crypto::relationship::EpochKeyBytes::from_secret_bytes([7; 32]));
        let _ = s.open(&key, h.item_id, f.client.bundle());
    }
});
