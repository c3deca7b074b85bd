//! Fuzz target: opaque server messages (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::opaque;
use rand_chacha::rand_core::SeedableRng;
#[path = "../fixture.rs"]
mod fixture;

fuzz_target!(|data: &[u8]| {
    // Everything a client sends the server during OPAQUE.
    let f = fixture::get();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    let _ = opaque::server_registration_start(&f.setup, data, b"credential");
    let _ = opaque::server_registration_finish(data);
    let _ = opaque::server_login_start(&mut rng, &f.setup, None, data, b"credential");
    let _ = opaque::ServerLoginState::from_secret_bytes(data);
    if let Ok((_, state)) = opaque::server_login_start(&mut rng, &f.setup, None, &f.ke1, b"credential") {
        assert!(state.finish(data).is_err());
    }
});
