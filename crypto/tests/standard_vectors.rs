//! Standard test vectors, run through the code paths Kluis uses
//! (`kluis_crypto::__internal` exposes the private seams): RFC 9180, RFC 7748,
//! RFC 5869, RFC 8439, draft-irtf-cfrg-xchacha-03, and every Wycheproof case
//! for x25519, chacha20poly1305, xchacha20poly1305 and hkdf_sha256. Each test
//! prints how many cases it ran.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kluis_crypto::__internal::{
    hkdf_sha256_raw, hpke_auth_open, hpke_auth_seal, xchacha_open, xchacha_seal,
};
use kluis_crypto::identity::{IdentityDhSecret, IdentityKeyPair};
use kluis_crypto::ids::UserId;
use rand_chacha::rand_core::{CryptoRng, RngCore};
use wycheproof::TestResult;

fn x(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn a32(s: &str) -> [u8; 32] {
    x(s).try_into().unwrap()
}

/// Returns exactly the given bytes: RFC 9180's `ikmE`.
struct FixedRng(Vec<u8>);
impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        unreachable!()
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len());
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_chacha::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for FixedRng {}

#[test]
fn rfc9180_hpke_vectors_for_the_kluis_suite() {
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "data/rfc9180-x25519-sha256-chacha20poly1305.json"
    ))
    .unwrap();
    let mut ran = 0;
    for v in file["vectors"].as_array().unwrap() {
        let mode = v["mode"].as_u64().unwrap();
        let s = |k: &str| x(v[k].as_str().unwrap());
        let enc_case = &v["encryptions"][0];
        let (aad, pt, ct) = (
            x(enc_case["aad"].as_str().unwrap()),
            x(enc_case["pt"].as_str().unwrap()),
            x(enc_case["ct"].as_str().unwrap()),
        );
        let info = s("info");
        let sk_r: [u8; 32] = s("skRm").try_into().unwrap();
        let pk_r: [u8; 32] = s("pkRm").try_into().unwrap();
        let enc: [u8; 32] = s("enc").try_into().unwrap();
        // Our X25519 public-key derivation, the one identity keys use.
        let recipient = IdentityKeyPair::from_parts(
            UserId::from_bytes([0; 16]),
            IdentityDhSecret::from_secret_bytes(sk_r),
            &[0; 32],
        );
        assert_eq!(recipient.bundle().dh_public(), &pk_r);
        if mode == 2 {
            // Auth mode: the mode Kluis uses. Seal with ikmE, then open.
            let sk_s: [u8; 32] = s("skSm").try_into().unwrap();
            let pk_s: [u8; 32] = s("pkSm").try_into().unwrap();
            let (got_enc, got_ct) = hpke_auth_seal(
                &sk_s,
                &pk_s,
                &pk_r,
                &info,
                &aad,
                &pt,
                &mut FixedRng(s("ikmE")),
            )
            .unwrap();
            assert_eq!(got_enc, enc);
            assert_eq!(got_ct, ct);
            let opened = hpke_auth_open(&sk_r, &pk_s, &enc, &info, &aad, &ct).unwrap();
            assert_eq!(&opened[..], &pt[..]);
            // Opening as Auth with another sender key fails.
            let other = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([9u8; 32]));
            assert!(hpke_auth_open(&sk_r, other.as_bytes(), &enc, &info, &aad, &ct).is_err());
        } else {
            // Other modes: an Auth-mode open of a Base/PSK ciphertext must
            // fail (no mode confusion).
            let any_sender =
                a32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
            assert!(hpke_auth_open(&sk_r, &any_sender, &enc, &info, &aad, &ct).is_err());
        }
        ran += 1;
    }
    println!("RFC 9180: {ran} vectors (modes 0-3, suite 0x0020/0x0001/0x0003)");
    assert_eq!(ran, 4);
}

