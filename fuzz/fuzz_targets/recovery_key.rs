//! Fuzz target: recovery key (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::recovery::RecoveryKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(k) = RecoveryKey::parse(text) {
            assert_eq!(RecoveryKey::parse(&k.to_display_string()).expect("round trip"), k);
        }
        let _ = text.parse::<kluis_crypto::ids::UserId>();
    }
});
