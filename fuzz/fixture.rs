//! Keys shared by the fuzz targets, made once from a fixed seed.
#![allow(dead_code)]

use std::sync::OnceLock;

use kluis_crypto::identity::IdentityKeyPair;
use kluis_crypto::ids::UserId;
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::opaque::{self, ServerSetupKey};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub struct Fixture {
    pub coach: IdentityKeyPair,
    pub client: IdentityKeyPair,
    pub export_key: ExportKey,
    pub setup: ServerSetupKey,
    pub ke1: Vec<u8>,
}

pub fn get() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let coach = IdentityKeyPair::generate(&mut rng, UserId::from_bytes([1; 16]));
        let client = IdentityKeyPair::generate(&mut rng, UserId::from_bytes([2; 16]));
        let export_key = ExportKey::generate(&mut rng);
        let setup = ServerSetupKey::generate(&mut rng);
        let (ke1, _) = opaque::client_login_start(&mut rng, b"Password1").expect("login start");
        Fixture { coach, client, export_key, setup, ke1 }
    })
}
