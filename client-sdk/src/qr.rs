//! QR codes drawn by the client itself: the safety number's payload
//! (never a picture the server made: it is what the comparison is about)
//! and the authenticator's `otpauth://` URI at two-step enrolment. The
//! encoder is Project Nayuki's `qrcodegen` (ISO/IEC 18004); this module
//! only hands its modules to whoever draws them.

use crate::error::{Error, Result};

/// A QR code as its dark and light modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// Modules per side.
    pub size: usize,
    /// Row by row, `size * size` entries: `true` is dark.
    pub dark: Vec<bool>,
}

/// Encodes `text` (medium error correction, the smallest version that
/// holds it). Fails only for text longer than a QR code holds.
pub fn qr_matrix(text: &str) -> Result<QrMatrix> {
    let code = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium)
        .map_err(|_| Error::InvalidInput("too long for a QR code".into()))?;
    let size = usize::try_from(code.size()).unwrap_or(0);
    let side = code.size();
    let mut dark = Vec::with_capacity(size * size);
    for y in 0..side {
        for x in 0..side {
            dark.push(code.get_module(x, y));
        }
    }
    Ok(QrMatrix { size, dark })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_text_is_a_version_1_code_with_its_finder_patterns() {
        let m = qr_matrix("KLUIS").unwrap();
        assert_eq!(m.size, 21, "version 1");
        assert_eq!(m.dark.len(), 21 * 21);
        // The finder pattern's dark 7×7 ring in the top-left corner, with
        // its light ring inside and the dark 3×3 centre.
        let at = |x: usize, y: usize| m.dark[y * m.size + x];
        assert!((0..7).all(|i| at(i, 0) && at(0, i) && at(i, 6) && at(6, i)));
        assert!((1..6).all(|i| !at(i, 1) && !at(1, i)));
        assert!(at(3, 3) && at(2, 2) && at(4, 4));
        // The separator: light.
        assert!((0..8).all(|i| !at(7, i) && !at(i, 7)));
    }

    #[test]
    fn longer_text_takes_a_larger_version_and_too_long_text_is_refused() {
        let uri =
            "otpauth://totp/Kluis:kees%40p.nl?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Kluis";
        let m = qr_matrix(uri).unwrap();
        assert!(m.size > 21 && (m.size - 17) % 4 == 0, "{}", m.size);
        assert!(qr_matrix(&"x".repeat(5000)).is_err());
    }
}
