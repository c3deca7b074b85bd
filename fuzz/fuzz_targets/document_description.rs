//! Fuzz target: document description (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::attachment::DocumentDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = DocumentDescription::decode(data) {
        assert_eq!(&d.encode().expect("a decoded description re-encodes")[..], data);
    }
});