#[test]
fn rfc7748_x25519() {
    // §5.2 first test vector (one scalar multiplication).
    let k = a32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    let u = a32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let out = x25519_dalek::StaticSecret::from(k).diffie_hellman(&x25519_dalek::PublicKey::from(u));
    assert_eq!(
        hex::encode(out.as_bytes()),
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    );
    // §6.1 Diffie-Hellman: public keys through the identity code path.
    let cases = [
        (
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        ),
        (
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
        ),
    ];
    for (sk, pk) in cases {
        let id = IdentityKeyPair::from_parts(
            UserId::from_bytes([1; 16]),
            IdentityDhSecret::from_secret_bytes(a32(sk)),
            &[1; 32],
        );
        assert_eq!(hex::encode(id.bundle().dh_public()), pk);
    }
    let shared = x25519_dalek::StaticSecret::from(a32(cases[0].0))
        .diffie_hellman(&x25519_dalek::PublicKey::from(a32(cases[1].1)));
    assert_eq!(
        hex::encode(shared.as_bytes()),
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    );
    println!("RFC 7748: 4 vectors");
}

#[test]
fn rfc5869_hkdf_sha256() {
    let seq = |a: u8, b: u8| (a..=b).collect::<Vec<u8>>();
    let cases = [
        (vec![0x0b; 22], x("000102030405060708090a0b0c"), x("f0f1f2f3f4f5f6f7f8f9"), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        (seq(0x00, 0x4f), seq(0x60, 0xaf), seq(0xb0, 0xff), "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        (vec![0x0b; 22], vec![], vec![], "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ];
    for (ikm, salt, info, okm) in &cases {
        let mut out = vec![0u8; okm.len() / 2];
        hkdf_sha256_raw(salt, ikm, info, &mut out).unwrap();
        assert_eq!(&hex::encode(out), okm);
    }
    println!("RFC 5869: {} vectors", cases.len());
}

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

#[test]
fn rfc8439_chacha20poly1305_aead() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    // §2.8.2; ChaCha20-Poly1305 is HPKE's AEAD (hpke uses this crate).
    let key = x("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let cipher = chacha20poly1305::ChaCha20Poly1305::new_from_slice(&key).unwrap();
    let ct = cipher
        .encrypt(
            x("070000004041424344454647").as_slice().into(),
            Payload {
                msg: SUNSCREEN,
                aad: &x("50515253c0c1c2c3c4c5c6c7"),
            },
        )
        .unwrap();
    assert_eq!(
        hex::encode(ct),
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116\
         1ae10b594f09e26a7e902ecbd0600691"
            .replace(' ', "")
    );
    println!("RFC 8439: 1 vector");
}

#[test]
fn xchacha20poly1305_draft_vector() {
    // draft-irtf-cfrg-xchacha-03 §A.3.1, through the item/identity seal path.
    let key = a32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 24] = x("404142434445464748494a4b4c4d4e4f5051525354555657")
        .try_into()
        .unwrap();
    let aad = x("50515253c0c1c2c3c4c5c6c7");
    let ct = xchacha_seal(&key, &nonce, &aad, SUNSCREEN).unwrap();
    let expected = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52ec0875924c1c7987947deafd8780acf49";
    assert_eq!(hex::encode(&ct), expected);
    assert_eq!(
        &xchacha_open(&key, &nonce, &aad, &ct).unwrap()[..],
        SUNSCREEN
    );
    println!("XChaCha20-Poly1305 draft: 1 vector");
}

#[test]
fn wycheproof_x25519() {
    use wycheproof::xdh::{TestName, TestSet};
    let set = TestSet::load(TestName::X25519).unwrap();
    let (mut valid, mut rejected) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let (sk, pk): (Result<[u8; 32], _>, Result<[u8; 32], _>) = (
                t.private_key.to_vec().try_into(),
                t.public_key.to_vec().try_into(),
            );
            let (Ok(sk), Ok(pk)) = (sk, pk) else {
                assert_eq!(t.result, TestResult::Invalid, "tc {}", t.tc_id);
                rejected += 1;
                continue;
            };
            let shared = x25519_dalek::StaticSecret::from(sk)
                .diffie_hellman(&x25519_dalek::PublicKey::from(pk));
            // X25519 itself computes every case (RFC 7748 §5); "acceptable"
            // cases are low-order points whose all-zero output HPKE refuses
            // (RFC 9180 §7.1.4), which the all-zero assertion checks.
            assert_eq!(
                shared.as_bytes().as_slice(),
                &t.shared_secret[..],
                "tc {}",
                t.tc_id
            );
            if shared.as_bytes() == &[0u8; 32] {
                assert!(!shared.was_contributory());
            }
            valid += 1;
        }
    }
    println!(
        "Wycheproof x25519: {} cases ({valid} computed, {rejected} rejected for length)",
        valid + rejected
    );
    assert!(valid > 500);
}

