//! Fuzz target: attachment stream (untrusted bytes from the server or a peer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use kluis_crypto::attachment;

fuzz_target!(|data: &[u8]| {
    let key = attachment::AttachmentKey::from_secret_bytes([9; 32]);
    let id = match attachment::AttachmentHeader::decode(data.get(..attachment::ATTACHMENT_HEADER_LEN).unwrap_or(data)) {
        Ok(h) => h.attachment_id(),
        Err(_) => kluis_crypto::ids::AttachmentId::from_bytes([0; 16]),
    };
    // Random bytes are never a valid stream under a key they do not know.
    assert!(attachment::decrypt_stream(&key, id, &[0; 32], data, std::io::sink(), |_| ()).is_err());
});
