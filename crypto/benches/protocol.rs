//! Criterion benchmarks (docs/BENCHMARKS.md). Every protocol operation is
//! measured next to its baseline in the same run — raw XChaCha20-Poly1305 on
//! the same bytes — so the ratio holds on a noisy machine.
//!
//! `cargo bench -p kluis-crypto --bench protocol`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kluis_crypto::attachment::{self, AttachmentKey};
use kluis_crypto::identity::IdentityKeyPair;
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{self, SharedItemKind};
use kluis_crypto::membership::RecordHash;
use kluis_crypto::relationship::RelationshipKey;
use rand::rngs::OsRng;

fn raw_seal(key: &[u8; 32], buf: &mut Vec<u8>) {
    XChaCha20Poly1305::new(key.into())
        .encrypt_in_place(XNonce::from_slice(&[7u8; 24]), b"header", buf)
        .unwrap();
}

fn items(c: &mut Criterion) {
    let author = IdentityKeyPair::generate(&mut OsRng, UserId::random(&mut OsRng));
    let key = RelationshipKey::generate(&mut OsRng, RelationshipId::random(&mut OsRng), Epoch(0));
    let mut group = c.benchmark_group("item");
    for size in [1024usize, 64 * 1024, 1024 * 1024] {
        let content = vec![0x5au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("raw_xchacha20poly1305_seal", size),
            &content,
            |b, content| {
                b.iter(|| {
                    let mut buf = content.clone();
                    raw_seal(&[1; 32], &mut buf);
                    black_box(buf)
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("seal", size), &content, |b, content| {
            b.iter(|| {
                item::seal_item(
                    &mut OsRng,
                    &key,
                    ItemId::from_bytes([1; 16]),
                    SharedItemKind::Message,
                    &author,
                    content,
                )
                .unwrap()
            })
        });
        let id = ItemId::from_bytes([2; 16]);
        let sealed = item::seal_item(
            &mut OsRng,
            &key,
            id,
            SharedItemKind::Message,
            &author,
            &content,
        )
        .unwrap();
        group.bench_with_input(
            BenchmarkId::new("raw_xchacha20poly1305_open", size),
            &content,
            |b, content| {
                let mut sealed_raw = content.clone();
                raw_seal(&[1; 32], &mut sealed_raw);
                b.iter(|| {
                    let mut buf = sealed_raw.clone();
                    XChaCha20Poly1305::new((&[1u8; 32]).into())
                        .decrypt_in_place(XNonce::from_slice(&[7u8; 24]), b"header", &mut buf)
                        .unwrap();
                    black_box(buf)
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, sealed| {
            b.iter(|| black_box(sealed.open(&key, id, author.bundle()).unwrap()))
        });
    }
    group.finish();
}

const STREAM_LEN: usize = 64 * 1024 * 1024;

fn stream(c: &mut Criterion) {
    let data = vec![0x33u8; STREAM_LEN];
    let key = AttachmentKey::generate(&mut OsRng);
    let id = AttachmentId::random(&mut OsRng);
    let mut group = c.benchmark_group("attachment_64MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(STREAM_LEN as u64));
    group.bench_function("raw_xchacha20poly1305_one_call", |b| {
        let mut buf = Vec::with_capacity(STREAM_LEN + 16);
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(&data);
            raw_seal(&[1; 32], &mut buf);
            black_box(buf.len())
        })
    });
    group.bench_function("encrypt_stream", |b| {
        b.iter(|| {
            attachment::encrypt_stream(&mut OsRng, &key, id, &data[..], std::io::sink(), |_| {})
                .unwrap()
        })
    });
    let mut encrypted = Vec::new();
    let digest =
        attachment::encrypt_stream(&mut OsRng, &key, id, &data[..], &mut encrypted, |_| {})
            .unwrap()
            .ciphertext_sha256;
    group.bench_function("decrypt_stream", |b| {
        b.iter(|| {
            attachment::decrypt_stream(&key, id, &digest, &encrypted[..], std::io::sink(), |_| {})
                .unwrap()
        })
    });
    group.finish();
}

fn wrapping(c: &mut Criterion) {
    let coach = IdentityKeyPair::generate(&mut OsRng, UserId::random(&mut OsRng));
    let client = IdentityKeyPair::generate(&mut OsRng, UserId::random(&mut OsRng));
    let key = RelationshipKey::generate(&mut OsRng, RelationshipId::random(&mut OsRng), Epoch(0));
    let record = RecordHash([1; 32]);
    let wrapped = key
        .wrap(&mut OsRng, &coach, client.bundle(), &record)
        .unwrap();
    let mut group = c.benchmark_group("relationship_key");
    group.bench_function("wrap", |b| {
        b.iter(|| {
            key.wrap(&mut OsRng, &coach, client.bundle(), &record)
                .unwrap()
        })
    });
    group.bench_function("unwrap", |b| {
        b.iter(|| {
            wrapped
                .unwrap(
                    &client,
                    coach.bundle(),
                    key.relationship_id(),
                    key.epoch(),
                    &record,
                )
                .unwrap()
        })
    });
    group.finish();
}

fn argon2id(c: &mut Criterion) {
    use opaque_ke::ksf::Ksf;
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(10);
    group.bench_function("ksf_64MiB_t3_p1", |b| {
        b.iter(|| {
            kluis_crypto::opaque::Argon2idV1
                .hash(opaque_ke::generic_array::GenericArray::from([9u8; 64]))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, items, stream, wrapping, argon2id);
criterion_main!(benches);
