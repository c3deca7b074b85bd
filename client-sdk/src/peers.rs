//! Peers' identity keys: fetched from the server's key directory, pinned on
//! first sight, compared on every later fetch. A key that changed is never
//! used to wrap until the user compares the new safety number and accepts
//! it; it is reported as a key change meanwhile.

use kluis_crypto::fingerprint::SafetyNumber;
use kluis_crypto::identity::IdentityBundle;
use kluis_crypto::ids::UserId;

use crate::api::{b64, unb64};
use crate::error::{Error, Result, Violation};
use crate::session::Session;
use crate::state::{KeyChange, Pin};
use crate::wire::UserKeys;

/// A safety number to compare with a peer, out loud or by QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyNumberView {
    /// The peer.
    pub peer: UserId,
    /// 60 digits in 12 groups of five.
    pub digits: String,
    /// The bytes for a QR code (hex).
    pub qr_payload_hex: String,
    /// Whether the user already marked it verified.
    pub verified: bool,
    /// Whether this is the number of a changed key, not yet accepted
    /// ([`Session::accept_key_change`]).
    pub key_changed: bool,
}

fn fingerprint_hex(bundle: &IdentityBundle) -> String {
    hex::encode(bundle.fingerprint().0)
}

pub(crate) fn decode_bundle(user: UserId, b64_bundle: &str) -> Result<IdentityBundle> {
    let bundle = IdentityBundle::decode(&unb64("bundle", b64_bundle)?)
        .map_err(|_| Violation::BundleInvalid { user })?;
    if bundle.user_id() != user {
        return Err(Violation::BundleInvalid { user }.into());
    }
    Ok(bundle)
}

impl Session {
    /// The bundle the server offers for `user` now (its latest version).
    async fn fetch_bundle(&self, user: UserId) -> Result<IdentityBundle> {
        let keys: UserKeys = self.api.get(&format!("/api/users/{user}/keys")).await?;
        if keys.account_id != user.to_string() {
            return Err(Violation::BundleInvalid { user }.into());
        }
        let latest = keys
            .history
            .last()
            .ok_or(Violation::BundleInvalid { user })?;
        decode_bundle(user, &latest.bundle)
    }

    /// The peer's current key, checked against the pin: pinned on first
    /// sight; a different key is recorded as a key change and refused.
    /// This is what every wrap to a peer goes through.
    pub(crate) async fn checked_peer(&mut self, user: UserId) -> Result<IdentityBundle> {
        if user == self.me {
            return Ok(self.identity.bundle().clone());
        }
        let offered = self.fetch_bundle(user).await?;
        let key = user.to_string();
        match self.state.pins.get(&key) {
            None => {
                self.state.pins.insert(
                    key,
                    Pin {
                        bundle: b64(&offered.encode()),
                        fingerprint: fingerprint_hex(&offered),
                        verified: false,
                        previous: Vec::new(),
                    },
                );
                self.save_state()?;
                Ok(offered)
            }
            Some(pin) if pin.bundle == b64(&offered.encode()) => Ok(offered),
            Some(pin) => {
                let change = KeyChange {
                    user: key.clone(),
                    pinned: pin.fingerprint.clone(),
                    offered: fingerprint_hex(&offered),
                    offered_bundle: b64(&offered.encode()),
                };
                let err = Error::KeyChanged {
                    user,
                    pinned: change.pinned.clone(),
                    offered: change.offered.clone(),
                };
                self.state.key_changes.insert(key, change);
                self.save_state()?;
                Err(err)
            }
        }
    }

    /// The safety number with `peer` (pinning the peer's key if new). When
    /// the peer's key changed, the number of the new key, marked as such.
    pub async fn safety_number(&mut self, peer: UserId) -> Result<SafetyNumberView> {
        let (bundle, key_changed) = match self.checked_peer(peer).await {
            Ok(bundle) => (bundle, false),
            Err(Error::KeyChanged { .. }) => {
                let change = self
                    .state
                    .key_changes
                    .get(&peer.to_string())
                    .ok_or(Violation::BundleInvalid { user: peer })?;
                (decode_bundle(peer, &change.offered_bundle)?, true)
            }
            Err(e) => return Err(e),
        };
        let number = SafetyNumber::of(self.identity.bundle(), &bundle);
        Ok(SafetyNumberView {
            peer,
            digits: number.display_groups(),
            qr_payload_hex: hex::encode(number.qr_payload()),
            verified: !key_changed
                && self
                    .state
                    .pins
                    .get(&peer.to_string())
                    .is_some_and(|p| p.verified),
            key_changed,
        })
    }

    /// Marks the peer's pinned key verified after the user compared the
    /// safety number: `compared` is what the other side shows (digits,
    /// with or without spaces, or the scanned QR payload in hex). A
    /// mismatch is refused and nothing is marked.
    pub async fn verify_safety_number(&mut self, peer: UserId, compared: &str) -> Result<()> {
        let bundle = self.checked_peer(peer).await?;
        let number = SafetyNumber::of(self.identity.bundle(), &bundle);
        let digits: String = compared.chars().filter(|c| !c.is_whitespace()).collect();
        let matches = digits == number.digits()
            || hex::decode(&digits).is_ok_and(|qr| number.matches_qr_payload(&qr));
        if !matches {
            return Err(Error::InvalidInput(
                "the safety numbers differ: do not trust this key; someone may be in between"
                    .into(),
            ));
        }
        if let Some(pin) = self.state.pins.get_mut(&peer.to_string()) {
            pin.verified = true;
        }
        self.save_state()
    }

    /// Key changes of peers not yet accepted.
    pub fn key_changes(&self) -> Vec<KeyChange> {
        self.state.key_changes.values().cloned().collect()
    }

    /// Accepts a peer's changed key after comparing the new safety number
    /// (`compared`, as in [`Self::verify_safety_number`]): the new key is
    /// pinned and verified, the old one kept for what it signed.
    pub async fn accept_key_change(&mut self, peer: UserId, compared: &str) -> Result<()> {
        let change = self
            .state
            .key_changes
            .get(&peer.to_string())
            .cloned()
            .ok_or_else(|| Error::InvalidInput(format!("no key change of {peer} is pending")))?;
        let offered = decode_bundle(peer, &change.offered_bundle)?;
        let number = SafetyNumber::of(self.identity.bundle(), &offered);
        let digits: String = compared.chars().filter(|c| !c.is_whitespace()).collect();
        if digits != number.digits()
            && !hex::decode(&digits).is_ok_and(|qr| number.matches_qr_payload(&qr))
        {
            return Err(Error::InvalidInput(
                "the new safety number differs: the changed key is not accepted".into(),
            ));
        }
        let key = peer.to_string();
        let old = self.state.pins.remove(&key);
        let mut previous = old.as_ref().map(|p| p.previous.clone()).unwrap_or_default();
        if let Some(old) = old {
            previous.insert(0, old.bundle);
        }
        self.state.pins.insert(
            key.clone(),
            Pin {
                bundle: change.offered_bundle,
                fingerprint: change.offered,
                verified: true,
                previous,
            },
        );
        self.state.key_changes.remove(&key);
        self.save_state()
    }
}
