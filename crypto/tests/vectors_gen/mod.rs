//! The generator of the published vectors in `docs/vectors/` (PROTOCOL.md
//! §13). Shared by `examples/generate_vectors.rs`, which writes the files,
//! and `tests/published_vectors.rs`, which fails if they differ.
//!
//! Every random value the code under test draws is given explicitly in the
//! vector (a nonce, an HPKE `ikmE`, a nonce prefix) and fed to the code by a
//! scripted RNG, so that another implementation can recompute each output
//! from the inputs alone. Inputs themselves come from ChaCha20 seeded with
//! SHA-256 of the case name; the seed is recorded for reproducibility.
//! Every negative case is checked to fail here, while generating.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::VecDeque;

use kluis_crypto::__internal::derive;
use kluis_crypto::attachment::{
    self, AttachmentHeader, AttachmentKey, ChunkSealer, DocumentDescription, CHUNK_SIZE,
    SEALED_CHUNK_SIZE,
};
use kluis_crypto::deletion::{DeletedItem, DeletionFault, ItemDeletion};
use kluis_crypto::fingerprint::SafetyNumber;
use kluis_crypto::identity::{IdentityBundle, IdentityKeyPair, SealedIdentity};
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{self, ItemHeader, ItemKind, SealedItem, SharedItemKind};
use kluis_crypto::key_schedule::{labels, ExportKey, LocalStoreKey};
use kluis_crypto::membership::{ChainFault, Member, MemberRole, MembershipRecord, RecordHash};
use kluis_crypto::notes::{NotesKey, NotesKeyBytes, SealedNotesKey};
use kluis_crypto::recovery::RecoveryKey;
use kluis_crypto::relationship::{EpochKeyBytes, RelationshipKey, WrappedRelationshipKey};
use kluis_crypto::Error;
use rand_chacha::rand_core::{CryptoRng, Error as RandError, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Hands out exactly the bytes it was given, and panics if asked for more:
/// the vectors then list every random byte the code consumed.
pub struct ScriptedRng(VecDeque<u8>);

impl ScriptedRng {
    pub fn new(parts: &[&[u8]]) -> Self {
        Self(parts.iter().flat_map(|p| p.iter().copied()).collect())
    }

    pub fn assert_drained(&self) {
        assert!(self.0.is_empty(), "scripted randomness not fully used");
    }
}

impl RngCore for ScriptedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            *d = self.0.pop_front().expect("scripted randomness exhausted");
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandError> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ScriptedRng {}

pub fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The input generator for one case, and its recorded seed.
pub fn seeded(name: &str) -> (ChaCha20Rng, String) {
    let seed: [u8; 32] = Sha256::digest(format!("kluis/v1 test vectors/{name}")).into();
    (ChaCha20Rng::from_seed(seed), h(&seed))
}

pub fn draw<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

pub fn uuid(rng: &mut ChaCha20Rng) -> [u8; 16] {
    let mut b = draw::<16>(rng);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

pub struct TestIdentity {
    pub keys: IdentityKeyPair,
    pub dh_secret: [u8; 32],
    pub signing_seed: [u8; 32],
}

pub fn identity(rng: &mut ChaCha20Rng) -> TestIdentity {
    let user = UserId::from_bytes(uuid(rng));
    identity_of(rng, user)
}

/// A (new) identity of an existing user: after a reset without recovery key.
pub fn identity_of(rng: &mut ChaCha20Rng, user: UserId) -> TestIdentity {
    let dh_secret = draw::<32>(rng);
    let signing_seed = draw::<32>(rng);
    let keys = IdentityKeyPair::generate(&mut ScriptedRng::new(&[&dh_secret, &signing_seed]), user);
    TestIdentity {
        keys,
        dh_secret,
        signing_seed,
    }
}

pub fn identity_json(id: &TestIdentity) -> Value {
    let b = id.keys.bundle();
    json!({
        "user_id": h(b.user_id().as_bytes()),
        "user_id_text": b.user_id().to_string(),
        "dh_secret": h(&id.dh_secret),
        "signing_seed": h(&id.signing_seed),
        "dh_public": h(b.dh_public()),
        "signing_public": h(b.signing_public().as_bytes()),
        "bundle": h(&b.encode()),
        "key_fingerprint": h(&b.fingerprint().0),
    })
}

fn error_name(e: &Error) -> &'static str {
    match e {
        Error::Decryption => "Decryption",
        Error::Truncated { .. } => "Truncated",
        Error::TrailingBytes { .. } => "TrailingBytes",
        Error::UnsupportedVersion { .. } => "UnsupportedVersion",
        Error::WrongEnvelopeType { .. } => "WrongEnvelopeType",
        Error::LengthOutOfRange { .. } => "LengthOutOfRange",
        Error::InvalidField { .. } => "InvalidField",
        Error::BadSignature => "BadSignature",
        Error::InvalidPublicKey => "InvalidPublicKey",
        Error::RecoveryKeyFormat => "RecoveryKeyFormat",
        Error::RecoveryKeyChecksum => "RecoveryKeyChecksum",
        Error::Membership(fault) => match fault {
            ChainFault::WrongRelationship => "Membership.WrongRelationship",
            ChainFault::EpochNotNext => "Membership.EpochNotNext",
            ChainFault::PreviousMismatch => "Membership.PreviousMismatch",
            ChainFault::SignerNotCoach => "Membership.SignerNotCoach",
            ChainFault::SignerKey => "Membership.SignerKey",
            ChainFault::Signature => "Membership.Signature",
            ChainFault::Opening => "Membership.Opening",
            other => panic!("unexpected chain fault in a vector: {other}"),
        },
        Error::Deletion(fault) => match fault {
            DeletionFault::WrongItem => "Deletion.WrongItem",
            DeletionFault::WrongAuthor => "Deletion.WrongAuthor",
            DeletionFault::SignerKey => "Deletion.SignerKey",
            DeletionFault::Signature => "Deletion.Signature",
            other => panic!("unexpected deletion fault in a vector: {other}"),
        },
        Error::LoginFailed => "LoginFailed",
        other => panic!("unexpected error in a vector: {other}"),
    }
}

/// Records a negative case after checking that it fails as stated.
fn negative<T: std::fmt::Debug>(
    out: &mut Vec<Value>,
    name: &str,
    result: Result<T, Error>,
    expected: &str,
    inputs: Value,
) {
    assert!(name.starts_with("fail_"));
    match result {
        Ok(v) => panic!("negative vector {name} was accepted: {v:?}"),
        Err(e) => assert_eq!(error_name(&e), expected, "{name}: {e}"),
    }
    out.push(json!({ "name": name, "inputs": inputs, "expected_error": expected }));
}

fn flip(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 0x01;
    out
}

fn file(title: &str, spec: &str, positive: Vec<Value>, negative: Vec<Value>) -> Value {
    json!({
        "title": title,
        "spec": spec,
        "format": "All byte strings are lowercase hex. Every random value the code drew is listed as an input. 'seed' is the ChaCha20 seed the inputs were drawn from (informational). Negative cases are named fail_* and must be rejected with expected_error.",
        "positive": positive,
        "negative": negative,
    })
}

// ------------------------------------------------------------ key schedule

pub fn key_schedule() -> Value {
    let (mut rng, seed) = seeded("key_schedule");
    let export = draw::<64>(&mut rng);
    let recovery = draw::<32>(&mut rng);
    let epoch_key = draw::<32>(&mut rng);
    let notes_key = draw::<32>(&mut rng);
    let file_key = draw::<32>(&mut rng);
    let user = UserId::from_bytes(uuid(&mut rng));
    let rel = RelationshipId::from_bytes(uuid(&mut rng));
    let att = AttachmentId::from_bytes(uuid(&mut rng));
    let epoch = Epoch(7);
    let ident = identity_of(&mut rng, user);

    let export_key = ExportKey::from_secret_bytes(export);
    let recovery_key = RecoveryKey::from_secret_bytes(recovery);
    let d = |ikm: &[u8], label: &str, ctx: &[&[u8]]| h(&derive(ikm, label, ctx).unwrap()[..]);
    let mut cases = vec![
        json!({"name": "identity_seal_password", "label": labels::IDENTITY_SEAL_PASSWORD,
            "ikm": h(&export), "context": h(user.as_bytes()),
            "output": h(export_key.identity_seal_key(&user).unwrap().expose_secret())}),
        json!({"name": "local_store", "label": labels::LOCAL_STORE,
            "ikm": h(&export), "context": h(user.as_bytes()),
            "output": h(export_key.local_store_key(&user).unwrap().expose_secret())}),
        json!({"name": "local_store_identity", "label": labels::LOCAL_STORE_IDENTITY,
            "ikm": h(&[ident.dh_secret, ident.signing_seed].concat()), "context": h(user.as_bytes()),
            "output": h(LocalStoreKey::for_identity(&ident.keys).unwrap().expose_secret())}),
        json!({"name": "identity_seal_recovery", "label": labels::IDENTITY_SEAL_RECOVERY,
            "ikm": h(&recovery), "context": h(user.as_bytes()),
            "output": h(recovery_key.identity_seal_key(&user).unwrap().expose_secret())}),
        json!({"name": "item_key", "label": labels::ITEM_KEY,
            "ikm": h(&epoch_key), "context": h(&[&rel.as_bytes()[..], &epoch.to_be_bytes()].concat()),
            "output": d(&epoch_key, labels::ITEM_KEY, &[rel.as_bytes(), &epoch.to_be_bytes()])}),
        json!({"name": "note_item_key", "label": labels::NOTE_ITEM_KEY,
            "ikm": h(&notes_key), "context": h(&[&rel.as_bytes()[..], &epoch.to_be_bytes()].concat()),
            "output": d(&notes_key, labels::NOTE_ITEM_KEY, &[rel.as_bytes(), &epoch.to_be_bytes()])}),
        json!({"name": "attachment_stream", "label": labels::ATTACHMENT_STREAM,
            "ikm": h(&file_key), "context": h(att.as_bytes()),
            "output": d(&file_key, labels::ATTACHMENT_STREAM, &[att.as_bytes()])}),
    ];
    for c in &mut cases {
        c["seed"] = json!(seed);
        // derive(ikm, label, context) = HKDF-SHA256(salt="", ikm, label ‖ 0x00 ‖ context, 32)
        let info = [
            c["label"].as_str().unwrap().as_bytes(),
            &[0u8],
            &hex::decode(c["context"].as_str().unwrap()).unwrap(),
        ]
        .concat();
        c["info"] = json!(h(&info));
    }
    file(
        "Key schedule: derive(ikm, label, context) = HKDF-SHA256(salt = empty, ikm, info = label || 0x00 || context, L = 32)",
        "PROTOCOL.md §4",
        cases,
        vec![],
    )
}

// ---------------------------------------------------------------- identity

pub fn identity_file() -> Value {
    let (mut rng, seed) = seeded("identity");
    let id = identity(&mut rng);
    let other = identity(&mut rng);
    let export = draw::<64>(&mut rng);
    let recovery = draw::<32>(&mut rng);
    let nonce_pw = draw::<24>(&mut rng);
    let nonce_rk = draw::<24>(&mut rng);
    let export_key = ExportKey::from_secret_bytes(export);
    let recovery_key = RecoveryKey::from_secret_bytes(recovery);
    let user = id.keys.user_id();

    let sealed_pw = id
        .keys
        .seal_with_password(&export_key, &mut ScriptedRng::new(&[&nonce_pw]))
        .unwrap()
        .encode();
    let sealed_rk = id
        .keys
        .seal_with_recovery_key(&recovery_key, &mut ScriptedRng::new(&[&nonce_rk]))
        .unwrap()
        .encode();
    // Round trip through decode/open before publishing.
    let reopened = SealedIdentity::decode(&sealed_pw)
        .unwrap()
        .open_with_password(&export_key, user)
        .unwrap();
    assert_eq!(reopened.bundle(), id.keys.bundle());

    let bundle = id.keys.bundle().encode();
    let positive = vec![
        json!({"name": "bundle", "seed": seed, "inputs": identity_json(&id),
            "expected": {"bundle": h(&bundle), "body": h(id.keys.bundle().body()),
                "key_fingerprint": h(&id.keys.bundle().fingerprint().0)}}),
        json!({"name": "sealed_with_password", "seed": seed,
            "inputs": {"identity": identity_json(&id), "export_key": h(&export), "nonce": h(&nonce_pw)},
            "expected": {"seal_key": h(export_key.identity_seal_key(&user).unwrap().expose_secret()),
                "aad": h(&sealed_pw[..19]), "sealed_identity": h(&sealed_pw)}}),
        json!({"name": "sealed_with_recovery_key", "seed": seed,
            "inputs": {"identity": identity_json(&id), "recovery_key": h(&recovery), "nonce": h(&nonce_rk)},
            "expected": {"seal_key": h(recovery_key.identity_seal_key(&user).unwrap().expose_secret()),
                "aad": h(&sealed_rk[..19]), "sealed_identity": h(&sealed_rk)}}),
    ];

    let mut neg = Vec::new();
    let bad_sig = flip(&bundle, bundle.len() - 1);
    negative(
        &mut neg,
        "fail_bundle_flipped_signature_bit",
        IdentityBundle::decode(&bad_sig),
        "BadSignature",
        json!({"bundle": h(&bad_sig)}),
    );
    let bad_key = flip(&bundle, 20);
    negative(
        &mut neg,
        "fail_bundle_flipped_dh_key_bit",
        IdentityBundle::decode(&bad_key),
        "BadSignature",
        json!({"bundle": h(&bad_key)}),
    );
    // Another user's id under this user's signature.
    let mut moved = bundle.clone();
    moved[2..18].copy_from_slice(other.keys.user_id().as_bytes());
    negative(
        &mut neg,
        "fail_bundle_other_user_id",
        IdentityBundle::decode(&moved),
        "BadSignature",
        json!({"bundle": h(&moved)}),
    );
    ed25519_edge_cases(&mut neg, &id, &other);
    let open_pw = |bytes: &[u8], user: UserId| {
        SealedIdentity::decode(bytes).and_then(|s| s.open_with_password(&export_key, user))
    };
    for (i, what) in [
        (40usize, "nonce"),
        (60, "ciphertext"),
        (sealed_pw.len() - 1, "tag"),
    ] {
        let t = flip(&sealed_pw, i);
        negative(
            &mut neg,
            &format!("fail_sealed_flipped_{what}_bit"),
            open_pw(&t, user),
            "Decryption",
            json!({"sealed_identity": h(&t), "export_key": h(&export), "expected_user_id": h(user.as_bytes())}),
        );
    }
    negative(
        &mut neg,
        "fail_sealed_opened_as_other_user",
        open_pw(&sealed_pw, other.keys.user_id()),
        "Decryption",
        json!({"sealed_identity": h(&sealed_pw), "export_key": h(&export), "expected_user_id": h(other.keys.user_id().as_bytes())}),
    );
    // The header rewritten to name another user: the AD no longer matches.
    let mut relabelled = sealed_pw.clone();
    relabelled[3..19].copy_from_slice(other.keys.user_id().as_bytes());
    negative(
        &mut neg,
        "fail_sealed_relabelled_user",
        open_pw(&relabelled, other.keys.user_id()),
        "Decryption",
        json!({"sealed_identity": h(&relabelled), "export_key": h(&export), "expected_user_id": h(other.keys.user_id().as_bytes())}),
    );
    // A recovery-sealed blob relabelled as password-sealed.
    let mut kind_swapped = sealed_rk.clone();
    kind_swapped[2] = 1;
    let recovery_as_export = [recovery, recovery].concat();
    negative(
        &mut neg,
        "fail_sealed_kind_swapped",
        SealedIdentity::decode(&kind_swapped).and_then(|s| {
            s.open_with_password(
                &ExportKey::from_secret_bytes(recovery_as_export.clone().try_into().unwrap()),
                user,
            )
        }),
        "Decryption",
        json!({"sealed_identity": h(&kind_swapped), "export_key": h(&recovery_as_export), "expected_user_id": h(user.as_bytes())}),
    );
    file(
        "Identity bundle, key fingerprint and sealed identity",
        "PROTOCOL.md §5",
        positive,
        neg,
    )
}

/// The Ed25519 secret scalar `a` of a seed (RFC 8032 §5.1.5).
fn ed25519_secret_scalar(seed: &[u8; 32]) -> curve25519_dalek::Scalar {
    let h = sha2::Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    curve25519_dalek::Scalar::from_bytes_mod_order(a)
}

/// `k = SHA-512(R ‖ A ‖ M) mod ℓ` (RFC 8032 §5.1.7).
fn ed25519_challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> curve25519_dalek::Scalar {
    let digest: [u8; 64] = sha2::Sha512::digest([&r[..], a, message].concat()).into();
    curve25519_dalek::Scalar::from_bytes_mod_order_wide(&digest)
}

/// RFC 8032 verification without the strict checks (ed25519-dalek's
/// `verify`, like OpenSSL): the equation alone.
fn plain_ed25519_accepts(a: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    use ed25519_dalek::Verifier;
    ed25519_dalek::VerifyingKey::from_bytes(a)
        .map(|key| {
            key.verify(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok()
        })
        .unwrap_or(false)
}

fn bundle_message_of(body: &[u8]) -> Vec<u8> {
    [b"kluis/v1/identity-bundle".as_slice(), &[0], body].concat()
}

fn bundle_body_of(user: &UserId, dh: &[u8; 32], ed: &[u8; 32]) -> Vec<u8> {
    [&[1u8, 1][..], user.as_bytes(), dh, ed].concat()
}

/// The group order ℓ, little-endian (RFC 8032 §5.1).
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Bundles whose Ed25519 key or signature only `verify_strict` (§5.2)
/// refuses: the three small-order cases verify under the plain equation,
/// which the generator checks, so that an implementation with plain
/// verification fails these vectors.
fn ed25519_edge_cases(neg: &mut Vec<Value>, id: &TestIdentity, other: &TestIdentity) {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::traits::{Identity, IsIdentity};
    use curve25519_dalek::EdwardsPoint;
    let user = id.keys.user_id();
    let dh = *id.keys.bundle().dh_public();
    let a_bytes = *id.keys.bundle().signing_public().as_bytes();
    let a = ed25519_secret_scalar(&id.signing_seed);
    assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), a_bytes);
    let identity_enc = EdwardsPoint::identity().compress().to_bytes();
    let record = |neg: &mut Vec<Value>, name: &str, bundle: &[u8], expected: &str| {
        negative(
            neg,
            name,
            IdentityBundle::decode(bundle),
            expected,
            json!({"bundle": h(bundle)}),
        );
    };

    // Small-order R with the real key: R = identity and S = k·a satisfy
    // [S]B = R + [k]A.
    let body = bundle_body_of(&user, &dh, &a_bytes);
    let message = bundle_message_of(&body);
    let k = ed25519_challenge(&identity_enc, &a_bytes, &message);
    let signature: [u8; 64] = [identity_enc, (k * a).to_bytes()]
        .concat()
        .try_into()
        .unwrap();
    assert!(plain_ed25519_accepts(&a_bytes, &message, &signature));
    record(
        neg,
        "fail_bundle_signature_small_order_r",
        &[body, signature.to_vec()].concat(),
        "BadSignature",
    );

    // The identity point as the key: R = identity, S = 0 verify any message.
    let body = bundle_body_of(&user, &dh, &identity_enc);
    let signature: [u8; 64] = [identity_enc, [0u8; 32]].concat().try_into().unwrap();
    assert!(plain_ed25519_accepts(
        &identity_enc,
        &bundle_message_of(&body),
        &signature
    ));
    record(
        neg,
        "fail_bundle_signing_key_identity",
        &[body, signature.to_vec()].concat(),
        "InvalidPublicKey",
    );

    // A point of order 8 as the key, with S = 0 and R = −[k]A, found by
    // trying the eight torsion points as R (and, if none fits, other user
    // ids) so that the plain equation holds.
    let t_bytes: [u8; 32] =
        hex::decode("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
            .unwrap()
            .try_into()
            .unwrap();
    let t = CompressedEdwardsY(t_bytes).decompress().unwrap();
    assert!(t.is_small_order() && !(t + t + t + t).is_identity());
    let mut torsion = vec![EdwardsPoint::identity()];
    for _ in 1..8 {
        torsion.push(torsion[torsion.len() - 1] + t);
    }
    let found = (0u8..=255)
        .flat_map(|variant| torsion.iter().map(move |r| (variant, *r)))
        .find_map(|(variant, r)| {
            let mut user_bytes = *other.keys.user_id().as_bytes();
            user_bytes[15] ^= variant;
            let user = UserId::from_bytes(user_bytes);
            let body = bundle_body_of(&user, &dh, &t_bytes);
            let r_bytes = r.compress().to_bytes();
            let k = ed25519_challenge(&r_bytes, &t_bytes, &bundle_message_of(&body));
            (r + k * t).is_identity().then_some((body, r_bytes))
        })
        .unwrap();
    let (body, r_bytes) = found;
    let signature: [u8; 64] = [r_bytes, [0u8; 32]].concat().try_into().unwrap();
    assert!(plain_ed25519_accepts(
        &t_bytes,
        &bundle_message_of(&body),
        &signature
    ));
    record(
        neg,
        "fail_bundle_signing_key_order_8",
        &[body, signature.to_vec()].concat(),
        "InvalidPublicKey",
    );

    // A non-canonical encoding: y + p for the smallest y < 19 that is on
    // the curve and not of small order. ed25519-dalek's decoding accepts it
    // (so the bundle decoder re-encodes and compares); RFC 8032 does not.
    let (noncanonical, point) = (2u8..19)
        .find_map(|y| {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + y;
            bytes[31] = 0x7f;
            CompressedEdwardsY(bytes)
                .decompress()
                .filter(|p| !p.is_small_order())
                .map(|p| (bytes, p))
        })
        .unwrap();
    assert_ne!(point.compress().to_bytes(), noncanonical);
    assert!(ed25519_dalek::VerifyingKey::from_bytes(&noncanonical).is_ok());
    let body = bundle_body_of(&user, &dh, &noncanonical);
    let signature = {
        use ed25519_dalek::Signer;
        ed25519_dalek::SigningKey::from_bytes(&id.signing_seed)
            .sign(&bundle_message_of(&body))
            .to_bytes()
    };
    record(
        neg,
        "fail_bundle_signing_key_not_canonical",
        &[body, signature.to_vec()].concat(),
        "InvalidPublicKey",
    );

    // S + ℓ in place of S: the same equation, but S is not reduced.
    let bundle = id.keys.bundle().encode();
    let mut unreduced = bundle.clone();
    let mut carry = 0u16;
    for (i, l) in ED25519_L.iter().enumerate() {
        let sum = u16::from(bundle[114 + i]) + u16::from(*l) + carry;
        unreduced[114 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    record(
        neg,
        "fail_bundle_signature_s_not_reduced",
        &unreduced,
        "BadSignature",
    );
}

// ------------------------------------------------------------ recovery key

pub fn recovery_key() -> Value {
    let (mut rng, seed) = seeded("recovery_key");
    let mut positive = Vec::new();
    let mut neg = Vec::new();
    for i in 0..3 {
        let raw = draw::<32>(&mut rng);
        let key = RecoveryKey::from_secret_bytes(raw);
        let shown = key.to_display_string();
        let checksum: [u8; 32] =
            Sha256::digest([b"kluis/v1/recovery-checksum".as_slice(), &[0], &raw].concat()).into();
        let lower = shown.to_lowercase().replace('-', " ");
        assert_eq!(RecoveryKey::parse(&lower).unwrap(), key);
        positive.push(json!({"name": format!("recovery_key_{i}"), "seed": seed,
            "inputs": {"key": h(&raw)},
            "expected": {"checksum": h(&checksum[..3]), "display": shown.as_str(),
                "also_accepted": [lower]}}));
        if i == 0 {
            let mut chars: Vec<char> = shown.chars().collect();
            chars[5] = if chars[5] == 'Q' { 'R' } else { 'Q' };
            let typo: String = chars.iter().collect();
            negative(
                &mut neg,
                "fail_typo",
                RecoveryKey::parse(&typo),
                "RecoveryKeyChecksum",
                json!({"display": typo}),
            );
            let mut swapped: Vec<char> = shown.chars().collect();
            let (a, b) = (0..swapped.len() - 1)
                .find(|&j| {
                    swapped[j] != swapped[j + 1] && swapped[j] != '-' && swapped[j + 1] != '-'
                })
                .map(|j| (j, j + 1))
                .unwrap();
            swapped.swap(a, b);
            let swapped: String = swapped.iter().collect();
            negative(
                &mut neg,
                "fail_swapped_characters",
                RecoveryKey::parse(&swapped),
                "RecoveryKeyChecksum",
                json!({"display": swapped}),
            );
            let short = &shown[..shown.len() - 2];
            negative(
                &mut neg,
                "fail_too_short",
                RecoveryKey::parse(short),
                "RecoveryKeyFormat",
                json!({"display": short}),
            );
            let bad = format!("{}9", &shown[..shown.len() - 1]);
            negative(
                &mut neg,
                "fail_character_outside_alphabet",
                RecoveryKey::parse(&bad),
                "RecoveryKeyFormat",
                json!({"display": bad}),
            );
        }
    }
    // A key whose printed form holds O, I and B, typed with the digits 0,
    // 1 and 8 and with every separator §6 skips.
    let (raw, shown) = (0..64)
        .map(|_| {
            let raw = draw::<32>(&mut rng);
            let shown = RecoveryKey::from_secret_bytes(raw).to_display_string();
            (raw, shown.to_string())
        })
        .find(|(_, shown)| ['O', 'I', 'B'].iter().all(|c| shown.contains(*c)))
        .unwrap();
    let key = RecoveryKey::from_secret_bytes(raw);
    let checksum: [u8; 32] =
        Sha256::digest([b"kluis/v1/recovery-checksum".as_slice(), &[0], &raw].concat()).into();
    let digits = shown.replace('O', "0").replace('I', "1").replace('B', "8");
    let compact = shown.replace('-', "");
    let spaced: String = compact
        .chars()
        .enumerate()
        .map(|(i, c)| match i % 7 {
            3 => format!("{c}\t"),
            5 => format!("{c}\r\n"),
            6 => format!("{c}  -"),
            _ => c.to_string(),
        })
        .collect();
    let accepted = vec![
        digits.clone(),
        digits.to_lowercase(),
        compact.clone(),
        format!("\n  {spaced}\n"),
    ];
    for typed in &accepted {
        assert_eq!(RecoveryKey::parse(typed).unwrap(), key);
    }
    positive.push(
        json!({"name": "recovery_key_with_0_1_8_and_whitespace", "seed": seed,
        "inputs": {"key": h(&raw)},
        "expected": {"checksum": h(&checksum[..3]), "display": shown.as_str(),
            "also_accepted": accepted}}),
    );
    for (name, typed) in [
        // Separators other than space, '-', tab, LF and CR.
        ("fail_no_break_space", shown.replace('-', "\u{a0}")),
        ("fail_vertical_tab", shown.replace('-', "\u{b}")),
        ("fail_underscore", shown.replace('-', "_")),
        // Look-alikes outside ASCII are not folded.
        ("fail_fullwidth_letter", shown.replacen('-', "\u{ff21}", 1)),
        (
            "fail_dotless_i",
            format!("{}\u{131}", &shown[..shown.len() - 1]),
        ),
        ("fail_empty", String::new()),
        ("fail_separators_only", " - \t-\r\n".into()),
        // 57 and 112 characters of the alphabet.
        ("fail_one_character_too_many", format!("{shown}A")),
        ("fail_over_long_input", format!("{shown}{shown}")),
    ] {
        negative(
            &mut neg,
            name,
            RecoveryKey::parse(&typed),
            "RecoveryKeyFormat",
            json!({"display": typed}),
        );
    }
    file(
        "Recovery key: base32 (RFC 4648) of key || checksum(3), 14 groups of 4",
        "PROTOCOL.md §6",
        positive,
        neg,
    )
}

// ------------------------------------------------------- relationship wrap

fn wrap_info(
    rel: &RelationshipId,
    epoch: Epoch,
    sender: &UserId,
    recipient: &IdentityBundle,
    record: &RecordHash,
) -> Vec<u8> {
    [
        b"kluis/v1/relationship-key-wrap".as_slice(),
        &[0, 1],
        rel.as_bytes(),
        &epoch.to_be_bytes(),
        sender.as_bytes(),
        recipient.user_id().as_bytes(),
        &recipient.fingerprint().0,
        &record.0,
    ]
    .concat()
}

pub fn relationship_key_wrap() -> Value {
    let (mut rng, seed) = seeded("relationship_key_wrap");
    let coach = identity(&mut rng);
    let client = identity(&mut rng);
    let stranger = identity(&mut rng);
    let rel = RelationshipId::from_bytes(uuid(&mut rng));
    let key_bytes = draw::<32>(&mut rng);
    let epoch = Epoch(3);
    let key = RelationshipKey::from_parts(rel, epoch, EpochKeyBytes::from_secret_bytes(key_bytes));
    // The hash of epoch 3's membership record (§7.6); any 32 bytes serve here.
    let record = RecordHash(draw::<32>(&mut rng));

    let mut positive = Vec::new();
    let mut wrapped_to_client = Vec::new();
    for (name, recipient) in [("to_client", &client), ("to_self", &coach)] {
        let ikm_e = draw::<32>(&mut rng);
        let mut scripted = ScriptedRng::new(&[&ikm_e]);
        let wrapped = key
            .wrap(&mut scripted, &coach.keys, recipient.keys.bundle(), &record)
            .unwrap()
            .encode();
        scripted.assert_drained();
        let unwrapped = WrappedRelationshipKey::decode(&wrapped)
            .unwrap()
            .unwrap(&recipient.keys, coach.keys.bundle(), rel, epoch, &record)
            .unwrap();
        assert_eq!(unwrapped, key);
        if name == "to_client" {
            wrapped_to_client = wrapped.clone();
        }
        positive.push(json!({"name": name, "seed": seed,
            "inputs": {"sender": identity_json(&coach), "recipient": identity_json(recipient),
                "relationship_id": h(rel.as_bytes()), "epoch": epoch.0, "epoch_key": h(&key_bytes),
                "membership_record_hash": h(&record.0), "ikm_e": h(&ikm_e)},
            "expected": {"info": h(&wrap_info(&rel, epoch, &coach.keys.user_id(), recipient.keys.bundle(), &record)),
                "aad": "", "hpke_suite": {"mode": 2, "kem_id": 32, "kdf_id": 1, "aead_id": 3},
                "wrapped": h(&wrapped)}}));
    }

    let mut neg = Vec::new();
    let w = &wrapped_to_client;
    let unwrap_as = |bytes: &[u8],
                     me: &TestIdentity,
                     sender: &TestIdentity,
                     rel: RelationshipId,
                     epoch: Epoch| {
        WrappedRelationshipKey::decode(bytes)
            .and_then(|x| x.unwrap(&me.keys, sender.keys.bundle(), rel, epoch, &record))
    };
    let ctx = |bytes: &[u8],
               me: &TestIdentity,
               sender: &TestIdentity,
               rel: &RelationshipId,
               epoch: Epoch| {
        json!({"wrapped": h(bytes), "recipient": identity_json(me), "sender": identity_json(sender),
            "expected_relationship_id": h(rel.as_bytes()), "expected_epoch": epoch.0,
            "membership_record_hash": h(&record.0)})
    };
    // The opener's chain has another record for epoch 3 (a fork): the
    // same bytes, unwrapped under that record's hash, do not open.
    let forked = RecordHash(draw::<32>(&mut rng));
    let mut fork_ctx = ctx(&wrapped_to_client, &client, &coach, &rel, epoch);
    fork_ctx["membership_record_hash"] = json!(h(&forked.0));
    negative(
        &mut neg,
        "fail_other_membership_record",
        WrappedRelationshipKey::decode(&wrapped_to_client)
            .and_then(|x| x.unwrap(&client.keys, coach.keys.bundle(), rel, epoch, &forked)),
        "Decryption",
        fork_ctx,
    );
    // Wrapped to the client's earlier identity (stale fingerprint), opened
    // with the client's current one: the header names another key.
    let earlier = identity_of(&mut rng, client.keys.user_id());
    let ikm_stale = draw::<32>(&mut rng);
    let stale = key
        .wrap(
            &mut ScriptedRng::new(&[&ikm_stale]),
            &coach.keys,
            earlier.keys.bundle(),
            &record,
        )
        .unwrap()
        .encode();
    negative(
        &mut neg,
        "fail_stale_recipient_fingerprint",
        unwrap_as(&stale, &client, &coach, rel, epoch),
        "Decryption",
        ctx(&stale, &client, &coach, &rel, epoch),
    );
    let other_rel = RelationshipId::from_bytes(uuid(&mut rng));
    let mut moved = w.clone();
    moved[2..18].copy_from_slice(other_rel.as_bytes());
    negative(
        &mut neg,
        "fail_moved_to_other_relationship",
        unwrap_as(&moved, &client, &coach, other_rel, epoch),
        "Decryption",
        ctx(&moved, &client, &coach, &other_rel, epoch),
    );
    let mut moved = w.clone();
    moved[18..22].copy_from_slice(&4u32.to_be_bytes());
    negative(
        &mut neg,
        "fail_moved_to_other_epoch",
        unwrap_as(&moved, &client, &coach, rel, Epoch(4)),
        "Decryption",
        ctx(&moved, &client, &coach, &rel, Epoch(4)),
    );
    negative(
        &mut neg,
        "fail_expected_other_epoch",
        unwrap_as(w, &client, &coach, rel, Epoch(2)),
        "Decryption",
        ctx(w, &client, &coach, &rel, Epoch(2)),
    );
    // The server claims the stranger sent it: the header and Auth mode disagree.
    let mut resent = w.clone();
    resent[22..38].copy_from_slice(stranger.keys.user_id().as_bytes());
    negative(
        &mut neg,
        "fail_claimed_other_sender",
        unwrap_as(&resent, &client, &stranger, rel, epoch),
        "Decryption",
        ctx(&resent, &client, &stranger, &rel, epoch),
    );
    // Redirected to the stranger, header rewritten to match: the stranger
    // cannot open what was sealed to the client's key.
    let mut redirected = w.clone();
    redirected[38..54].copy_from_slice(stranger.keys.user_id().as_bytes());
    redirected[54..86].copy_from_slice(&stranger.keys.bundle().fingerprint().0);
    negative(
        &mut neg,
        "fail_redirected_to_other_recipient",
        unwrap_as(&redirected, &stranger, &coach, rel, epoch),
        "Decryption",
        ctx(&redirected, &stranger, &coach, &rel, epoch),
    );
    for (i, what) in [(90usize, "enc"), (130, "ciphertext"), (w.len() - 1, "tag")] {
        let t = flip(w, i);
        negative(
            &mut neg,
            &format!("fail_flipped_{what}_bit"),
            unwrap_as(&t, &client, &coach, rel, epoch),
            "Decryption",
            ctx(&t, &client, &coach, &rel, epoch),
        );
    }
    let mut long = w.clone();
    long.push(0);
    negative(
        &mut neg,
        "fail_trailing_bytes",
        unwrap_as(&long, &client, &coach, rel, epoch),
        "TrailingBytes",
        ctx(&long, &client, &coach, &rel, epoch),
    );
    let mut v2 = w.clone();
    v2[0] = 2;
    negative(
        &mut neg,
        "fail_unknown_version",
        unwrap_as(&v2, &client, &coach, rel, epoch),
        "UnsupportedVersion",
        ctx(&v2, &client, &coach, &rel, epoch),
    );
    file("Relationship key wrap: HPKE Auth mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305", "PROTOCOL.md §7", positive, neg)
}

// ------------------------------------------------------- membership chain

fn member(id: &TestIdentity, role: MemberRole) -> Member {
    Member {
        user_id: id.keys.user_id(),
        role,
        fingerprint: id.keys.bundle().fingerprint(),
    }
}

fn role_name(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Coach => "coach",
        MemberRole::Client => "client",
    }
}

fn record_json(r: &MembershipRecord) -> Value {
    json!({
        "relationship_id": h(r.relationship_id().as_bytes()),
        "epoch": r.epoch().0,
        "previous": h(&r.previous().0),
        "signer_id": h(r.signer_id().as_bytes()),
        "created_ms": r.created_ms(),
        "members": r.members().iter().map(|m| json!({
            "user_id": h(m.user_id.as_bytes()), "role": role_name(m.role),
            "key_fingerprint": h(&m.fingerprint.0)})).collect::<Vec<_>>(),
    })
}

/// Signs with a scripted Ed25519 key: Ed25519 is deterministic, so the
/// record bytes follow from the inputs alone.
fn sign_record(
    signer: &TestIdentity,
    rel: RelationshipId,
    epoch: u32,
    previous: RecordHash,
    created_ms: u64,
    members: Vec<Member>,
) -> MembershipRecord {
    MembershipRecord::sign(
        &signer.keys,
        rel,
        Epoch(epoch),
        previous,
        created_ms,
        members,
    )
    .unwrap()
}

/// Replaces the signature of `body ‖ signature` with a valid one by `signer`,
/// for records `MembershipRecord::sign` refuses to make.
fn resign(body: &[u8], signer: &TestIdentity) -> Vec<u8> {
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&signer.signing_seed);
    let message = [b"kluis/v1/membership-record".as_slice(), &[0], body].concat();
    [body, &key.sign(&message).to_bytes()].concat()
}

pub fn membership_file() -> Value {
    let (mut rng, seed) = seeded("membership");
    let carla = identity(&mut rng);
    let jan = identity(&mut rng);
    let kim = identity(&mut rng);
    let ghost = identity(&mut rng);
    let kim_new = identity_of(&mut rng, kim.keys.user_id());
    let jan_new = identity_of(&mut rng, jan.keys.user_id());
    let rel = RelationshipId::from_bytes(uuid(&mut rng));
    let t0 = 1_767_225_600_000u64;

    use MemberRole::{Client, Coach};
    // Carla opens with Kim; adds Jan; Jan removes Carla; Jan rotates for
    // Kim's new identity; Jan, with a new identity of his own, rotates.
    let r0 = sign_record(
        &carla,
        rel,
        0,
        RecordHash::NONE,
        t0,
        vec![member(&carla, Coach), member(&kim, Client)],
    );
    let r1 = sign_record(
        &carla,
        rel,
        1,
        r0.hash(),
        t0 + 1000,
        vec![
            member(&carla, Coach),
            member(&kim, Client),
            member(&jan, Coach),
        ],
    );
    let r2 = sign_record(
        &jan,
        rel,
        2,
        r1.hash(),
        t0 + 2000,
        vec![member(&kim, Client), member(&jan, Coach)],
    );
    let r3 = sign_record(
        &jan,
        rel,
        3,
        r2.hash(),
        t0 + 3000,
        vec![member(&kim_new, Client), member(&jan, Coach)],
    );
    let r4 = sign_record(
        &jan_new,
        rel,
        4,
        r3.hash(),
        t0 + 4000,
        vec![member(&kim_new, Client), member(&jan_new, Coach)],
    );
    r0.verify_opening(carla.keys.bundle()).unwrap();
    let chain = [&r0, &r1, &r2, &r3, &r4];
    let signers = [&carla, &carla, &jan, &jan, &jan_new];
    for i in 1..chain.len() {
        chain[i]
            .verify_successor(chain[i - 1], signers[i].keys.bundle())
            .unwrap();
    }
    let positive = vec![json!({"name": "chain", "seed": seed,
        "inputs": {"identities": {"carla": identity_json(&carla), "jan": identity_json(&jan),
            "kim": identity_json(&kim), "kim_new": identity_json(&kim_new),
            "jan_new": identity_json(&jan_new)},
            "signers": ["carla", "carla", "jan", "jan", "jan_new"],
            "records": chain.iter().map(|r| record_json(r)).collect::<Vec<_>>()},
        "expected": {"records": chain.iter().map(|r| json!({
            "record": h(&r.encode()), "hash": h(&r.hash().0)})).collect::<Vec<_>>()}})];

    let mut neg = Vec::new();
    // Each case: the verifier holds the chain up to `previous` (or nothing,
    // for an opening), is given `record` and the bundle it looked up for the
    // record's signer, and must refuse.
    let case = |neg: &mut Vec<Value>,
                name: &str,
                previous: Option<&MembershipRecord>,
                record: &[u8],
                signer: &TestIdentity,
                expected: &str| {
        let result = MembershipRecord::decode(record).and_then(|r| match previous {
            None => r.verify_opening(signer.keys.bundle()),
            Some(p) => r.verify_successor(p, signer.keys.bundle()),
        });
        negative(
            neg,
            name,
            result,
            expected,
            json!({
            "previous": previous.map(|p| h(&p.encode())),
            "record": h(record),
            "signer_bundle": h(&signer.keys.bundle().encode())}),
        );
    };
    let ghost_r2 = sign_record(
        &ghost,
        rel,
        2,
        r1.hash(),
        t0 + 2000,
        vec![
            member(&kim, Client),
            member(&ghost, Coach),
            member(&jan, Coach),
        ],
    );
    case(
        &mut neg,
        "fail_ghost_coach",
        Some(&r1),
        &ghost_r2.encode(),
        &ghost,
        "Membership.SignerNotCoach",
    );
    let by_client = sign_record(&kim, rel, 2, r1.hash(), t0 + 2000, r1.members().to_vec());
    case(
        &mut neg,
        "fail_signed_by_client",
        Some(&r1),
        &by_client.encode(),
        &kim,
        "Membership.SignerNotCoach",
    );
    // Carla was removed at epoch 2: she cannot sign epoch 3 back in.
    let removed = sign_record(
        &carla,
        rel,
        3,
        r2.hash(),
        t0 + 3000,
        vec![
            member(&carla, Coach),
            member(&kim, Client),
            member(&jan, Coach),
        ],
    );
    case(
        &mut neg,
        "fail_removed_member_signs",
        Some(&r2),
        &removed.encode(),
        &carla,
        "Membership.SignerNotCoach",
    );
    case(
        &mut neg,
        "fail_replayed_record",
        Some(&r2),
        &r1.encode(),
        &carla,
        "Membership.EpochNotNext",
    );
    case(
        &mut neg,
        "fail_reordered",
        Some(&r3),
        &r2.encode(),
        &jan,
        "Membership.EpochNotNext",
    );
    case(
        &mut neg,
        "fail_gap",
        Some(&r1),
        &r3.encode(),
        &jan,
        "Membership.EpochNotNext",
    );
    let fork = sign_record(
        &carla,
        rel,
        2,
        r1.hash(),
        t0 + 2500,
        vec![member(&carla, Coach), member(&kim, Client)],
    );
    // A fork is two valid successors of one record, each valid alone (the
    // SDK catches it by the hash it kept, §7.6.3); what the chain check
    // sees is a record built on the other branch.
    let on_fork = sign_record(
        &carla,
        rel,
        3,
        fork.hash(),
        t0 + 3000,
        vec![member(&carla, Coach), member(&kim, Client)],
    );
    case(
        &mut neg,
        "fail_built_on_other_branch",
        Some(&r2),
        &on_fork.encode(),
        &carla,
        "Membership.PreviousMismatch",
    );
    let elsewhere = sign_record(
        &jan,
        RelationshipId::from_bytes(uuid(&mut rng)),
        2,
        r1.hash(),
        t0 + 2000,
        r2.members().to_vec(),
    );
    case(
        &mut neg,
        "fail_other_relationship",
        Some(&r1),
        &elsewhere.encode(),
        &jan,
        "Membership.WrongRelationship",
    );
    // Signed by Jan's new key while the record still names the old one.
    let wrong_key = sign_record(
        &jan_new,
        rel,
        3,
        r2.hash(),
        t0 + 3000,
        r2.members().to_vec(),
    );
    case(
        &mut neg,
        "fail_signer_key_not_named",
        Some(&r2),
        &wrong_key.encode(),
        &jan_new,
        "Membership.SignerKey",
    );
    case(
        &mut neg,
        "fail_signer_bundle_of_other_user",
        Some(&r1),
        &r2.encode(),
        &carla,
        "Membership.SignerKey",
    );
    // A member added after signing (the server rewrote the list).
    let mut body = r2.encode();
    body.truncate(body.len() - 64);
    let mut rewritten = body.clone();
    let first_fp = 2 + 16 + 4 + 32 + 16 + 8 + 2 + 17;
    rewritten[first_fp] ^= 1;
    rewritten.extend_from_slice(&r2.encode()[body.len()..]);
    case(
        &mut neg,
        "fail_rewritten_fingerprint",
        Some(&r1),
        &rewritten,
        &jan,
        "Membership.Signature",
    );
    // Re-signed by the server's own key claiming to be Jan: not Jan's key.
    let impostor = identity_of(&mut rng, jan.keys.user_id());
    let resigned = resign(&body, &impostor);
    case(
        &mut neg,
        "fail_resigned_by_other_key",
        Some(&r1),
        &resigned,
        &impostor,
        "Membership.SignerKey",
    );
    let three = sign_record(
        &carla,
        rel,
        0,
        RecordHash::NONE,
        t0,
        vec![
            member(&carla, Coach),
            member(&kim, Client),
            member(&ghost, Client),
        ],
    );
    case(
        &mut neg,
        "fail_opening_three_members",
        None,
        &three.encode(),
        &carla,
        "Membership.Opening",
    );
    case(
        &mut neg,
        "fail_opening_not_epoch_0",
        None,
        &r1.encode(),
        &carla,
        "Membership.EpochNotNext",
    );
    let client_opens = sign_record(&kim, rel, 0, RecordHash::NONE, t0, r0.members().to_vec());
    case(
        &mut neg,
        "fail_opening_signed_by_client",
        None,
        &client_opens.encode(),
        &kim,
        "Membership.SignerNotCoach",
    );
    // Decoding: members out of order, an unknown role, none, no coach.
    let fixed = 2 + 16 + 4 + 32 + 16 + 8 + 2;
    let r0_body = &r0.encode()[..r0.encode().len() - 64];
    let mut unsorted = r0_body.to_vec();
    let (a, b) = unsorted[fixed..fixed + 98].split_at_mut(49);
    a.swap_with_slice(b);
    case(
        &mut neg,
        "fail_members_not_sorted",
        None,
        &resign(&unsorted, &carla),
        &carla,
        "InvalidField",
    );
    let mut role = r0_body.to_vec();
    role[fixed + 16] = 3;
    case(
        &mut neg,
        "fail_unknown_role",
        None,
        &resign(&role, &carla),
        &carla,
        "InvalidField",
    );
    let mut no_coach = r0_body.to_vec();
    for i in 0..2 {
        no_coach[fixed + i * 49 + 16] = 2;
    }
    case(
        &mut neg,
        "fail_no_coach",
        None,
        &resign(&no_coach, &carla),
        &carla,
        "InvalidField",
    );
    let mut none = r0_body[..fixed].to_vec();
    none[fixed - 2..].copy_from_slice(&[0, 0]);
    case(
        &mut neg,
        "fail_no_members",
        None,
        &resign(&none, &carla),
        &carla,
        "LengthOutOfRange",
    );
    let mut dup = r0_body.to_vec();
    let second = dup[fixed..fixed + 49].to_vec();
    dup[fixed + 49..fixed + 98].copy_from_slice(&second);
    case(
        &mut neg,
        "fail_member_twice",
        None,
        &resign(&dup, &carla),
        &carla,
        "InvalidField",
    );
    let mut long = r0.encode();
    long.push(0);
    case(
        &mut neg,
        "fail_trailing_bytes",
        None,
        &long,
        &carla,
        "TrailingBytes",
    );
    case(
        &mut neg,
        "fail_truncated",
        None,
        &r0.encode()[..r0.encode().len() - 1],
        &carla,
        "Truncated",
    );
    file(
        "Membership chain: signed records of who holds each epoch",
        "PROTOCOL.md §7.6",
        positive,
        neg,
    )
}

// -------------------------------------------------------------------- items

fn item_aad(
    rel: &RelationshipId,
    epoch: Epoch,
    item: &ItemId,
    kind: ItemKind,
    author: &UserId,
) -> Vec<u8> {
    [
        &[1u8, 4][..],
        rel.as_bytes(),
        &epoch.to_be_bytes(),
        item.as_bytes(),
        &[kind as u8],
        author.as_bytes(),
    ]
    .concat()
}

pub fn item_file() -> Value {
    let (mut rng, seed) = seeded("item");
    let coach = identity(&mut rng);
    let client = identity(&mut rng);
    let rel = RelationshipId::from_bytes(uuid(&mut rng));
    let epoch = Epoch(0);
    let key_bytes = draw::<32>(&mut rng);
    let key = RelationshipKey::from_parts(rel, epoch, EpochKeyBytes::from_secret_bytes(key_bytes));
    let item_key = derive(
        &key_bytes,
        labels::ITEM_KEY,
        &[rel.as_bytes(), &epoch.to_be_bytes()],
    )
    .unwrap();

    let document = DocumentDescription {
        attachment_id: AttachmentId::from_bytes(uuid(&mut rng)),
        file_key: AttachmentKey::from_secret_bytes(draw::<32>(&mut rng)),
        size: 200_000,
        ciphertext_sha256: draw::<32>(&mut rng),
        name: "intake-verslag.pdf".into(),
        media_type: "application/pdf".into(),
    };
    let doc_bytes = document.encode().unwrap().to_vec();
    let contents: Vec<(&str, SharedItemKind, &TestIdentity, Vec<u8>)> = vec![
        (
            "message_from_client",
            SharedItemKind::Message,
            &client,
            "Goedemorgen! Zullen we donderdag om 10:00 afspreken?"
                .as_bytes()
                .to_vec(),
        ),
        ("message_empty", SharedItemKind::Message, &coach, Vec::new()),
        (
            "document_from_coach",
            SharedItemKind::Document,
            &coach,
            doc_bytes.clone(),
        ),
    ];
    let mut positive = Vec::new();
    let mut first: Option<(Vec<u8>, ItemId)> = None;
    for (name, kind, author, content) in contents {
        let item_id = ItemId::from_bytes(uuid(&mut rng));
        let nonce = draw::<24>(&mut rng);
        let sealed = item::seal_item(
            &mut ScriptedRng::new(&[&nonce]),
            &key,
            item_id,
            kind,
            &author.keys,
            &content,
        )
        .unwrap()
        .encode();
        let opened = SealedItem::decode(&sealed)
            .unwrap()
            .open(&key, item_id, author.keys.bundle())
            .unwrap();
        assert_eq!(opened.content(), &content[..]);
        let aad = item_aad(&rel, epoch, &item_id, kind.into(), &author.keys.user_id());
        let sig_msg = [
            b"kluis/v1/item-signature".as_slice(),
            &[0],
            &aad,
            &Sha256::digest(&content),
        ]
        .concat();
        positive.push(json!({"name": name, "seed": seed,
            "inputs": {"author": identity_json(author), "relationship_id": h(rel.as_bytes()), "epoch": epoch.0,
                "epoch_key": h(&key_bytes), "item_id": h(item_id.as_bytes()), "kind": ItemKind::from(kind) as u8,
                "content": h(&content), "nonce": h(&nonce)},
            "expected": {"item_key": h(&item_key[..]), "aad": h(&aad), "signature_message": h(&sig_msg),
                "sealed_item": h(&sealed)}}));
        if first.is_none() {
            first = Some((sealed, item_id));
        }
    }

    let (sealed, item_id) = first.unwrap();
    let mut neg = Vec::new();
    let open_as = |bytes: &[u8], key: &RelationshipKey, id: ItemId, author: &TestIdentity| {
        SealedItem::decode(bytes).and_then(|s| s.open(key, id, author.keys.bundle()))
    };
    let ctx = |bytes: &[u8],
               rel: &RelationshipId,
               epoch: Epoch,
               key: &[u8; 32],
               id: &ItemId,
               author: &TestIdentity| {
        json!({"sealed_item": h(bytes), "relationship_id": h(rel.as_bytes()), "epoch": epoch.0, "epoch_key": h(key),
            "expected_item_id": h(id.as_bytes()), "author": identity_json(author)})
    };
    // Moved to another relationship: the header is rewritten, and the client
    // opens it with that relationship's key.
    let other_rel = RelationshipId::from_bytes(uuid(&mut rng));
    let other_key_bytes = draw::<32>(&mut rng);
    let other_key = RelationshipKey::from_parts(
        other_rel,
        epoch,
        EpochKeyBytes::from_secret_bytes(other_key_bytes),
    );
    let mut moved = sealed.clone();
    moved[2..18].copy_from_slice(other_rel.as_bytes());
    negative(
        &mut neg,
        "fail_moved_to_other_relationship",
        open_as(&moved, &other_key, item_id, &client),
        "Decryption",
        ctx(
            &moved,
            &other_rel,
            epoch,
            &other_key_bytes,
            &item_id,
            &client,
        ),
    );
    // Moved to another relationship that, for the sake of the test, shares
    // the epoch key: only the AD binding stops it.
    let same_key_other_rel = RelationshipKey::from_parts(
        other_rel,
        epoch,
        EpochKeyBytes::from_secret_bytes(key_bytes),
    );
    negative(
        &mut neg,
        "fail_moved_to_other_relationship_same_key",
        open_as(&moved, &same_key_other_rel, item_id, &client),
        "Decryption",
        ctx(&moved, &other_rel, epoch, &key_bytes, &item_id, &client),
    );
    let mut moved = sealed.clone();
    moved[18..22].copy_from_slice(&1u32.to_be_bytes());
    let epoch1 =
        RelationshipKey::from_parts(rel, Epoch(1), EpochKeyBytes::from_secret_bytes(key_bytes));
    negative(
        &mut neg,
        "fail_moved_to_other_epoch",
        open_as(&moved, &epoch1, item_id, &client),
        "Decryption",
        ctx(&moved, &rel, Epoch(1), &key_bytes, &item_id, &client),
    );
    let other_id = ItemId::from_bytes(uuid(&mut rng));
    let mut moved = sealed.clone();
    moved[22..38].copy_from_slice(other_id.as_bytes());
    negative(
        &mut neg,
        "fail_moved_to_other_item_id",
        open_as(&moved, &key, other_id, &client),
        "Decryption",
        ctx(&moved, &rel, epoch, &key_bytes, &other_id, &client),
    );
    negative(
        &mut neg,
        "fail_listed_under_other_item_id",
        open_as(&sealed, &key, other_id, &client),
        "Decryption",
        ctx(&sealed, &rel, epoch, &key_bytes, &other_id, &client),
    );
    let mut relabelled = sealed.clone();
    relabelled[38] = ItemKind::Document as u8;
    negative(
        &mut neg,
        "fail_kind_changed",
        open_as(&relabelled, &key, item_id, &client),
        "Decryption",
        ctx(&relabelled, &rel, epoch, &key_bytes, &item_id, &client),
    );
    let mut reauthored = sealed.clone();
    reauthored[39..55].copy_from_slice(coach.keys.user_id().as_bytes());
    negative(
        &mut neg,
        "fail_author_changed",
        open_as(&reauthored, &key, item_id, &coach),
        "Decryption",
        ctx(&reauthored, &rel, epoch, &key_bytes, &item_id, &coach),
    );
    // A member forges a message in the other's name: the coach holds the
    // epoch key, writes the client's id as author and signs with the
    // coach's own key. AEAD passes; the signature does not.
    let forged_id = ItemId::from_bytes(uuid(&mut rng));
    let forged_nonce = draw::<24>(&mut rng);
    let forged = forge_item(
        &key_bytes,
        &rel,
        epoch,
        &forged_id,
        &client.keys.user_id(),
        &coach.keys,
        b"Ik stop met de coaching.",
        &forged_nonce,
    );
    negative(
        &mut neg,
        "fail_forged_author",
        open_as(&forged, &key, forged_id, &client),
        "Decryption",
        ctx(&forged, &rel, epoch, &key_bytes, &forged_id, &client),
    );
    for (i, what) in [
        (60usize, "nonce"),
        (90, "ciphertext"),
        (sealed.len() - 1, "tag"),
    ] {
        let t = flip(&sealed, i);
        negative(
            &mut neg,
            &format!("fail_flipped_{what}_bit"),
            open_as(&t, &key, item_id, &client),
            "Decryption",
            ctx(&t, &rel, epoch, &key_bytes, &item_id, &client),
        );
    }
    let mut long = sealed.clone();
    long.push(0);
    negative(
        &mut neg,
        "fail_trailing_bytes",
        open_as(&long, &key, item_id, &client),
        "TrailingBytes",
        ctx(&long, &rel, epoch, &key_bytes, &item_id, &client),
    );
    let short = &sealed[..sealed.len() - 1];
    negative(
        &mut neg,
        "fail_truncated",
        open_as(short, &key, item_id, &client),
        "Truncated",
        ctx(short, &rel, epoch, &key_bytes, &item_id, &client),
    );
    let mut v2 = sealed.clone();
    v2[0] = 2;
    negative(
        &mut neg,
        "fail_unknown_version",
        open_as(&v2, &key, item_id, &client),
        "UnsupportedVersion",
        ctx(&v2, &rel, epoch, &key_bytes, &item_id, &client),
    );
    let mut unknown_kind = sealed.clone();
    unknown_kind[38] = 9;
    negative(
        &mut neg,
        "fail_unknown_kind",
        open_as(&unknown_kind, &key, item_id, &client),
        "InvalidField",
        ctx(&unknown_kind, &rel, epoch, &key_bytes, &item_id, &client),
    );
    // Lengths outside 80 ≤ ct_len ≤ 8 388 688 (§8.5), rejected by the
    // decoder before any key is used. The short ones are real AEAD outputs
    // under the item key, so only the length rule can refuse them.
    let header = &sealed[..55];
    let short_nonce = draw::<24>(&mut rng);
    let with_ciphertext =
        |ct: &[u8]| [header, &short_nonce, &(ct.len() as u32).to_be_bytes(), ct].concat();
    let seal_plain = |plain: &[u8]| {
        kluis_crypto::__internal::xchacha_seal(&item_key, &short_nonce, header, plain).unwrap()
    };
    for (name, bytes, expected) in [
        (
            // A signature one byte short: 63 bytes of plaintext, ct_len 79.
            "fail_plaintext_shorter_than_signature",
            with_ciphertext(&seal_plain(&[0x5a; 63])),
            "InvalidField",
        ),
        (
            "fail_ciphertext_tag_only",
            with_ciphertext(&seal_plain(&[])),
            "InvalidField",
        ),
        (
            "fail_ciphertext_empty",
            with_ciphertext(&[]),
            "InvalidField",
        ),
        (
            // One byte over the maximum; the decoder refuses the length
            // before it reads (or waits for) the 8 MiB that would follow.
            "fail_ciphertext_over_maximum",
            [header, &short_nonce[..], &(8_388_689u32).to_be_bytes()].concat(),
            "LengthOutOfRange",
        ),
    ] {
        negative(
            &mut neg,
            name,
            open_as(&bytes, &key, item_id, &client),
            expected,
            ctx(&bytes, &rel, epoch, &key_bytes, &item_id, &client),
        );
    }
    // A note-kind item sealed (and signed by its author) under the
    // relationship's item key: the kind is checked before anything else.
    let note_id = ItemId::from_bytes(uuid(&mut rng));
    let note_nonce = draw::<24>(&mut rng);
    let kind3 = forge_sealed(
        &item_key,
        &ItemHeader {
            relationship_id: rel,
            epoch,
            item_id: note_id,
            kind: ItemKind::Note,
            author_id: coach.keys.user_id(),
        },
        &coach.keys,
        b"Notitie in de dialoog.",
        &note_nonce,
    );
    negative(
        &mut neg,
        "fail_note_kind_under_relationship_key",
        open_as(&kind3, &key, note_id, &coach),
        "Decryption",
        ctx(&kind3, &rel, epoch, &key_bytes, &note_id, &coach),
    );
    file(
        "Sealed items: XChaCha20-Poly1305 under the epoch item key, Ed25519 signature inside",
        "PROTOCOL.md §8",
        positive,
        neg,
    )
}

/// Seals an item by hand: AEAD under `item_key` with the header as `ad`,
/// signed by `signer`, whoever the header names as author and whatever
/// its kind.
pub fn forge_sealed(
    item_key: &[u8; 32],
    header: &ItemHeader,
    signer: &IdentityKeyPair,
    content: &[u8],
    nonce: &[u8; 24],
) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let aad = header.encode();
    let (_, seed) = signer.expose_secret_parts();
    let sig = ed25519_dalek::SigningKey::from_bytes(seed)
        .sign(
            &[
                b"kluis/v1/item-signature".as_slice(),
                &[0],
                &aad,
                &Sha256::digest(content),
            ]
            .concat(),
        )
        .to_bytes();
    let ct = kluis_crypto::__internal::xchacha_seal(
        item_key,
        nonce,
        &aad,
        &[&sig[..], content].concat(),
    )
    .unwrap();
    [&aad[..], nonce, &(ct.len() as u32).to_be_bytes(), &ct].concat()
}

