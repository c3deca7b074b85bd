//! Round trips and attack tests through the public API (PROTOCOL.md §5–§11).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kluis_crypto::attachment::{
    self, AttachmentKey, ChunkOpener, ChunkSealer, DocumentDescription, CHUNK_SIZE,
};
use kluis_crypto::fingerprint::SafetyNumber;
use kluis_crypto::identity::{IdentityBundle, IdentityKeyPair, SealKind, SealedIdentity};
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{self, ItemKind, SealedItem, SharedItemKind};
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::membership::RecordHash;
use kluis_crypto::notes::{NotesKey, SealedNotesKey};
use kluis_crypto::recovery::RecoveryKey;
use kluis_crypto::relationship::{RelationshipKey, WrappedRelationshipKey};
use kluis_crypto::Error;
use rand::rngs::OsRng;

/// The hash of the membership record every wrap in these tests is for.
const RECORD: RecordHash = RecordHash([7; 32]);

fn person() -> IdentityKeyPair {
    IdentityKeyPair::generate(&mut OsRng, UserId::random(&mut OsRng))
}

fn is_decryption<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Decryption))
}

#[test]
fn identity_seals_under_both_keys_and_only_opens_with_the_right_one() {
    let me = person();
    let export = ExportKey::generate(&mut OsRng);
    let recovery = RecoveryKey::random(&mut OsRng);
    let by_password = me.seal_with_password(&export, &mut OsRng).unwrap();
    let by_recovery = me.seal_with_recovery_key(&recovery, &mut OsRng).unwrap();
    assert_eq!(by_password.kind(), SealKind::Password);
    assert_eq!(by_recovery.kind(), SealKind::RecoveryKey);

    let decoded = SealedIdentity::decode(&by_password.encode()).unwrap();
    let opened = decoded.open_with_password(&export, me.user_id()).unwrap();
    assert_eq!(opened.bundle(), me.bundle());
    let opened = SealedIdentity::decode(&by_recovery.encode())
        .unwrap()
        .open_with_recovery_key(&recovery, me.user_id())
        .unwrap();
    assert_eq!(opened.bundle(), me.bundle());

    // Wrong password, wrong recovery key, wrong seal kind, wrong user.
    assert!(is_decryption(by_password.open_with_password(
        &ExportKey::generate(&mut OsRng),
        me.user_id()
    )));
    assert!(is_decryption(by_recovery.open_with_recovery_key(
        &RecoveryKey::random(&mut OsRng),
        me.user_id()
    )));
    assert!(is_decryption(
        by_recovery.open_with_password(&export, me.user_id())
    ));
    assert!(is_decryption(
        by_password.open_with_password(&export, UserId::random(&mut OsRng))
    ));
}

#[test]
fn bundle_signature_covers_every_field() {
    let me = person();
    let bytes = me.bundle().encode();
    assert_eq!(IdentityBundle::decode(&bytes).unwrap(), *me.bundle());
    for i in 2..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x80;
        assert!(IdentityBundle::decode(&t).is_err(), "byte {i} not covered");
    }
}

#[test]
fn secrets_never_print() {
    let me = person();
    let export = ExportKey::generate(&mut OsRng);
    let key = RelationshipKey::generate(&mut OsRng, RelationshipId::random(&mut OsRng), Epoch(0));
    let text = format!("{me:?} {export:?} {key:?}");
    assert!(text.contains("[redacted]"));
    for secret in [
        &me.expose_secret_parts().0[..],
        &me.expose_secret_parts().1[..],
        &export.expose_secret()[..],
        &key.expose_secret()[..],
    ] {
        assert!(!text.contains(&hex::encode(secret)));
        assert!(!text.contains(&format!("{:?}", &secret[..4])));
    }
}

struct Trajectory {
    coach: IdentityKeyPair,
    client: IdentityKeyPair,
    key: RelationshipKey,
}

fn trajectory() -> Trajectory {
    Trajectory {
        coach: person(),
        client: person(),
        key: RelationshipKey::generate(&mut OsRng, RelationshipId::random(&mut OsRng), Epoch(0)),
    }
}

