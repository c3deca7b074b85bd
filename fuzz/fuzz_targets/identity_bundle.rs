//! Fuzz target: identity bundle (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::identity::IdentityBundle;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = IdentityBundle::decode(data) {
        assert_eq!(b.encode(), data);
        let _ = b.fingerprint();
    }
});
