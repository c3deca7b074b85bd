//! Fuzz target: membership record (untrusted bytes from the server).
#![no_main]

use kluis_crypto::membership::MembershipRecord;
use libfuzzer_sys::fuzz_target;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = MembershipRecord::decode(data) {
        assert_eq!(r.encode(), data);
        // Whatever decodes, nobody's key signs it unless it is real: a
        // record the fuzzer made is never a valid opening by the coach.
        let f = fixture::get();
        assert!(r.verify_opening(f.coach.bundle()).is_err());
        let _ = r.verify_successor(&r, f.client.bundle());
        let _ = r.hash();
    }
});
