//! Fuzz target: sealed identity (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::identity::SealedIdentity;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SealedIdentity::decode(data) {
        assert_eq!(s.encode(), data);
        let f = fixture::get();
        assert!(s.open_with_password(&f.export_key, s.user_id()).is_err());
    }
});