#[test]
fn wrapped_key_reaches_only_its_recipient_in_its_place() {
    let t = trajectory();
    let (rel, epoch) = (t.key.relationship_id(), t.key.epoch());
    let wrapped = t
        .key
        .wrap(&mut OsRng, &t.coach, t.client.bundle(), &RECORD)
        .unwrap();
    let bytes = wrapped.encode();
    assert_eq!(bytes.len(), kluis_crypto::relationship::WRAPPED_KEY_LEN);
    let decoded = WrappedRelationshipKey::decode(&bytes).unwrap();
    assert_eq!(decoded.recipient_id(), t.client.user_id());
    assert_eq!(
        decoded
            .unwrap(&t.client, t.coach.bundle(), rel, epoch, &RECORD)
            .unwrap(),
        t.key
    );

    let manager = person();
    // A manager (or the server) who receives the envelope cannot open it.
    assert!(is_decryption(decoded.unwrap(
        &manager,
        t.coach.bundle(),
        rel,
        epoch,
        &RECORD
    )));
    // A client whose chain holds another record for this epoch (a fork)
    // refuses it.
    assert!(is_decryption(decoded.unwrap(
        &t.client,
        t.coach.bundle(),
        rel,
        epoch,
        &RecordHash([8; 32])
    )));
    // The client expecting another epoch or relationship refuses it.
    assert!(is_decryption(decoded.unwrap(
        &t.client,
        t.coach.bundle(),
        rel,
        Epoch(1),
        &RECORD
    )));
    assert!(is_decryption(decoded.unwrap(
        &t.client,
        t.coach.bundle(),
        RelationshipId::random(&mut OsRng),
        epoch,
        &RECORD
    )));
    // A key the server made up and wrapped with its own identity, claiming
    // to be the coach: Auth mode binds the coach's static key.
    let server = IdentityKeyPair::generate(&mut OsRng, t.coach.user_id());
    let fake = RelationshipKey::generate(&mut OsRng, rel, epoch);
    let substituted = fake
        .wrap(&mut OsRng, &server, t.client.bundle(), &RECORD)
        .unwrap();
    assert!(is_decryption(substituted.unwrap(
        &t.client,
        t.coach.bundle(),
        rel,
        epoch,
        &RECORD
    )));
}

#[test]
fn changed_recipient_key_invalidates_old_wraps() {
    // After a reset the client starts a new identity: a key wrapped to the
    // old identity does not open with the new one, and the fingerprint in
    // the header shows which key it was meant for.
    let t = trajectory();
    let wrapped = t
        .key
        .wrap(&mut OsRng, &t.coach, t.client.bundle(), &RECORD)
        .unwrap();
    let new_client = IdentityKeyPair::generate(&mut OsRng, t.client.user_id());
    assert_ne!(
        wrapped.recipient_fingerprint(),
        new_client.bundle().fingerprint()
    );
    assert!(is_decryption(wrapped.unwrap(
        &new_client,
        t.coach.bundle(),
        t.key.relationship_id(),
        t.key.epoch(),
        &RECORD
    )));
}

#[test]
fn items_open_for_members_and_resist_moves_and_forgery() {
    let t = trajectory();
    let id = ItemId::random(&mut OsRng);
    let sealed = item::seal_item(
        &mut OsRng,
        &t.key,
        id,
        SharedItemKind::Message,
        &t.client,
        b"hallo coach",
    )
    .unwrap();
    let decoded = SealedItem::decode(&sealed.encode()).unwrap();
    let opened = decoded.open(&t.key, id, t.client.bundle()).unwrap();
    assert_eq!(opened.content(), b"hallo coach");
    assert_eq!(opened.header().kind, ItemKind::Message);
    assert_eq!(opened.header().author_id, t.client.user_id());

    // Wrong claimed author (the coach's bundle).
    assert!(is_decryption(decoded.open(&t.key, id, t.coach.bundle())));
    // Listed under another id.
    assert!(is_decryption(decoded.open(
        &t.key,
        ItemId::random(&mut OsRng),
        t.client.bundle()
    )));
    // Next epoch's key.
    let next = RelationshipKey::generate(&mut OsRng, t.key.relationship_id(), Epoch(1));
    assert!(is_decryption(decoded.open(&next, id, t.client.bundle())));
    // Every single bit of the envelope matters.
    let bytes = sealed.encode();
    for i in 0..bytes.len() {
        let mut x = bytes.clone();
        x[i] ^= 1 << (i % 8);
        let r = SealedItem::decode(&x).and_then(|s| s.open(&t.key, id, t.client.bundle()));
        assert!(r.is_err(), "bit flip at byte {i} accepted");
    }
}