/// Builds an item the way a dishonest member would: correct AEAD, a
/// signature by someone other than the named author.
#[allow(clippy::too_many_arguments)]
pub fn forge_item(
    epoch_key: &[u8; 32],
    rel: &RelationshipId,
    epoch: Epoch,
    item_id: &ItemId,
    claimed_author: &UserId,
    signer: &IdentityKeyPair,
    content: &[u8],
    nonce: &[u8; 24],
) -> Vec<u8> {
    let item_key = derive(
        epoch_key,
        labels::ITEM_KEY,
        &[rel.as_bytes(), &epoch.to_be_bytes()],
    )
    .unwrap();
    let header = ItemHeader {
        relationship_id: *rel,
        epoch,
        item_id: *item_id,
        kind: ItemKind::Message,
        author_id: *claimed_author,
    };
    forge_sealed(&item_key, &header, signer, content, nonce)
}

// -------------------------------------------------------------- attachments

pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn encrypt(key: &[u8; 32], id: AttachmentId, prefix: &[u8; 19], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    attachment::encrypt_stream(
        &mut ScriptedRng::new(&[prefix]),
        &AttachmentKey::from_secret_bytes(*key),
        id,
        plaintext,
        &mut out,
        |_| {},
    )
    .unwrap();
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn decrypt(
    key: &[u8; 32],
    id: AttachmentId,
    expected_sha256: &[u8; 32],
    stream: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    attachment::decrypt_stream(
        &AttachmentKey::from_secret_bytes(*key),
        id,
        expected_sha256,
        stream,
        &mut out,
        |_| {},
    )
    .map(|_| out)
}

const H: usize = attachment::ATTACHMENT_HEADER_LEN;

fn chunk_range(i: usize) -> std::ops::Range<usize> {
    H + i * SEALED_CHUNK_SIZE..H + (i + 1) * SEALED_CHUNK_SIZE
}

pub fn attachment_stream() -> Value {
    let (mut rng, seed) = seeded("attachment_stream");
    let mut positive = Vec::new();
    let sizes = [
        ("empty", 0usize),
        ("one_short_chunk", 1000),
        ("exact_chunk_boundary", CHUNK_SIZE),
        ("two_exact_chunks", 2 * CHUNK_SIZE),
        ("many_chunks", 3 * CHUNK_SIZE + 1234),
    ];
    let mut streams = std::collections::BTreeMap::new();
    for (name, len) in sizes {
        let key = draw::<32>(&mut rng);
        let id = AttachmentId::from_bytes(uuid(&mut rng));
        let prefix = draw::<19>(&mut rng);
        let plaintext = pattern(len);
        let stream = encrypt(&key, id, &prefix, &plaintext);
        assert_eq!(
            decrypt(&key, id, &sha256(&stream), &stream).unwrap(),
            plaintext
        );
        let chunks = if len == 0 {
            1
        } else {
            len.div_ceil(CHUNK_SIZE)
        };
        assert_eq!(stream.len(), H + len + 16 * chunks);
        let stream_key = derive(&key, labels::ATTACHMENT_STREAM, &[id.as_bytes()]).unwrap();
        let mut expected = json!({"stream_key": h(&stream_key[..]), "header": h(&stream[..H]),
            "stream_len": stream.len(), "stream_sha256": h(&Sha256::digest(&stream)),
            "chunk_count": chunks,
            "last_chunk_tag": h(&stream[stream.len() - 16..])});
        if stream.len() <= 4096 {
            expected["stream"] = json!(h(&stream));
        }
        positive.push(json!({"name": name, "seed": seed,
            "inputs": {"file_key": h(&key), "attachment_id": h(id.as_bytes()), "nonce_prefix": h(&prefix),
                "plaintext_len": len, "plaintext": "byte i is i mod 251"},
            "expected": expected}));
        streams.insert(name, (key, id, stream));
    }

    // Negative cases are edits of the positive streams above, described as
    // operations so that the file stays small; the checker recomputes the
    // stream, applies the edit and must fail to decrypt.
    let mut neg = Vec::new();
    let (key, id, many) = streams["many_chunks"].clone();
    // The expected SHA-256 is the base stream's, as the signed document
    // description states it.
    let digest = sha256(&many);
    let base = |op: Value| json!({"base": "many_chunks", "edit": op, "expected_stream_sha256": "stream_sha256 of the base"});
    let last = many.len();
    let mut t = many.clone();
    t.truncate(chunk_range(2).end);
    negative(
        &mut neg,
        "fail_truncated_after_full_chunk",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(json!({"op": "truncate", "len": t.len()})),
    );
    let mut t = many.clone();
    t.truncate(last - 1);
    negative(
        &mut neg,
        "fail_truncated_inside_last_chunk",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(json!({"op": "truncate", "len": t.len()})),
    );
    negative(
        &mut neg,
        "fail_header_only",
        decrypt(&key, id, &digest, &many[..H]),
        "Decryption",
        base(json!({"op": "truncate", "len": H})),
    );
    let mut t = many.clone();
    let (a, b) = (chunk_range(0), chunk_range(1));
    let c0 = many[a.clone()].to_vec();
    t[a].copy_from_slice(&many[b.clone()]);
    t[b].copy_from_slice(&c0);
    negative(
        &mut neg,
        "fail_reordered_chunks",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(json!({"op": "swap_chunks", "a": 0, "b": 1})),
    );
    let mut t = many.clone();
    t.extend_from_slice(&many[chunk_range(0)]);
    negative(
        &mut neg,
        "fail_extended_with_chunk",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(json!({"op": "append_chunk_copy", "chunk": 0})),
    );
    let mut t = many.clone();
    t.push(0);
    negative(
        &mut neg,
        "fail_extended_by_one_byte",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(json!({"op": "append", "bytes": "00"})),
    );
    let (_, _, other) = streams["two_exact_chunks"].clone();
    let mut t = many.clone();
    t[chunk_range(1)].copy_from_slice(&other[chunk_range(1)]);
    negative(
        &mut neg,
        "fail_chunk_from_other_file",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(
            json!({"op": "replace_chunk", "chunk": 1, "from": "two_exact_chunks", "from_chunk": 1}),
        ),
    );
    for (i, what) in [
        (5usize, "header"),
        (H + 100, "first_chunk"),
        (last - 1, "last_tag"),
    ] {
        let t = flip(&many, i);
        negative(
            &mut neg,
            &format!("fail_flipped_bit_{what}"),
            decrypt(&key, id, &digest, &t),
            "Decryption",
            base(json!({"op": "flip_bit", "offset": i, "mask": 1})),
        );
    }
    // A changed nonce prefix: the header still decodes and names the right
    // attachment, but every chunk's nonce (and its ad) changed.
    let t = flip(&many, 18 + 7);
    negative(
        &mut neg,
        "fail_flipped_bit_nonce_prefix",
        decrypt(&key, id, &digest, &t),
        "Decryption",
        base(json!({"op": "flip_bit", "offset": 18 + 7, "mask": 1})),
    );
    // A header that does not decode (§9.3 step 1): the decoder's error.
    let mut t = many.clone();
    t[0] ^= 0x03;
    negative(
        &mut neg,
        "fail_header_unknown_version",
        decrypt(&key, id, &digest, &t),
        "UnsupportedVersion",
        base(json!({"op": "flip_bit", "offset": 0, "mask": 3})),
    );
    let t = flip(&many, 1);
    negative(
        &mut neg,
        "fail_header_wrong_envelope_type",
        decrypt(&key, id, &digest, &t),
        "WrongEnvelopeType",
        base(json!({"op": "flip_bit", "offset": 1, "mask": 1})),
    );
    // Shorter than a header: refused before decoding.
    negative(
        &mut neg,
        "fail_shorter_than_header",
        decrypt(&key, id, &digest, &many[..20]),
        "Decryption",
        base(json!({"op": "truncate", "len": 20})),
    );
    // A final block of 1 and of 15 bytes, shorter than a tag.
    for n in [1usize, 15] {
        let len = chunk_range(2).end + n;
        negative(
            &mut neg,
            &format!("fail_final_block_of_{n}_bytes"),
            decrypt(&key, id, &digest, &many[..len]),
            "Decryption",
            base(json!({"op": "truncate", "len": len})),
        );
    }
    negative(
        &mut neg,
        "fail_one_byte_after_header",
        decrypt(&key, id, &digest, &many[..H + 1]),
        "Decryption",
        base(json!({"op": "truncate", "len": H + 1})),
    );
    let other_id = AttachmentId::from_bytes(uuid(&mut rng));
    negative(
        &mut neg,
        "fail_expected_other_attachment_id",
        decrypt(&key, other_id, &digest, &many),
        "Decryption",
        base(json!({"op": "expect_attachment_id", "attachment_id": h(other_id.as_bytes())})),
    );
    // Non-canonical: a full chunk sealed as non-final, then an empty final.
    let (key1, id1, exact) = streams["exact_chunk_boundary"].clone();
    let header = AttachmentHeader::decode(&exact[..H]).unwrap();
    let nonce_prefix: [u8; 19] = exact[H - 19..H].try_into().unwrap();
    let (mut sealer, again) = ChunkSealer::new(
        &mut ScriptedRng::new(&[&nonce_prefix]),
        &AttachmentKey::from_secret_bytes(key1),
        id1,
    )
    .unwrap();
    assert_eq!(again, header);
    let full = sealer.seal_chunk(&pattern(CHUNK_SIZE)).unwrap();
    let empty_final = raw_empty_final(&key1, &id1, &nonce_prefix, &exact[..H]);
    let t = [&exact[..H], &full, &empty_final].concat();
    negative(
        &mut neg,
        "fail_empty_final_chunk_after_full_chunk",
        // Checked against the hash of the edited stream itself, so that only
        // the canonical-form rule can reject it.
        decrypt(&key1, id1, &sha256(&t), &t),
        "Decryption",
        json!({"base": "exact_chunk_boundary", "edit": {"op": "reseal_as_nonfinal_then_empty_final",
            "empty_final_chunk": h(&empty_final)}, "expected_stream_sha256": "sha256 of the edited stream"}),
    );
    // A member re-encrypts other content under the same file key and id:
    // every chunk authenticates, the signed hash does not.
    let (_, _, short) = streams["one_short_chunk"].clone();
    let short_prefix: [u8; 19] = short[H - 19..H].try_into().unwrap();
    let swapped = encrypt(&key, id, &short_prefix, b"other content");
    assert!(decrypt(&key, id, &sha256(&swapped), &swapped).is_ok());
    negative(
        &mut neg,
        "fail_member_swapped_file_content",
        decrypt(&key, id, &digest, &swapped),
        "Decryption",
        json!({"base": "many_chunks", "edit": {"op": "replace_stream", "stream": h(&swapped),
            "note": "'other content' encrypted under the base's file key and attachment id with the nonce prefix of one_short_chunk"},
            "expected_stream_sha256": "stream_sha256 of the base"}),
    );
    file("Attachment stream: STREAM (BE32 counter, last flag) over XChaCha20-Poly1305, 64 KiB chunks", "PROTOCOL.md §9", positive, neg)
}

/// The empty final chunk at position 1, sealed directly with the AEAD: no
/// honest sealer produces it.
fn raw_empty_final(
    file_key: &[u8; 32],
    id: &AttachmentId,
    prefix: &[u8; 19],
    header: &[u8],
) -> Vec<u8> {
    let stream_key = derive(file_key, labels::ATTACHMENT_STREAM, &[id.as_bytes()]).unwrap();
    let nonce: [u8; 24] = [&prefix[..], &1u32.to_be_bytes(), &[1]]
        .concat()
        .try_into()
        .unwrap();
    kluis_crypto::__internal::xchacha_seal(&stream_key, &nonce, header, &[]).unwrap()
}

// -------------------------------------------------------------------- notes

pub fn notes_file() -> Value {
    let (mut rng, seed) = seeded("notes");
    let coach = identity(&mut rng);
    let other_coach = identity(&mut rng);
    let key_bytes = draw::<32>(&mut rng);
    let generation = Epoch(0);
    let key = NotesKey::from_parts(
        coach.keys.user_id(),
        generation,
        NotesKeyBytes::from_secret_bytes(key_bytes),
    );
    let ikm_e = draw::<32>(&mut rng);
    let sealed_key = key
        .seal(&mut ScriptedRng::new(&[&ikm_e]), &coach.keys)
        .unwrap()
        .encode();
    assert_eq!(
        SealedNotesKey::decode(&sealed_key)
            .unwrap()
            .open(&coach.keys)
            .unwrap(),
        key
    );
    let info = [
        b"kluis/v1/notes-key-seal".as_slice(),
        &[0, 1],
        coach.keys.user_id().as_bytes(),
        &generation.to_be_bytes(),
        &coach.keys.bundle().fingerprint().0,
    ]
    .concat();

    let rel = RelationshipId::from_bytes(uuid(&mut rng));
    let item_id = ItemId::from_bytes(uuid(&mut rng));
    let nonce = draw::<24>(&mut rng);
    let content =
        "Cliënt lijkt vast te lopen op de verwachtingen van thuis; volgende keer naar vragen."
            .as_bytes();
    let note = item::seal_note(
        &mut ScriptedRng::new(&[&nonce]),
        &key,
        rel,
        item_id,
        &coach.keys,
        content,
    )
    .unwrap()
    .encode();
    let note_key = derive(
        &key_bytes,
        labels::NOTE_ITEM_KEY,
        &[rel.as_bytes(), &generation.to_be_bytes()],
    )
    .unwrap();
    let aad = item_aad(
        &rel,
        generation,
        &item_id,
        ItemKind::Note,
        &coach.keys.user_id(),
    );

    let positive = vec![
        json!({"name": "sealed_notes_key", "seed": seed,
            "inputs": {"coach": identity_json(&coach), "notes_key": h(&key_bytes), "generation": generation.0, "ikm_e": h(&ikm_e)},
            "expected": {"info": h(&info), "aad": "", "hpke_suite": {"mode": 2, "kem_id": 32, "kdf_id": 1, "aead_id": 3},
                "sealed_notes_key": h(&sealed_key)}}),
        json!({"name": "note_item", "seed": seed,
            "inputs": {"coach": identity_json(&coach), "notes_key": h(&key_bytes), "generation": generation.0,
                "relationship_id": h(rel.as_bytes()), "item_id": h(item_id.as_bytes()), "content": h(content), "nonce": h(&nonce)},
            "expected": {"note_item_key": h(&note_key[..]), "aad": h(&aad), "sealed_item": h(&note)}}),
    ];

    let mut neg = Vec::new();
    let open_key = |bytes: &[u8], me: &TestIdentity| {
        SealedNotesKey::decode(bytes).and_then(|s| s.open(&me.keys))
    };
    let mut other = sealed_key.clone();
    other[2..18].copy_from_slice(other_coach.keys.user_id().as_bytes());
    other[22..54].copy_from_slice(&other_coach.keys.bundle().fingerprint().0);
    negative(
        &mut neg,
        "fail_notes_key_relabelled_to_other_coach",
        open_key(&other, &other_coach),
        "Decryption",
        json!({"sealed_notes_key": h(&other), "coach": identity_json(&other_coach)}),
    );
    let t = flip(&sealed_key, sealed_key.len() - 1);
    negative(
        &mut neg,
        "fail_notes_key_flipped_tag_bit",
        open_key(&t, &coach),
        "Decryption",
        json!({"sealed_notes_key": h(&t), "coach": identity_json(&coach)}),
    );
    let mut gen1 = sealed_key.clone();
    gen1[18..22].copy_from_slice(&1u32.to_be_bytes());
    negative(
        &mut neg,
        "fail_notes_key_other_generation",
        open_key(&gen1, &coach),
        "Decryption",
        json!({"sealed_notes_key": h(&gen1), "coach": identity_json(&coach)}),
    );

    let open_note = |bytes: &[u8], rel: RelationshipId| {
        SealedItem::decode(bytes).and_then(|s| s.open_note(&key, rel, item_id, coach.keys.bundle()))
    };
    let other_rel = RelationshipId::from_bytes(uuid(&mut rng));
    let mut moved = note.clone();
    moved[2..18].copy_from_slice(other_rel.as_bytes());
    negative(
        &mut neg,
        "fail_note_moved_to_other_relationship",
        open_note(&moved, other_rel),
        "Decryption",
        json!({"sealed_item": h(&moved), "notes_key": h(&key_bytes), "generation": 0, "coach": identity_json(&coach),
            "expected_relationship_id": h(other_rel.as_bytes()), "expected_item_id": h(item_id.as_bytes())}),
    );
    let mut as_message = note.clone();
    as_message[38] = ItemKind::Message as u8;
    negative(
        &mut neg,
        "fail_note_relabelled_as_message",
        open_note(&as_message, rel),
        "Decryption",
        json!({"sealed_item": h(&as_message), "notes_key": h(&key_bytes), "generation": 0, "coach": identity_json(&coach),
            "expected_relationship_id": h(rel.as_bytes()), "expected_item_id": h(item_id.as_bytes())}),
    );
    // `enc` replaced by small-order X25519 points (u = 0, and a point of
    // order 8): the DH output is all zeros, which HPKE refuses.
    for (name, enc) in [
        ("fail_notes_key_enc_zero", [0u8; 32].to_vec()),
        (
            "fail_notes_key_enc_order_8",
            hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
                .unwrap(),
        ),
    ] {
        let mut t = sealed_key.clone();
        t[54..86].copy_from_slice(&enc);
        negative(
            &mut neg,
            name,
            open_key(&t, &coach),
            "Decryption",
            json!({"sealed_notes_key": h(&t), "coach": identity_json(&coach)}),
        );
    }
    // Sealed by someone other than the coach (HPKE Auth with the other's
    // X25519 key as skS), to the coach's key, header and info exact: Auth
    // mode is what refuses it.
    let client = identity(&mut rng);
    let ikm_other = draw::<32>(&mut rng);
    let (enc, ct) = kluis_crypto::__internal::hpke_auth_seal(
        &client.dh_secret,
        client.keys.bundle().dh_public(),
        coach.keys.bundle().dh_public(),
        &info,
        &[],
        &key_bytes,
        &mut ScriptedRng::new(&[&ikm_other]),
    )
    .unwrap();
    let by_other = [&sealed_key[..54], &enc, &ct].concat();
    negative(
        &mut neg,
        "fail_notes_key_sealed_by_other",
        open_key(&by_other, &coach),
        "Decryption",
        json!({"sealed_notes_key": h(&by_other), "coach": identity_json(&coach),
            "sealer": identity_json(&client), "sealed_to": identity_json(&coach),
            "notes_key": h(&key_bytes), "generation": generation.0, "ikm_e": h(&ikm_other)}),
    );
    // Sealed by the coach's previous identity (same user id, other keys) to
    // itself: the header names the old fingerprint, the current identity
    // refuses it.
    let previous_keys = (draw::<32>(&mut rng), draw::<32>(&mut rng));
    let previous = TestIdentity {
        keys: IdentityKeyPair::generate(
            &mut ScriptedRng::new(&[&previous_keys.0, &previous_keys.1]),
            coach.keys.user_id(),
        ),
        dh_secret: previous_keys.0,
        signing_seed: previous_keys.1,
    };
    let ikm_previous = draw::<32>(&mut rng);
    let stale = key
        .seal(&mut ScriptedRng::new(&[&ikm_previous]), &previous.keys)
        .unwrap()
        .encode();
    assert!(open_key(&stale, &previous).is_ok());
    negative(
        &mut neg,
        "fail_notes_key_stale_coach_fingerprint",
        open_key(&stale, &coach),
        "Decryption",
        json!({"sealed_notes_key": h(&stale), "coach": identity_json(&coach),
            "sealer": identity_json(&previous), "sealed_to": identity_json(&previous),
            "notes_key": h(&key_bytes), "generation": generation.0, "ikm_e": h(&ikm_previous)}),
    );

    // Notes that the notes key's coach did not write, sealed correctly
    // under the note item key.
    let by_client_id = ItemId::from_bytes(uuid(&mut rng));
    let by_client_nonce = draw::<24>(&mut rng);
    let by_client = forge_sealed(
        &note_key,
        &ItemHeader {
            relationship_id: rel,
            epoch: generation,
            item_id: by_client_id,
            kind: ItemKind::Note,
            author_id: client.keys.user_id(),
        },
        &client.keys,
        b"Door de client geschreven.",
        &by_client_nonce,
    );
    let open_note_by = |bytes: &[u8], id: ItemId, author: &TestIdentity| {
        SealedItem::decode(bytes).and_then(|s| s.open_note(&key, rel, id, author.keys.bundle()))
    };
    let note_case = |bytes: &[u8], id: &ItemId, author: &TestIdentity| {
        json!({"sealed_item": h(bytes), "notes_key": h(&key_bytes), "generation": 0, "coach": identity_json(&coach),
            "author": identity_json(author),
            "expected_relationship_id": h(rel.as_bytes()), "expected_item_id": h(id.as_bytes())})
    };
    // Opened by the coach as a note of the coach's: the author id differs.
    negative(
        &mut neg,
        "fail_note_by_non_coach",
        open_note_by(&by_client, by_client_id, &coach),
        "Decryption",
        note_case(&by_client, &by_client_id, &coach),
    );
    // Opened with the writer's own bundle as the author: the author is not
    // the notes key's coach.
    negative(
        &mut neg,
        "fail_note_author_not_the_notes_key_coach",
        open_note_by(&by_client, by_client_id, &client),
        "Decryption",
        note_case(&by_client, &by_client_id, &client),
    );
    // The coach named as author, but signed by someone else.
    let forged_id = ItemId::from_bytes(uuid(&mut rng));
    let forged_nonce = draw::<24>(&mut rng);
    let forged = forge_sealed(
        &note_key,
        &ItemHeader {
            relationship_id: rel,
            epoch: generation,
            item_id: forged_id,
            kind: ItemKind::Note,
            author_id: coach.keys.user_id(),
        },
        &client.keys,
        b"Niet door de coach ondertekend.",
        &forged_nonce,
    );
    negative(
        &mut neg,
        "fail_note_forged_signature",
        open_note_by(&forged, forged_id, &coach),
        "Decryption",
        note_case(&forged, &forged_id, &coach),
    );
    file(
        "Coach-private notes: notes key sealed to self with HPKE Auth mode; note items",
        "PROTOCOL.md §10",
        positive,
        neg,
    )
}

// ------------------------------------------------------------------ OPAQUE

/// A random scalar below 2^252 (so below ℓ), as 32 little-endian bytes.
fn small_scalar(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut b = draw::<32>(rng);
    b[31] &= 0x0f;
    b
}

/// What the OPAQUE code draws for one scalar (`Scalar::random`: 64 bytes,
/// reduced mod ℓ): the scalar and 32 zero bytes reduce to the scalar.
fn wide(scalar: &[u8; 32]) -> Vec<u8> {
    [&scalar[..], &[0u8; 32]].concat()
}

pub fn opaque_file() -> Value {
    use curve25519_dalek::{RistrettoPoint, Scalar};
    use kluis_crypto::opaque::{self, ServerSetupKey};
    use unicode_normalization::UnicodeNormalization;

    let (mut rng, seed) = seeded("opaque");
    let user = UserId::from_bytes(uuid(&mut rng));
    let credential_identifier = *user.as_bytes();
    let oprf_seed = draw::<64>(&mut rng);
    let server_sk = small_scalar(&mut rng);
    let dummy_sk = small_scalar(&mut rng);
    let blind_registration = small_scalar(&mut rng);
    let envelope_nonce = draw::<32>(&mut rng);
    let blind_login = small_scalar(&mut rng);
    let client_keyshare_seed = draw::<32>(&mut rng);
    let client_nonce = draw::<32>(&mut rng);
    let dummy_masking_key = draw::<64>(&mut rng);
    let masking_nonce = draw::<32>(&mut rng);
    let server_keyshare_seed = draw::<32>(&mut rng);
    let server_nonce = draw::<32>(&mut rng);

    // A password as a keyboard may deliver it (NFD: "e" + U+0308) and the
    // bytes that enter OPAQUE: UTF-8 of its NFC form (§3).
    let typed = "Vliegende-Kiwi-42-Zoe\u{308}";
    let password: String = typed.nfc().collect();
    assert_eq!(password, "Vliegende-Kiwi-42-Zo\u{eb}");
    let pw = password.as_bytes();

    let point = |sk: &[u8; 32]| {
        (RistrettoPoint::mul_base(&Scalar::from_canonical_bytes(*sk).unwrap()))
            .compress()
            .to_bytes()
    };
    let server_pk = point(&server_sk);
    // opaque-ke's serialization of the setup: OPRF seed, server private
    // key, and the public key of the fake records it answers unknown
    // accounts with (which no output here depends on).
    let setup_bytes = [&oprf_seed[..], &server_sk, &point(&dummy_sk)].concat();
    let setup = || ServerSetupKey::from_secret_bytes(&setup_bytes).unwrap();

    // Registration.
    let mut r = ScriptedRng::new(&[&wide(&blind_registration)]);
    let (request, client_state) = opaque::client_registration_start(&mut r, pw).unwrap();
    r.assert_drained();
    let response =
        opaque::server_registration_start(&setup(), &request, &credential_identifier).unwrap();
    assert_eq!(&response[32..], &server_pk);
    let mut r = ScriptedRng::new(&[&envelope_nonce]);
    let (upload, export_at_registration) = client_state.finish(&mut r, pw, &response).unwrap();
    r.assert_drained();
    let record = opaque::server_registration_finish(&upload).unwrap();
    assert_eq!(record, upload);

    // Login.
    let login_start = |pw: &[u8]| {
        let mut r = ScriptedRng::new(&[&wide(&blind_login), &client_keyshare_seed, &client_nonce]);
        let out = opaque::client_login_start(&mut r, pw).unwrap();
        r.assert_drained();
        out
    };
    let server_start = |ke1: &[u8], credential: &[u8]| {
        let mut r = ScriptedRng::new(&[
            &dummy_masking_key,
            &masking_nonce,
            &server_keyshare_seed,
            &server_nonce,
        ]);
        let out =
            opaque::server_login_start(&mut r, &setup(), Some(&record), ke1, credential).unwrap();
        r.assert_drained();
        out
    };
    let (ke1, client_login) = login_start(pw);
    let (ke2, server_login) = server_start(&ke1, &credential_identifier);
    let mut none = ScriptedRng::new(&[]);
    let done = client_login.finish(&mut none, pw, &ke2).unwrap();
    let server_session = server_login.finish(&done.finalization).unwrap();
    assert_eq!(server_session, done.session_key);
    assert_eq!(done.export_key, export_at_registration);

    let base = "registration_then_login";
    let positive = vec![json!({"name": base, "seed": seed,
        "inputs": {
            "password_typed": typed, "password": password, "password_bytes": h(pw),
            "credential_identifier": h(&credential_identifier), "user_id_text": user.to_string(),
            "context": std::str::from_utf8(opaque::OPAQUE_CONTEXT).unwrap(),
            "argon2id": {"version": 19, "memory_kib": opaque::ARGON2_MEMORY_KIB,
                "passes": opaque::ARGON2_ITERATIONS, "lanes": opaque::ARGON2_PARALLELISM,
                "salt": h(&[0u8; 16]), "output_len": 64},
            "oprf_seed": h(&oprf_seed), "server_private_key": h(&server_sk),
            "blind_registration": h(&blind_registration), "envelope_nonce": h(&envelope_nonce),
            "blind_login": h(&blind_login), "client_keyshare_seed": h(&client_keyshare_seed),
            "client_nonce": h(&client_nonce), "dummy_masking_key": h(&dummy_masking_key),
            "masking_nonce": h(&masking_nonce), "server_keyshare_seed": h(&server_keyshare_seed),
            "server_nonce": h(&server_nonce)},
        "expected": {
            "server_public_key": h(&server_pk),
            "registration_request": h(&request), "registration_response": h(&response),
            "registration_record": h(&record), "export_key": h(export_at_registration.expose_secret()),
            "ke1": h(&ke1), "ke2": h(&ke2), "ke3": h(&done.finalization),
            "session_key": h(done.session_key.expose_secret())}})];

    let mut neg = Vec::new();
    let client_finish = |pw: &[u8], ke2: &[u8]| {
        let (_, state) = login_start(pw);
        state
            .finish(&mut ScriptedRng::new(&[]), pw, ke2)
            .map(|d| d.finalization)
    };
    // The NFD bytes, unnormalised: another password.
    let nfd = typed.as_bytes();
    negative(
        &mut neg,
        "fail_login_with_unnormalised_nfd_bytes",
        client_finish(
            nfd,
            &server_start(&login_start(nfd).0, &credential_identifier).0,
        ),
        "LoginFailed",
        json!({"base": base, "edit": {"op": "login_password_bytes", "password_bytes": h(nfd)}}),
    );
    for (name, offset) in [
        ("fail_ke2_flipped_masked_response_bit", 64 + 10),
        ("fail_ke2_flipped_server_mac_bit", ke2.len() - 1),
    ] {
        negative(
            &mut neg,
            name,
            client_finish(pw, &flip(&ke2, offset)),
            "LoginFailed",
            json!({"base": base, "edit": {"op": "flip_ke2_bit", "offset": offset, "mask": 1}}),
        );
    }
    let (_, server_login) = server_start(&ke1, &credential_identifier);
    negative(
        &mut neg,
        "fail_ke3_flipped_bit",
        server_login.finish(&flip(&done.finalization, 5)),
        "LoginFailed",
        json!({"base": base, "edit": {"op": "flip_ke3_bit", "offset": 5, "mask": 1}}),
    );
    // The server answers with the user id as UUID text instead of its 16
    // bytes: another OPRF key, so the record no longer opens.
    let as_text = user.to_string();
    negative(
        &mut neg,
        "fail_credential_identifier_as_text",
        client_finish(pw, &server_start(&ke1, as_text.as_bytes()).0),
        "LoginFailed",
        json!({"base": base, "edit": {"op": "server_credential_identifier",
            "credential_identifier": h(as_text.as_bytes())}}),
    );
    file(
        "OPAQUE (RFC 9807) with Kluis's configuration: ristretto255-SHA512, 3DH, Argon2id (64 MiB, t = 3, p = 1)",
        "PROTOCOL.md §3",
        positive,
        neg,
    )
}

// ------------------------------------------------------------ safety number

pub fn safety_number() -> Value {
    let (mut rng, seed) = seeded("safety_number");
    let a = identity(&mut rng);
    let b = identity(&mut rng);
    let n = SafetyNumber::of(a.keys.bundle(), b.keys.bundle());
    assert_eq!(n, SafetyNumber::of(b.keys.bundle(), a.keys.bundle()));
    let digest = |x: &IdentityBundle| -> [u8; 32] {
        Sha256::digest([b"kluis/v1/safety-number".as_slice(), &[0], x.body()].concat()).into()
    };
    let positive = vec![json!({"name": "pair", "seed": seed,
        "inputs": {"a": identity_json(&a), "b": identity_json(&b)},
        "expected": {"digest_a": h(&digest(a.keys.bundle())), "digest_b": h(&digest(b.keys.bundle())),
            "digits": n.digits(), "display": n.display_groups(), "qr_payload": h(n.qr_payload())}})];
    file("Safety numbers", "PROTOCOL.md §11", positive, vec![])
}

// ---------------------------------------------------------------- envelopes

pub fn envelopes() -> Value {
    let (mut rng, seed) = seeded("envelopes");
    let file_seed = seed.clone();
    let id = identity(&mut rng);
    let doc = DocumentDescription {
        attachment_id: AttachmentId::from_bytes(uuid(&mut rng)),
        file_key: AttachmentKey::from_secret_bytes(draw::<32>(&mut rng)),
        size: 12345,
        ciphertext_sha256: draw::<32>(&mut rng),
        name: "werkblad-waarden.docx".into(),
        media_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            .into(),
    };
    let doc_bytes = doc.encode().unwrap().to_vec();
    assert_eq!(DocumentDescription::decode(&doc_bytes).unwrap(), doc);
    let header =
        AttachmentHeader::decode(&[&[1u8, 5][..], &uuid(&mut rng), &draw::<19>(&mut rng)].concat())
            .unwrap();
    let header_bytes = header.encode().to_vec();
    let mut positive = vec![
        json!({"name": "document_description", "seed": seed,
            "inputs": {"attachment_id": h(doc.attachment_id.as_bytes()), "file_key": h(doc.file_key.expose_secret()),
                "size": doc.size, "ciphertext_sha256": h(&doc.ciphertext_sha256), "name": doc.name, "media_type": doc.media_type},
            "expected": {"encoded": h(&doc_bytes)}}),
        json!({"name": "identity_bundle", "seed": seed, "inputs": identity_json(&id),
            "expected": {"encoded": h(&id.keys.bundle().encode())}}),
        json!({"name": "attachment_header", "seed": seed,
            "inputs": {"attachment_id": h(header.attachment_id().as_bytes()), "nonce_prefix": h(&header_bytes[18..])},
            "expected": {"encoded": h(&header_bytes)}}),
    ];

    let mut neg = Vec::new();
    let dec = |b: &[u8]| DocumentDescription::decode(b);
    let case = |b: &[u8]| json!({"envelope": "document_description", "bytes": h(b)});
    let mut t = doc_bytes.clone();
    t[0] = 0;
    negative(
        &mut neg,
        "fail_unknown_version_zero",
        dec(&t),
        "UnsupportedVersion",
        case(&t),
    );
    t[0] = 2;
    negative(
        &mut neg,
        "fail_unknown_version_two",
        dec(&t),
        "UnsupportedVersion",
        case(&t),
    );
    let mut t = doc_bytes.clone();
    t[1] = 4;
    negative(
        &mut neg,
        "fail_wrong_envelope_type",
        dec(&t),
        "WrongEnvelopeType",
        case(&t),
    );
    let mut t = doc_bytes.clone();
    t.push(0);
    negative(
        &mut neg,
        "fail_trailing_bytes",
        dec(&t),
        "TrailingBytes",
        case(&t),
    );
    let t = &doc_bytes[..doc_bytes.len() - 1];
    negative(&mut neg, "fail_truncated", dec(t), "Truncated", case(t));
    // Name length field (offset 2+16+32+8+32 = 90) claims more than allowed.
    let mut t = doc_bytes.clone();
    t[90..94].copy_from_slice(&2000u32.to_be_bytes());
    negative(
        &mut neg,
        "fail_oversize_length",
        dec(&t),
        "LengthOutOfRange",
        case(&t),
    );
    let mut t = doc_bytes.clone();
    t[90..94].copy_from_slice(&u32::MAX.to_be_bytes());
    negative(
        &mut neg,
        "fail_length_u32_max",
        dec(&t),
        "LengthOutOfRange",
        case(&t),
    );
    let mut t = doc_bytes.clone();
    t[94] = 0xff;
    negative(
        &mut neg,
        "fail_name_not_utf8",
        dec(&t),
        "InvalidField",
        case(&t),
    );
    let mut t = doc_bytes.clone();
    let media_start = 94 + doc.name.len() + 4;
    t[media_start] = 0x0a;
    negative(
        &mut neg,
        "fail_media_type_control_character",
        dec(&t),
        "InvalidField",
        case(&t),
    );
    // A peer-chosen name that would escape a download folder.
    let mut t = doc_bytes.clone();
    t[94..97].copy_from_slice(b"../");
    negative(
        &mut neg,
        "fail_file_name_with_path",
        dec(&t),
        "InvalidField",
        case(&t),
    );
    let mut t = doc_bytes.clone();
    t[100] = 0x07;
    negative(
        &mut neg,
        "fail_file_name_control_character",
        dec(&t),
        "InvalidField",
        case(&t),
    );
    // Names and media types the decoder refuses, in an otherwise canonical
    // description (the encoder refuses them too, so these are built by hand).
    let fixed = &doc_bytes[..90];
    let with = |name: &[u8], media: &[u8]| {
        [
            fixed,
            &(name.len() as u32).to_be_bytes(),
            name,
            &(media.len() as u32).to_be_bytes(),
            media,
        ]
        .concat()
    };
    let media = doc.media_type.as_bytes();
    let name = doc.name.as_bytes();
    for (case_name, bytes, expected) in [
        ("fail_file_name_dot", with(b".", media), "InvalidField"),
        ("fail_file_name_dot_dot", with(b"..", media), "InvalidField"),
        ("fail_file_name_empty", with(b"", media), "InvalidField"),
        (
            "fail_file_name_backslash",
            with(b"..\\werkblad.docx", media),
            "InvalidField",
        ),
        (
            "fail_file_name_slash",
            with(b"map/werkblad.docx", media),
            "InvalidField",
        ),
        (
            "fail_file_name_del",
            with(b"werkblad\x7f.docx", media),
            "InvalidField",
        ),
        (
            // U+0085 NEXT LINE, a C1 control (category Cc), as UTF-8.
            "fail_file_name_c1_control",
            with("werkblad\u{85}.docx".as_bytes(), media),
            "InvalidField",
        ),
        (
            // U+009B CONTROL SEQUENCE INTRODUCER: a terminal escape.
            "fail_file_name_c1_csi",
            with("werkblad\u{9b}2J.docx".as_bytes(), media),
            "InvalidField",
        ),
        (
            // The C1 byte alone is not UTF-8 at all.
            "fail_file_name_raw_c1_byte",
            with(b"werkblad\x85.docx", media),
            "InvalidField",
        ),
        (
            "fail_file_name_1025_bytes",
            with(&[b'a'; 1025], media),
            "LengthOutOfRange",
        ),
        ("fail_media_type_empty", with(name, b""), "InvalidField"),
        (
            "fail_media_type_256_bytes",
            with(name, &[b'a'; 256]),
            "LengthOutOfRange",
        ),
        (
            "fail_media_type_del",
            with(name, b"text/plain\x7f"),
            "InvalidField",
        ),
        (
            "fail_media_type_non_ascii",
            with(name, "text/plain; charset=utf-8; naam=é".as_bytes()),
            "InvalidField",
        ),
    ] {
        negative(&mut neg, case_name, dec(&bytes), expected, case(&bytes));
    }
    // The longest name and media type are accepted.
    let longest = with(&[b'a'; 1024], &[b'a'; 255]);
    assert!(dec(&longest).is_ok());
    // Small-order keys in correctly self-signed bundles.
    let (_, seed) = id.keys.expose_secret_parts();
    let signer = ed25519_dalek::SigningKey::from_bytes(seed);
    let sign_bundle = |dh: &[u8; 32], ed: &[u8; 32]| {
        use ed25519_dalek::Signer;
        let body = [&[1u8, 1][..], id.keys.user_id().as_bytes(), dh, ed].concat();
        let sig = signer.sign(&[b"kluis/v1/identity-bundle".as_slice(), &[0], &body].concat());
        [body, sig.to_bytes().to_vec()].concat()
    };
    let zero_dh = sign_bundle(&[0u8; 32], signer.verifying_key().as_bytes());
    negative(
        &mut neg,
        "fail_bundle_small_order_dh_key",
        IdentityBundle::decode(&zero_dh),
        "InvalidPublicKey",
        json!({"envelope": "identity_bundle", "bytes": h(&zero_dh)}),
    );
    let one_dh = sign_bundle(
        &{
            let mut u = [0u8; 32];
            u[0] = 1;
            u
        },
        signer.verifying_key().as_bytes(),
    );
    negative(
        &mut neg,
        "fail_bundle_small_order_dh_key_u1",
        IdentityBundle::decode(&one_dh),
        "InvalidPublicKey",
        json!({"envelope": "identity_bundle", "bytes": h(&one_dh)}),
    );
    let bundle = id.keys.bundle().encode();
    let mut t = bundle.clone();
    t.push(0);
    negative(
        &mut neg,
        "fail_bundle_trailing_bytes",
        IdentityBundle::decode(&t),
        "TrailingBytes",
        json!({"envelope": "identity_bundle", "bytes": h(&t)}),
    );
    let mut t = header_bytes.clone();
    t.pop();
    negative(
        &mut neg,
        "fail_attachment_header_truncated",
        AttachmentHeader::decode(&t),
        "Truncated",
        json!({"envelope": "attachment_header", "bytes": h(&t)}),
    );
    negative(
        &mut neg,
        "fail_empty_input",
        SealedItem::decode(&[]),
        "Truncated",
        json!({"envelope": "sealed_item", "bytes": ""}),
    );
    let sealed_id_bad_kind = [&[1u8, 2, 3][..], &[0u8; 16 + 24 + 80]].concat();
    negative(
        &mut neg,
        "fail_unknown_seal_kind",
        SealedIdentity::decode(&sealed_id_bad_kind),
        "InvalidField",
        json!({"envelope": "sealed_identity", "bytes": h(&sealed_id_bad_kind)}),
    );
    // UUID text (§2.3): parsed as a user id; the other id types share the
    // parser.
    let uuid_bytes = uuid(&mut rng);
    let canonical = UserId::from_bytes(uuid_bytes).to_string();
    let upper = canonical.to_uppercase();
    let mixed: String = canonical
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    for (name, text) in [
        ("uuid_text_lowercase", &canonical),
        ("uuid_text_uppercase", &upper),
        ("uuid_text_mixed_case", &mixed),
    ] {
        let parsed: UserId = text.parse().unwrap();
        assert_eq!(parsed.as_bytes(), &uuid_bytes);
        positive.push(
            json!({"name": name, "seed": file_seed, "inputs": {"uuid_text": text},
            "expected": {"bytes": h(&uuid_bytes), "canonical_text": canonical}}),
        );
    }
    let hex32 = h(&uuid_bytes);
    let mut dashes_moved = canonical.clone().into_bytes();
    dashes_moved.swap(8, 9);
    let dashes_moved = String::from_utf8(dashes_moved).unwrap();
    let with_plus = format!("+{}", &canonical[1..]);
    let fullwidth = canonical.replacen(|c: char| c.is_ascii_digit(), "\u{ff11}", 1);
    for (name, text) in [
        ("fail_uuid_text_no_hyphens", hex32.clone()),
        ("fail_uuid_text_braces", format!("{{{canonical}}}")),
        ("fail_uuid_text_urn", format!("urn:uuid:{canonical}")),
        ("fail_uuid_text_hyphen_moved", dashes_moved),
        ("fail_uuid_text_35_characters", canonical[..35].to_owned()),
        ("fail_uuid_text_37_characters", format!("{canonical}0")),
        (
            "fail_uuid_text_trailing_newline",
            format!("{}\n", &canonical[..35]),
        ),
        (
            "fail_uuid_text_non_hex_digit",
            format!("g{}", &canonical[1..]),
        ),
        ("fail_uuid_text_plus_sign", with_plus),
        ("fail_uuid_text_fullwidth_digit", fullwidth),
        ("fail_uuid_text_empty", String::new()),
    ] {
        negative(
            &mut neg,
            name,
            text.parse::<UserId>(),
            "InvalidField",
            json!({"uuid_text": text}),
        );
    }
    file(
        "Envelope encoding: canonical forms and rejections",
        "PROTOCOL.md §2",
        positive,
        neg,
    )
}

// --------------------------------------------------------- signed deletion
pub fn deletion_file() -> Value {
    let (mut rng, seed) = seeded("deletion");
    let kim = identity(&mut rng);
    let carla = identity(&mut rng);
    let kim_before = identity_of(&mut rng, kim.keys.user_id());
    let rel = RelationshipId::from_bytes(uuid(&mut rng));
    let item_id = ItemId::from_bytes(uuid(&mut rng));
    let other_item = ItemId::from_bytes(uuid(&mut rng));
    let other_rel = RelationshipId::from_bytes(uuid(&mut rng));
    let (epoch, deleted_ms) = (Epoch(2), 1_767_312_000_000u64);
    let item = DeletedItem {
        relationship_id: rel,
        item_id,
        author_id: kim.keys.user_id(),
    };
    let deletion = ItemDeletion::sign(&kim.keys, rel, item_id, epoch, deleted_ms);
    let bytes = deletion.encode();
    deletion.verify(&item, kim.keys.bundle()).unwrap();
    let expected_json = |e: &DeletedItem| {
        json!({"relationship_id": h(e.relationship_id.as_bytes()),
               "item_id": h(e.item_id.as_bytes()), "author_id": h(e.author_id.as_bytes())})
    };
    let signature_message = [
        b"kluis/v1/item-deletion\0".as_slice(),
        &bytes[..bytes.len() - 64],
    ]
    .concat();
    let positive = vec![json!({"name": "deletion", "seed": seed,
        "inputs": {"author": identity_json(&kim), "relationship_id": h(rel.as_bytes()),
            "item_id": h(item_id.as_bytes()), "epoch": epoch.0, "deleted_ms": deleted_ms},
        "expected": {"signature_message": h(&signature_message), "deletion": h(&bytes)}})];

    let mut neg = Vec::new();
    // Each case: the reader lists a tombstone (`expected`: relationship,
    // item id, author as listed), takes `author_bundle` from the membership
    // chain for the deletion's epoch, and must refuse `deletion`.
    let case = |neg: &mut Vec<Value>,
                name: &str,
                deletion: &[u8],
                expected: &DeletedItem,
                author: &TestIdentity,
                error: &str| {
        let result =
            ItemDeletion::decode(deletion).and_then(|d| d.verify(expected, author.keys.bundle()));
        negative(
            neg,
            name,
            result,
            error,
            json!({"deletion": h(deletion), "expected": expected_json(expected),
                   "author_bundle": h(&author.keys.bundle().encode())}),
        );
    };
    let elsewhere = DeletedItem {
        item_id: other_item,
        ..item
    };
    case(
        &mut neg,
        "fail_other_item",
        &bytes,
        &elsewhere,
        &kim,
        "Deletion.WrongItem",
    );
    let other_relationship = DeletedItem {
        relationship_id: other_rel,
        ..item
    };
    case(
        &mut neg,
        "fail_other_relationship",
        &bytes,
        &other_relationship,
        &kim,
        "Deletion.WrongItem",
    );
    // Carla signs a deletion of Kim's item: it names Carla, not Kim.
    let by_carla = ItemDeletion::sign(&carla.keys, rel, item_id, epoch, deleted_ms).encode();
    case(
        &mut neg,
        "fail_not_the_author",
        &by_carla,
        &item,
        &carla,
        "Deletion.WrongAuthor",
    );
    case(
        &mut neg,
        "fail_checked_with_another_bundle",
        &bytes,
        &item,
        &carla,
        "Deletion.SignerKey",
    );
    let mut later = bytes.clone();
    later[50..54].copy_from_slice(&3u32.to_be_bytes());
    case(
        &mut neg,
        "fail_epoch_rewritten",
        &later,
        &item,
        &kim,
        "Deletion.Signature",
    );
    let mut backdated = bytes.clone();
    backdated[61] ^= 0x01;
    case(
        &mut neg,
        "fail_time_rewritten",
        &backdated,
        &item,
        &kim,
        "Deletion.Signature",
    );
    case(
        &mut neg,
        "fail_signature_bit",
        &flip(&bytes, bytes.len() - 1),
        &item,
        &kim,
        "Deletion.Signature",
    );
    // S + ℓ in place of S: the same equation, but S is not reduced.
    let mut unreduced = bytes.clone();
    let mut carry = 0u16;
    for (i, l) in ED25519_L.iter().enumerate() {
        let sum = u16::from(bytes[62 + 32 + i]) + u16::from(*l) + carry;
        unreduced[62 + 32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    case(
        &mut neg,
        "fail_signature_s_not_reduced",
        &unreduced,
        &item,
        &kim,
        "Deletion.Signature",
    );
    let stale = ItemDeletion::sign(&kim_before.keys, rel, item_id, epoch, deleted_ms).encode();
    case(
        &mut neg,
        "fail_signed_with_earlier_identity",
        &stale,
        &item,
        &kim,
        "Deletion.Signature",
    );
    case(
        &mut neg,
        "fail_truncated",
        &bytes[..bytes.len() - 1],
        &item,
        &kim,
        "Truncated",
    );
    let mut long = bytes.clone();
    long.push(0);
    case(
        &mut neg,
        "fail_trailing_bytes",
        &long,
        &item,
        &kim,
        "TrailingBytes",
    );
    let mut version = bytes.clone();
    version[0] = 0x02;
    case(
        &mut neg,
        "fail_unknown_version",
        &version,
        &item,
        &kim,
        "UnsupportedVersion",
    );
    let mut other_type = bytes.clone();
    other_type[1] = 0x0A;
    case(
        &mut neg,
        "fail_membership_record_type",
        &other_type,
        &item,
        &kim,
        "WrongEnvelopeType",
    );
    file(
        "Signed deletion: an author's proof that they deleted an item",
        "PROTOCOL.md §8.7",
        positive,
        neg,
    )
}

/// Every published file, by name.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("key_schedule", key_schedule()),
        ("identity", identity_file()),
        ("recovery_key", recovery_key()),
        ("relationship_key_wrap", relationship_key_wrap()),
        ("membership", membership_file()),
        ("deletion", deletion_file()),
        ("item", item_file()),
        ("attachment_stream", attachment_stream()),
        ("notes", notes_file()),
        ("safety_number", safety_number()),
        ("envelopes", envelopes()),
        ("opaque", opaque_file()),
    ]
}

pub fn render(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap();
    s.push('\n');
    s
}
