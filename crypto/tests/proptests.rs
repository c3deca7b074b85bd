//! Property tests: round trips for arbitrary sizes and ids, every single-bit
//! change rejected, decode(encode(x)) == x, and no decoder panics on
//! arbitrary bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kluis_crypto::attachment::{self, AttachmentHeader, AttachmentKey, DocumentDescription};
use kluis_crypto::identity::{IdentityBundle, IdentityKeyPair, SealedIdentity};
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{self, SealedItem, SharedItemKind};
use kluis_crypto::membership::RecordHash;
use kluis_crypto::notes::SealedNotesKey;
use kluis_crypto::recovery::RecoveryKey;
use kluis_crypto::relationship::{RelationshipKey, WrappedRelationshipKey};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::OnceLock;

struct Fixture {
    coach: IdentityKeyPair,
    client: IdentityKeyPair,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (coach_id, client_id) = (UserId::random(&mut rng), UserId::random(&mut rng));
        Fixture {
            coach: IdentityKeyPair::generate(&mut rng, coach_id),
            client: IdentityKeyPair::generate(&mut rng, client_id),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn item_round_trip_and_every_bit_matters(
        seed in any::<u64>(),
        rel in any::<[u8; 16]>(),
        item_id in any::<[u8; 16]>(),
        epoch in any::<u32>(),
        content in proptest::collection::vec(any::<u8>(), 0..3000),
        document in any::<bool>(),
        flip_at in any::<prop::sample::Index>(),
        flip_bit in 0u8..8,
    ) {
        let f = fixture();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let key = RelationshipKey::generate(&mut rng, RelationshipId::from_bytes(rel), Epoch(epoch));
        let kind = if document { SharedItemKind::Document } else { SharedItemKind::Message };
        let id = ItemId::from_bytes(item_id);
        let sealed = item::seal_item(&mut rng, &key, id, kind, &f.client, &content).unwrap();
        let bytes = sealed.encode();
        let decoded = SealedItem::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &sealed);
        prop_assert_eq!(decoded.encode(), bytes.clone());
        let opened = decoded.open(&key, id, f.client.bundle()).unwrap();
        prop_assert_eq!(opened.content(), &content[..]);

        let mut tampered = bytes.clone();
        tampered[flip_at.index(bytes.len())] ^= 1 << flip_bit;
        let r = SealedItem::decode(&tampered).and_then(|s| s.open(&key, id, f.client.bundle()));
        prop_assert!(r.is_err());
    }

    #[test]
    fn wrapped_key_round_trip_and_every_bit_matters(
        seed in any::<u64>(),
        rel in any::<[u8; 16]>(),
        epoch in any::<u32>(),
        flip_at in any::<prop::sample::Index>(),
        flip_bit in 0u8..8,
    ) {
        let f = fixture();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let rel = RelationshipId::from_bytes(rel);
        let key = RelationshipKey::generate(&mut rng, rel, Epoch(epoch));
        let bytes = key.wrap(&mut rng, &f.coach, f.client.bundle(), &RecordHash([3; 32])).unwrap().encode();
        let decoded = WrappedRelationshipKey::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.encode(), bytes.clone());
        prop_assert_eq!(decoded.unwrap(&f.client, f.coach.bundle(), rel, Epoch(epoch), &RecordHash([3; 32])).unwrap(), key);
        let mut tampered = bytes.clone();
        tampered[flip_at.index(bytes.len())] ^= 1 << flip_bit;
        let r = WrappedRelationshipKey::decode(&tampered)
            .and_then(|w| w.unwrap(&f.client, f.coach.bundle(), rel, Epoch(epoch), &RecordHash([3; 32])));
        prop_assert!(r.is_err());
    }

    #[test]
    fn stream_round_trip_and_every_bit_matters(
        seed in any::<u64>(),
        len in 0usize..(3 * attachment::CHUNK_SIZE),
        flip_at in any::<prop::sample::Index>(),
        flip_bit in 0u8..8,
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let key = AttachmentKey::generate(&mut rng);
        let id = AttachmentId::random(&mut rng);
        let data: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
        let mut enc = Vec::new();
        let summary = attachment::encrypt_stream(&mut rng, &key, id, &data[..], &mut enc, |_| {}).unwrap();
        let digest = summary.ciphertext_sha256;
        let mut out = Vec::new();
        attachment::decrypt_stream(&key, id, &digest, &enc[..], &mut out, |_| {}).unwrap();
        prop_assert_eq!(&out, &data);
        let mut tampered = enc.clone();
        tampered[flip_at.index(enc.len())] ^= 1 << flip_bit;
        let r = attachment::decrypt_stream(&key, id, &digest, &tampered[..], std::io::sink(), |_| ());
        prop_assert!(r.is_err());
    }

    #[test]
    fn document_description_round_trip(
        id in any::<[u8; 16]>(),
        key in any::<[u8; 32]>(),
        size in any::<u64>(),
        digest in any::<[u8; 32]>(),
        name in "\\PC{0,200}",
        media in "[ -~]{1,100}",
    ) {
        let d = DocumentDescription {
            attachment_id: AttachmentId::from_bytes(id),
            file_key: AttachmentKey::from_secret_bytes(key),
            size,
            ciphertext_sha256: digest,
            name,
            media_type: media,
        };
        // Names a peer could use to escape a folder are refused; every other
        // description round-trips.
        let unsafe_name = d.name.is_empty() || d.name == "." || d.name == ".." || d.name.contains(['/', '\\']);
        match d.encode() {
            Ok(bytes) => prop_assert_eq!(DocumentDescription::decode(&bytes).unwrap(), d),
            Err(_) => prop_assert!(unsafe_name, "refused a safe name {:?}", d.name),
        }
    }

    #[test]
    fn recovery_key_display_round_trip(key in any::<[u8; 32]>()) {
        let k = RecoveryKey::from_secret_bytes(key);
        prop_assert_eq!(RecoveryKey::parse(&k.to_display_string()).unwrap(), k);
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), tag in 1u8..9) {
        // Steer half the inputs past the version/type check.
        let mut input = bytes;
        if input.len() >= 2 && input[0] % 2 == 0 {
            input[0] = 1;
            input[1] = tag;
        }
        let _ = IdentityBundle::decode(&input);
        let _ = SealedIdentity::decode(&input);
        let _ = WrappedRelationshipKey::decode(&input);
        let _ = SealedItem::decode(&input);
        let _ = AttachmentHeader::decode(&input);
        let _ = SealedNotesKey::decode(&input);
        let _ = DocumentDescription::decode(&input);
        let _ = RecoveryKey::parse(&String::from_utf8_lossy(&input));
        let _ = String::from_utf8_lossy(&input).parse::<UserId>();
    }
}
