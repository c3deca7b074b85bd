//! Every label the code uses is written in docs/PROTOCOL.md, so that an
//! implementer working from the document alone derives the same keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kluis_crypto::{
    fingerprint, identity, item, key_schedule, notes, opaque, recovery, relationship,
};

#[test]
fn every_label_is_in_the_specification() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .unwrap();
    let mut labels: Vec<&str> = key_schedule::labels::ALL.to_vec();
    labels.extend([
        identity::BUNDLE_SIGNATURE_LABEL,
        identity::KEY_FINGERPRINT_LABEL,
        recovery::RECOVERY_CHECKSUM_LABEL,
        relationship::WRAP_INFO_LABEL,
        item::ITEM_SIGNATURE_LABEL,
        notes::NOTES_INFO_LABEL,
        fingerprint::SAFETY_NUMBER_LABEL,
        std::str::from_utf8(opaque::OPAQUE_CONTEXT).unwrap(),
    ]);
    for label in &labels {
        assert!(label.starts_with("kluis/v1/"), "{label}");
        assert!(
            spec.contains(&format!("`{label}`")),
            "PROTOCOL.md does not name `{label}`"
        );
    }
    // No two labels are equal, and none is a prefix of another.
    for a in &labels {
        for b in &labels {
            assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
        }
    }
    println!("{} labels found in PROTOCOL.md", labels.len());
}