fn aead_wycheproof(name: wycheproof::aead::TestName, nonce_len: usize, label: &str) -> usize {
    use wycheproof::aead::TestSet;
    let set = TestSet::load(name).unwrap();
    let mut count = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            count += 1;
            let ok_shape = t.key.len() == 32 && t.nonce.len() == nonce_len && t.tag.len() == 16;
            if !ok_shape {
                assert_eq!(t.result, TestResult::Invalid, "{label} tc {}", t.tc_id);
                continue;
            }
            let key: [u8; 32] = t.key.to_vec().try_into().unwrap();
            let ct_tag = [&t.ct[..], &t.tag[..]].concat();
            let opened = if nonce_len == 24 {
                let nonce: [u8; 24] = t.nonce.to_vec().try_into().unwrap();
                xchacha_open(&key, &nonce, &t.aad, &ct_tag)
                    .map(|z| z.to_vec())
                    .ok()
            } else {
                use chacha20poly1305::aead::{Aead, KeyInit, Payload};
                chacha20poly1305::ChaCha20Poly1305::new(&key.into())
                    .decrypt(
                        t.nonce.as_slice().into(),
                        Payload {
                            msg: &ct_tag,
                            aad: &t.aad,
                        },
                    )
                    .ok()
            };
            match t.result {
                TestResult::Valid => {
                    assert_eq!(opened.as_deref(), Some(&t.pt[..]), "{label} tc {}", t.tc_id);
                    if nonce_len == 24 {
                        let nonce: [u8; 24] = t.nonce.to_vec().try_into().unwrap();
                        assert_eq!(xchacha_seal(&key, &nonce, &t.aad, &t.pt).unwrap(), ct_tag);
                    }
                }
                _ => assert!(opened.is_none(), "{label} tc {} accepted", t.tc_id),
            }
        }
    }
    println!("Wycheproof {label}: {count} cases");
    count
}

#[test]
fn wycheproof_chacha20poly1305() {
    assert!(
        aead_wycheproof(
            wycheproof::aead::TestName::ChaCha20Poly1305,
            12,
            "chacha20poly1305"
        ) > 200
    );
}

#[test]
fn wycheproof_xchacha20poly1305() {
    assert!(
        aead_wycheproof(
            wycheproof::aead::TestName::XChaCha20Poly1305,
            24,
            "xchacha20poly1305"
        ) > 200
    );
}

#[test]
fn wycheproof_hkdf_sha256() {
    use wycheproof::hkdf::{TestName, TestSet};
    let set = TestSet::load(TestName::HkdfSha256).unwrap();
    let mut count = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            count += 1;
            let mut out = vec![0u8; t.size];
            let r = hkdf_sha256_raw(&t.salt, &t.ikm, &t.info, &mut out);
            match t.result {
                TestResult::Valid => {
                    r.unwrap();
                    assert_eq!(out, t.okm.to_vec(), "tc {}", t.tc_id);
                }
                _ => assert!(r.is_err(), "hkdf tc {} accepted", t.tc_id),
            }
        }
    }
    println!("Wycheproof hkdf_sha256: {count} cases");
    assert!(count > 50);
}