#[test]
fn notes_are_for_their_coach_only() {
    let t = trajectory();
    let notes = NotesKey::generate(&mut OsRng, t.coach.user_id(), Epoch(0));
    let sealed =
        SealedNotesKey::decode(&notes.seal(&mut OsRng, &t.coach).unwrap().encode()).unwrap();
    assert_eq!(sealed.open(&t.coach).unwrap(), notes);
    assert!(is_decryption(sealed.open(&t.client)));
    assert!(matches!(
        notes.seal(&mut OsRng, &t.client),
        Err(Error::InvalidInput(_))
    ));

    let rel = t.key.relationship_id();
    let id = ItemId::random(&mut OsRng);
    let note = item::seal_note(&mut OsRng, &notes, rel, id, &t.coach, b"vertrouwelijk").unwrap();
    assert_eq!(
        note.open_note(&notes, rel, id, t.coach.bundle())
            .unwrap()
            .content(),
        b"vertrouwelijk"
    );
    // The client holds the relationship key, which opens no note.
    assert!(is_decryption(note.open(&t.key, id, t.coach.bundle())));
    // A client cannot author a note under the coach's key.
    assert!(item::seal_note(&mut OsRng, &notes, rel, id, &t.client, b"x").is_err());
    // A note moved to another relationship.
    assert!(is_decryption(note.open_note(
        &notes,
        RelationshipId::random(&mut OsRng),
        id,
        t.coach.bundle()
    )));
}

fn encrypt(key: &AttachmentKey, id: AttachmentId, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let summary = attachment::encrypt_stream(&mut OsRng, key, id, data, &mut out, |_| {}).unwrap();
    assert_eq!(summary.plaintext_len, data.len() as u64);
    assert_eq!(summary.ciphertext_len, out.len() as u64);
    assert_eq!(summary.ciphertext_sha256, sha256(&out));
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Decrypts, expecting the hash of the stream as given, so that only the
/// AEAD checks decide.
fn decrypt(key: &AttachmentKey, id: AttachmentId, data: &[u8]) -> Result<Vec<u8>, Error> {
    decrypt_expecting(key, id, &sha256(data), data)
}

fn decrypt_expecting(
    key: &AttachmentKey,
    id: AttachmentId,
    digest: &[u8; 32],
    data: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    attachment::decrypt_stream(key, id, digest, data, &mut out, |_| {}).map(|_| out)
}

#[test]
fn attachment_streams_round_trip_at_every_boundary() {
    let key = AttachmentKey::generate(&mut OsRng);
    let id = AttachmentId::random(&mut OsRng);
    for len in [
        0,
        1,
        CHUNK_SIZE - 1,
        CHUNK_SIZE,
        CHUNK_SIZE + 1,
        2 * CHUNK_SIZE,
        3 * CHUNK_SIZE + 17,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let enc = encrypt(&key, id, &data);
        let mut seen = Vec::new();
        let mut out = Vec::new();
        attachment::decrypt_stream(&key, id, &sha256(&enc), &enc[..], &mut out, |n| {
            seen.push(n)
        })
        .unwrap();
        assert_eq!(out, data, "len {len}");
        assert_eq!(*seen.last().unwrap(), len as u64);
    }
}

/// A reader that hands out at most 7 bytes per call, to exercise partial reads.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn attachment_stream_tolerates_short_reads() {
    let key = AttachmentKey::generate(&mut OsRng);
    let id = AttachmentId::random(&mut OsRng);
    let data = vec![42u8; CHUNK_SIZE + 3];
    let mut enc = Vec::new();
    attachment::encrypt_stream(&mut OsRng, &key, id, Trickle(&data), &mut enc, |_| {}).unwrap();
    let mut out = Vec::new();
    attachment::decrypt_stream(&key, id, &sha256(&enc), Trickle(&enc), &mut out, |_| {}).unwrap();
    assert_eq!(out, data);
}

#[test]
fn attachment_stream_attacks_are_detected() {
    let key = AttachmentKey::generate(&mut OsRng);
    let id = AttachmentId::random(&mut OsRng);
    let data = vec![1u8; 3 * CHUNK_SIZE + 5];
    let enc = encrypt(&key, id, &data);
    let h = attachment::ATTACHMENT_HEADER_LEN;
    let c = attachment::SEALED_CHUNK_SIZE;
    // Truncation at a chunk boundary.
    assert!(is_decryption(decrypt(&key, id, &enc[..h + 2 * c])));
    // Reordering.
    let mut swapped = enc.clone();
    swapped[h..h + c].copy_from_slice(&enc[h + c..h + 2 * c]);
    swapped[h + c..h + 2 * c].copy_from_slice(&enc[h..h + c]);
    assert!(is_decryption(decrypt(&key, id, &swapped)));
    // Appended data after the final chunk.
    let mut extended = enc.clone();
    extended.extend_from_slice(&enc[h..h + c]);
    assert!(is_decryption(decrypt(&key, id, &extended)));
    // A chunk of another file with the same key and id but another stream.
    let other = encrypt(&key, id, &data);
    let mut mixed = enc.clone();
    mixed[h + c..h + 2 * c].copy_from_slice(&other[h + c..h + 2 * c]);
    assert!(is_decryption(decrypt(&key, id, &mixed)));
    // A member re-encrypts other content under the same key and id: every
    // chunk authenticates, but not against the signed hash.
    let replaced = encrypt(&key, id, b"ander bestand");
    assert!(is_decryption(decrypt_expecting(
        &key,
        id,
        &sha256(&enc),
        &replaced
    )));
    // Opened as another attachment.
    assert!(is_decryption(decrypt(
        &key,
        AttachmentId::random(&mut OsRng),
        &enc
    )));
    // Chunk API: a non-final chunk opened as final, and vice versa.
    let (mut sealer, header) = ChunkSealer::new(&mut OsRng, &key, id).unwrap();
    let c0 = sealer.seal_chunk(&vec![0u8; CHUNK_SIZE]).unwrap();
    let c1 = sealer.seal_last(b"end").unwrap();
    let opener = ChunkOpener::new(&key, id, &header).unwrap();
    assert!(is_decryption(opener.open_last(&c0)));
    let mut opener = ChunkOpener::new(&key, id, &header).unwrap();
    assert!(is_decryption(opener.open_chunk(&c1)));
    let mut opener = ChunkOpener::new(&key, id, &header).unwrap();
    opener.open_chunk(&c0).unwrap();
    assert_eq!(&opener.open_last(&c1).unwrap()[..], b"end");
}

#[test]
fn document_description_round_trips_inside_an_item() {
    let t = trajectory();
    let doc = DocumentDescription {
        attachment_id: AttachmentId::random(&mut OsRng),
        file_key: AttachmentKey::generate(&mut OsRng),
        size: 1 << 30,
        ciphertext_sha256: [3; 32],
        name: "Eindverslag traject — één.pdf".into(),
        media_type: "application/pdf".into(),
    };
    let id = ItemId::random(&mut OsRng);
    let sealed = item::seal_item(
        &mut OsRng,
        &t.key,
        id,
        SharedItemKind::Document,
        &t.coach,
        &doc.encode().unwrap(),
    )
    .unwrap();
    let opened = sealed.open(&t.key, id, t.coach.bundle()).unwrap();
    assert_eq!(opened.header().kind, ItemKind::Document);
    assert_eq!(DocumentDescription::decode(opened.content()).unwrap(), doc);
    let long_name = DocumentDescription {
        name: "x".repeat(2000),
        ..doc
    };
    assert!(matches!(
        long_name.encode(),
        Err(Error::LengthOutOfRange { .. })
    ));
}

#[test]
fn safety_number_is_symmetric_and_changes_with_either_key() {
    let a = person();
    let b = person();
    let n = SafetyNumber::of(a.bundle(), b.bundle());
    assert_eq!(n, SafetyNumber::of(b.bundle(), a.bundle()));
    assert_eq!(n.digits().len(), 60);
    assert!(n.digits().bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(n.display_groups().split(' ').count(), 12);
    assert!(n.matches_qr_payload(SafetyNumber::of(b.bundle(), a.bundle()).qr_payload()));
    let b2 = IdentityKeyPair::generate(&mut OsRng, b.user_id());
    let n2 = SafetyNumber::of(a.bundle(), b2.bundle());
    assert_ne!(n.digits(), n2.digits());
    assert!(!n.matches_qr_payload(n2.qr_payload()));
}

#[test]
fn item_size_limit_is_enforced_both_ways() {
    let t = trajectory();
    let big = vec![0u8; item::MAX_ITEM_CONTENT + 1];
    assert!(matches!(
        item::seal_item(
            &mut OsRng,
            &t.key,
            ItemId::random(&mut OsRng),
            SharedItemKind::Message,
            &t.coach,
            &big
        ),
        Err(Error::LengthOutOfRange { .. })
    ));
    // A length prefix claiming more than the maximum is refused before any
    // allocation.
    let sealed = item::seal_item(
        &mut OsRng,
        &t.key,
        ItemId::random(&mut OsRng),
        SharedItemKind::Message,
        &t.coach,
        b"x",
    )
    .unwrap();
    let mut bytes = sealed.encode();
    let at = item::ITEM_HEADER_LEN + 24;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        SealedItem::decode(&bytes),
        Err(Error::LengthOutOfRange { .. })
    ));
}
