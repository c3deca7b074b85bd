#!/usr/bin/env python3
"""Independent check of Kluis's published test vectors.

Usage:  .venv/bin/python scripts/check_vectors.py [-v] docs/vectors
        (-v also prints every case, and for negatives the check that rejected it)

Written from docs/PROTOCOL.md and the vector files alone, without reading the
Rust crate, so that it checks the specification against the reference
implementation's output rather than the implementation against itself.

What it checks, for each file of PROTOCOL.md §13.1:

- positive cases: every expected output is recomputed from the inputs alone
  (HKDF keys and `info` strings, identity bundles and their Ed25519
  signatures, key fingerprints, sealed identities, HPKE Auth wraps resealed
  byte for byte from the recorded `ikm_e`, sealed items and note items,
  attachment streams rebuilt chunk by chunk, recovery-key display and parsing,
  safety numbers, envelope encodings, UUID text, OPAQUE registration and
  login messages, export and session keys) and compared byte for byte; then every
  sealed output is opened again the way a receiver would;
- negative cases (`fail_…`): the operation the spec describes (decode, open,
  unwrap, decrypt, parse, or the attachment-stream edit) is run on the inputs
  and must be rejected with the error class named by `expected_error`;
- the files themselves: every field of every case must be understood and
  checked (a missing or unknown field fails), `seed` is the SHA-256 of
  `kluis/v1 test vectors/<file>`, and `spec` names the right section.

Primitives: PyCA `cryptography` (X25519, Ed25519 signing, HKDF-SHA256),
PyNaCl (XChaCha20-Poly1305, Ed25519 verification with libsodium's strict
checks, §1.4, which this script also makes itself; Argon2id), `pyhpke`
(RFC 9180 HPKE, Auth mode, with the ephemeral key pair derived from the
recorded `ikm_e`) and `rbcl` (libsodium's ristretto255), over which OPAQUE
(RFC 9807, §3) is implemented here from the RFC.

It prints one line per file and a total, and exits non-zero with a message
naming the file and case at the first mismatch, or at any case or field it
does not know how to check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import sys
import traceback
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.signing
import rbcl
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, PyHPKEError

# --------------------------------------------------------------------------
# Constants of protocol version 1
# --------------------------------------------------------------------------

VERSION = 0x01

# Envelope types (§2.2).
T_IDENTITY_BUNDLE = 0x01
T_SEALED_IDENTITY = 0x02
T_WRAPPED_KEY = 0x03
T_SEALED_ITEM = 0x04
T_ATTACHMENT_HEADER = 0x05
T_SEALED_NOTES_KEY = 0x06
T_DOCUMENT_DESCRIPTION = 0x07
T_SAFETY_NUMBER = 0x08
T_MEMBERSHIP_RECORD = 0x0A
T_ITEM_DELETION = 0x0B

# Enum values (§2.2).
SEAL_PASSWORD, SEAL_RECOVERY = 0x01, 0x02
KIND_MESSAGE, KIND_DOCUMENT, KIND_NOTE = 0x01, 0x02, 0x03

# HKDF labels of §4.2: label -> (len(ikm), len(context)).
HKDF_LABELS = {
    "kluis/v1/identity-seal/password": (64, 16),
    "kluis/v1/identity-seal/recovery": (32, 16),
    "kluis/v1/local-store": (64, 16),
    "kluis/v1/device-store": (64, 16),
    "kluis/v1/item-key": (32, 20),
    "kluis/v1/note-item-key": (32, 20),
    "kluis/v1/attachment-stream": (32, 16),
}

# Other labels (§4.2), each followed by 0x00 where used.
L_IDENTITY_BUNDLE = b"kluis/v1/identity-bundle"
L_KEY_FINGERPRINT = b"kluis/v1/key-fingerprint"
L_RECOVERY_CHECKSUM = b"kluis/v1/recovery-checksum"
L_RELATIONSHIP_WRAP = b"kluis/v1/relationship-key-wrap"
L_ITEM_SIGNATURE = b"kluis/v1/item-signature"
L_NOTES_KEY_SEAL = b"kluis/v1/notes-key-seal"
L_SAFETY_NUMBER = b"kluis/v1/safety-number"
L_MEMBERSHIP_SIGNATURE = b"kluis/v1/membership-record"
L_MEMBERSHIP_HASH = b"kluis/v1/membership-record-hash"
L_ITEM_DELETION = b"kluis/v1/item-deletion"

# HPKE (§7.2): mode_auth, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
HPKE_MODE_AUTH = 0x02
HPKE_SUITE = CipherSuite.new(
    KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305
)

ITEM_CONTENT_MAX = 8 * 1024 * 1024  # §8.5
NAME_MAX, MEDIA_TYPE_MAX = 1024, 255  # §9.4
CHUNK = 65536  # §9.3
SEALED_CHUNK = CHUNK + 16
ATTACHMENT_HEADER_LEN = 37

RECOVERY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # §6

# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class VectorError(Exception):
    """A vector does not match, or cannot be checked: the script fails."""


class ProtocolError(Exception):
    """A rejection by the protocol; the class name is the spec's error name."""

    @property
    def name(self) -> str:
        return type(self).__name__


# Decoding errors (§2.1), key and signature errors (§5.2), recovery-key errors (§6),
# the OPAQUE failure (§3).
class Truncated(ProtocolError): pass
class TrailingBytes(ProtocolError): pass
class UnsupportedVersion(ProtocolError): pass
class WrongEnvelopeType(ProtocolError): pass
class LengthOutOfRange(ProtocolError): pass
class InvalidField(ProtocolError): pass
class InvalidPublicKey(ProtocolError): pass
class BadSignature(ProtocolError): pass
class RecoveryKeyFormat(ProtocolError): pass
class RecoveryKeyChecksum(ProtocolError): pass
class LoginFailed(ProtocolError): pass  # OPAQUE (§3)


class Decryption(ProtocolError):
    """The single opaque open error (§1.3). `reason` is this script's own
    note of which check failed; it is never part of the protocol."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Faulted(ProtocolError):
    """A check with named faults, named `<Family>.<fault>` in the vectors."""

    FAULTS: tuple[str, ...] = ()

    def __init__(self, fault: str):
        assert fault in self.FAULTS, fault
        super().__init__(fault)
        self.fault = fault

    @property
    def name(self) -> str:
        return f"{type(self).__name__}.{self.fault}"


class Membership(Faulted):
    """§7.6.2: a record is not the valid next link of its chain."""

    FAULTS = ("WrongRelationship", "EpochNotNext", "PreviousMismatch", "SignerNotCoach",
              "SignerKey", "Signature", "Opening")


class Deletion(Faulted):
    """§8.7: a signed deletion does not prove the deletion of the item it
    is served with."""

    FAULTS = ("WrongItem", "WrongAuthor", "SignerKey", "Signature")


# Error names a vector may expect in `expected_error`.
ERROR_NAMES = ({cls.__name__ for cls in ProtocolError.__subclasses__()} - {"Faulted"}) | {
    "Membership." + f for f in Membership.FAULTS} | {"Deletion." + f for f in Deletion.FAULTS}

# --------------------------------------------------------------------------
# Small encoding helpers
# --------------------------------------------------------------------------


def be32(x: int) -> bytes:
    return struct.pack(">I", x)


def be64(x: int) -> bytes:
    return struct.pack(">Q", x)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def uuid_text(raw: bytes) -> str:
    """§2.3: 8-4-4-4-12 lowercase hex, byte 0 first."""
    h = raw.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def parse_uuid_text(text: str) -> bytes:
    """§2.3: exactly 36 characters, '-' at 8, 13, 18, 23, hex digits elsewhere."""
    if len(text) != 36 or any(text[i] != "-" for i in (8, 13, 18, 23)):
        raise InvalidField("UUID text")
    digits = text.replace("-", "")
    if len(digits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise InvalidField("UUID text")
    return bytes.fromhex(digits)


class Reader:
    """Reads an envelope by the rules of §2.1, in reading order."""

    def __init__(self, data: bytes, envelope_type: int):
        self.data, self.pos = data, 0
        if self.take(1, "version")[0] != VERSION:
            raise UnsupportedVersion(f"version byte {data[0]:#04x}")
        if self.take(1, "type")[0] != envelope_type:
            raise WrongEnvelopeType(f"type byte {data[1]:#04x}, expected {envelope_type:#04x}")

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            raise Truncated(field)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def be32(self, field: str) -> int:
        return struct.unpack(">I", self.take(4, field))[0]

    def be64(self, field: str) -> int:
        return struct.unpack(">Q", self.take(8, field))[0]

    def enum(self, allowed: set[int], field: str) -> int:
        value = self.u8(field)
        if value not in allowed:
            raise InvalidField(f"{field} {value:#04x}")
        return value

    def variable(self, field: str, maximum: int) -> bytes:
        """BE32(len) ‖ bytes; the maximum is checked before the bytes are read."""
        n = self.be32(field + " length")
        if n > maximum:
            raise LengthOutOfRange(f"{field} length {n}, maximum {maximum}")
        return self.take(n, field)

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise TrailingBytes(f"{len(self.data) - self.pos} bytes after the last field")


# --------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------


def derive(ikm: bytes, label: str, context: bytes) -> bytes:
    """§4.1: HKDF-SHA256(salt = "", ikm, info = label ‖ 0x00 ‖ context, L = 32)."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=derive_info(label, context)).derive(ikm)


def derive_info(label: str, context: bytes) -> bytes:
    return label.encode("ascii") + b"\x00" + context


def xchacha_seal(key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def xchacha_open(key: bytes, nonce: bytes, ad: bytes, sealed: bytes, what: str) -> bytes:
    # PyNaCl raises ValueError, not CryptoError, for input shorter than a
    # tag (attachment_stream.json's final blocks of 1 and 15 bytes).
    if len(sealed) < 16:
        raise Decryption(f"{what}: shorter than a tag")
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, ad, nonce, key)
    except nacl.exceptions.CryptoError:
        raise Decryption(f"{what}: AEAD tag") from None


def x25519_public(secret: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()


def ed25519_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


ED_P = 2**255 - 19
ED_D = -121665 * pow(121666, -1, ED_P) % ED_P
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)


def ed25519_decode_point(encoded: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 point decoding, which also refuses non-canonical
    encodings (y ≥ p, or x = 0 with the sign bit set). Affine (x, y) or None."""
    n = int.from_bytes(encoded, "little")
    y, sign = n & (2**255 - 1), n >> 255
    if y >= ED_P:
        return None
    u, v = (y * y - 1) % ED_P, (ED_D * y * y + 1) % ED_P
    x = u * pow(v, 3, ED_P) * pow(u * pow(v, 7, ED_P), (ED_P - 5) // 8, ED_P) % ED_P
    if v * x * x % ED_P == (-u) % ED_P:
        x = x * ED_SQRT_M1 % ED_P
    if v * x * x % ED_P != u:
        return None
    if x == 0 and sign:
        return None
    return (ED_P - x if x & 1 != sign else x), y


def ed25519_double(point: tuple[int, int]) -> tuple[int, int]:
    """Affine doubling on -x² + y² = 1 + d·x²·y²."""
    x, y = point
    t = ED_D * x * x * y * y % ED_P
    return ((2 * x * y) * pow(1 + t, -1, ED_P) % ED_P,
            (y * y + x * x) * pow(1 - t, -1, ED_P) % ED_P)


def ed25519_key_is_valid(encoded: bytes) -> bool:
    """§5.2 step 2: decodes, canonical, and not of small order ([8]A ≠ identity)."""
    point = ed25519_decode_point(encoded)
    if point is None:
        return False
    for _ in range(3):
        point = ed25519_double(point)
    return point != (0, 1)


def x25519_key_is_valid(public: bytes) -> bool:
    """§5.2 step 2: X25519(0x55…55, public) is not all zeros. (OpenSSL, behind
    `cryptography`, refuses an all-zero X25519 output with ValueError.)"""
    try:
        X25519PrivateKey.from_private_bytes(b"\x55" * 32).exchange(X25519PublicKey.from_public_bytes(public))
        return True
    except ValueError:
        return False


ED_L = 2**252 + 27742317777372353535851937790883648493


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """§5.2 step 3, verify_strict: S < ℓ, R a canonical point not of small
    order, A likewise, then the equation (libsodium's, which applies the same
    checks). The checks are made here too rather than trusted to the library:
    plain RFC 8032 verification, such as OpenSSL's behind `cryptography`,
    accepts the small-order vectors of identity.json."""
    if len(signature) != 64 or int.from_bytes(signature[32:], "little") >= ED_L:
        return False
    if not (ed25519_key_is_valid(signature[:32]) and ed25519_key_is_valid(public)):
        return False
    try:
        nacl.signing.VerifyKey(public).verify(message, signature)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


def hpke_auth_seal(sk_s: bytes, pk_r: bytes, info: bytes, plaintext: bytes, ikm_e: bytes):
    """§7.2: single-shot HPKE Auth seal, ephemeral = DeriveKeyPair(ikm_e).
    Returns (enc, ciphertext ‖ tag)."""
    kem = HPKE_SUITE.kem
    ephemeral = kem.derive_key_pair(ikm_e)
    enc, context = HPKE_SUITE.create_sender_context(
        kem.deserialize_public_key(pk_r), info,
        sks=kem.deserialize_private_key(sk_s), eks=ephemeral,
    )
    if enc != x25519_public(ephemeral.private_key.to_private_bytes()):
        raise VectorError("pyhpke: enc is not the public key of DeriveKeyPair(ikm_e)")
    return enc, context.seal(plaintext, aad=b"")


def hpke_auth_open(enc: bytes, sk_r: bytes, pk_s: bytes, info: bytes, sealed: bytes) -> bytes:
    kem = HPKE_SUITE.kem
    try:
        context = HPKE_SUITE.create_recipient_context(
            enc, kem.deserialize_private_key(sk_r), info,
            pks=kem.deserialize_public_key(pk_s),
        )
        return context.open(sealed, aad=b"")
    except (PyHPKEError, ValueError):  # ValueError: all-zero X25519 output
        raise Decryption("HPKE open") from None


# --------------------------------------------------------------------------
# Identity (§5)
# --------------------------------------------------------------------------


@dataclass
class Identity:
    user_id: bytes
    dh_secret: bytes
    signing_seed: bytes
    dh_public: bytes
    signing_public: bytes
    bundle: bytes

    @property
    def body(self) -> bytes:
        return self.bundle[:82]

    @property
    def fingerprint(self) -> bytes:
        return key_fingerprint(self.bundle)


def bundle_message(body: bytes) -> bytes:
    return L_IDENTITY_BUNDLE + b"\x00" + body


def key_fingerprint(bundle: bytes) -> bytes:
    """§5.3."""
    return sha256(L_KEY_FINGERPRINT + b"\x00" + bundle[:82])


def build_identity(user_id: bytes, dh_secret: bytes, signing_seed: bytes) -> Identity:
    """§5.1, §5.2: the identity and its signed bundle from its three inputs."""
    dh_public, signing_public = x25519_public(dh_secret), ed25519_public(signing_seed)
    body = bytes([VERSION, T_IDENTITY_BUNDLE]) + user_id + dh_public + signing_public
    signature = ed25519_sign(signing_seed, bundle_message(body))
    return Identity(user_id, dh_secret, signing_seed, dh_public, signing_public, body + signature)


@dataclass
class Bundle:
    user_id: bytes
    dh_public: bytes
    signing_public: bytes


def decode_bundle(data: bytes) -> Bundle:
    """§5.2 decoding: shape, then both public keys, then verify_strict."""
    r = Reader(data, T_IDENTITY_BUNDLE)
    user_id, dh_public = r.take(16, "user_id"), r.take(32, "x25519_public")
    signing_public, signature = r.take(32, "ed25519_public"), r.take(64, "signature")
    r.finish()
    if not ed25519_key_is_valid(signing_public):
        raise InvalidPublicKey("ed25519_public")
    if not x25519_key_is_valid(dh_public):
        raise InvalidPublicKey("x25519_public is of small order")
    if not ed25519_verify(signing_public, bundle_message(data[:82]), signature):
        raise BadSignature("identity bundle")
    return Bundle(user_id, dh_public, signing_public)


SEAL_LABELS = {
    SEAL_PASSWORD: "kluis/v1/identity-seal/password",
    SEAL_RECOVERY: "kluis/v1/identity-seal/recovery",
}


def sealed_identity_ad(kind: int, user_id: bytes) -> bytes:
    return bytes([VERSION, T_SEALED_IDENTITY, kind]) + user_id


def seal_identity(identity: Identity, kind: int, secret: bytes, nonce: bytes):
    """§5.4. Returns (seal key, ad, envelope)."""
    key = derive(secret, SEAL_LABELS[kind], identity.user_id)
    ad = sealed_identity_ad(kind, identity.user_id)
    sealed = xchacha_seal(key, nonce, ad, identity.dh_secret + identity.signing_seed)
    return key, ad, ad + nonce + sealed


def decode_sealed_identity(data: bytes) -> dict:
    r = Reader(data, T_SEALED_IDENTITY)
    out = {
        "kind": r.enum({SEAL_PASSWORD, SEAL_RECOVERY}, "seal kind"),
        "user_id": r.take(16, "user_id"),
        "nonce": r.take(24, "nonce"),
        "sealed": r.take(64 + 16, "ciphertext ‖ tag"),
    }
    r.finish()
    return out


def open_sealed_identity(data: bytes, kind: int, secret: bytes, user_id: bytes) -> Identity:
    """§5.4 opening, by a caller who names the kind and the expected user."""
    env = decode_sealed_identity(data)
    if env["kind"] != kind:
        raise Decryption("seal kind is not the kind being opened")
    if env["user_id"] != user_id:
        raise Decryption("user id is not the expected user")
    key = derive(secret, SEAL_LABELS[kind], user_id)
    plain = xchacha_open(key, env["nonce"], sealed_identity_ad(kind, user_id), env["sealed"], "sealed identity")
    return build_identity(user_id, plain[:32], plain[32:])


# --------------------------------------------------------------------------
# Recovery key (§6)
# --------------------------------------------------------------------------


def recovery_checksum(key: bytes) -> bytes:
    return sha256(L_RECOVERY_CHECKSUM + b"\x00" + key)[:3]


def recovery_display(key: bytes) -> str:
    text = base64.b32encode(key + recovery_checksum(key)).decode("ascii")
    assert len(text) == 56 and "=" not in text
    return "-".join(text[i:i + 4] for i in range(0, 56, 4))


def parse_recovery_key(typed: str) -> bytes:
    kept = []
    for c in typed:
        if "a" <= c <= "z":  # ASCII uppercase only; str.upper() would map e.g. 'ı' to 'I'
            c = chr(ord(c) - 32)
        if c in " -\t\n\r":
            continue
        c = {"0": "O", "1": "I", "8": "B"}.get(c, c)
        if c not in RECOVERY_ALPHABET:
            raise RecoveryKeyFormat(f"character {c!r}")
        kept.append(c)
    if len(kept) != 56:
        raise RecoveryKeyFormat(f"{len(kept)} characters, expected 56")
    raw = base64.b32decode("".join(kept))
    key, checksum = raw[:32], raw[32:]
    if not hmac.compare_digest(checksum, recovery_checksum(key)):
        raise RecoveryKeyChecksum("checksum")
    return key


# --------------------------------------------------------------------------
# Relationship keys (§7) and notes keys (§10)
# --------------------------------------------------------------------------


def wrap_info(relationship_id: bytes, epoch: int, sender_id: bytes, recipient_id: bytes,
              recipient_fingerprint: bytes, record_hash: bytes) -> bytes:
    """§7.3 (148 bytes)."""
    return (L_RELATIONSHIP_WRAP + b"\x00" + bytes([VERSION]) + relationship_id + be32(epoch)
            + sender_id + recipient_id + recipient_fingerprint + record_hash)


def wrap_relationship_key(sender: Identity, recipient: Identity, relationship_id: bytes,
                          epoch: int, epoch_key: bytes, record_hash: bytes, ikm_e: bytes):
    """§7.2–§7.4. Returns (info, envelope): the envelope's header is the
    info between the version byte and the record hash."""
    info = wrap_info(relationship_id, epoch, sender.user_id, recipient.user_id, recipient.fingerprint,
                     record_hash)
    enc, sealed = hpke_auth_seal(sender.dh_secret, recipient.dh_public, info, epoch_key, ikm_e)
    return info, bytes([VERSION, T_WRAPPED_KEY]) + info[32:-32] + enc + sealed


def decode_wrapped_key(data: bytes) -> dict:
    r = Reader(data, T_WRAPPED_KEY)
    out = {
        "relationship_id": r.take(16, "relationship_id"),
        "epoch": r.be32("epoch"),
        "sender_id": r.take(16, "sender_id"),
        "recipient_id": r.take(16, "recipient_id"),
        "recipient_fingerprint": r.take(32, "recipient_fingerprint"),
        "enc": r.take(32, "enc"),
        "sealed": r.take(32 + 16, "ciphertext ‖ tag"),
    }
    r.finish()
    return out


def unwrap_relationship_key(data: bytes, me: Identity, sender_bundle: bytes,
                            relationship_id: bytes, epoch: int, record_hash: bytes) -> bytes:
    """§7.5, with the recipient's identity and the sender's pinned bundle."""
    env = decode_wrapped_key(data)
    sender = decode_bundle(sender_bundle)
    for field, expected in (("relationship_id", relationship_id), ("epoch", epoch),
                            ("sender_id", sender.user_id), ("recipient_id", me.user_id),
                            ("recipient_fingerprint", me.fingerprint)):
        if env[field] != expected:
            raise Decryption(f"header {field} is not the expected one")
    info = wrap_info(relationship_id, epoch, sender.user_id, me.user_id, me.fingerprint, record_hash)
    plain = hpke_auth_open(env["enc"], me.dh_secret, sender.dh_public, info, env["sealed"])
    if len(plain) != 32:
        raise Decryption("plaintext is not 32 bytes")
    return plain


def notes_info(coach_id: bytes, generation: int, coach_fingerprint: bytes) -> bytes:
    """§10.2 (77 bytes)."""
    return L_NOTES_KEY_SEAL + b"\x00" + bytes([VERSION]) + coach_id + be32(generation) + coach_fingerprint


def seal_notes_key(coach: Identity, generation: int, notes_key: bytes, ikm_e: bytes):
    """§10.2, §10.3. Returns (info, envelope)."""
    info = notes_info(coach.user_id, generation, coach.fingerprint)
    enc, sealed = hpke_auth_seal(coach.dh_secret, coach.dh_public, info, notes_key, ikm_e)
    return info, bytes([VERSION, T_SEALED_NOTES_KEY]) + info[25:] + enc + sealed


def decode_sealed_notes_key(data: bytes) -> dict:
    r = Reader(data, T_SEALED_NOTES_KEY)
    out = {
        "coach_id": r.take(16, "coach_id"),
        "generation": r.be32("generation"),
        "coach_fingerprint": r.take(32, "coach_fingerprint"),
        "enc": r.take(32, "enc"),
        "sealed": r.take(32 + 16, "ciphertext ‖ tag"),
    }
    r.finish()
    return out


def open_notes_key(data: bytes, coach: Identity) -> tuple[int, bytes]:
    """§10.3 opening, as the coach. The generation is the envelope's.
    Returns (generation, notes key)."""
    env = decode_sealed_notes_key(data)
    if env["coach_id"] != coach.user_id:
        raise Decryption("coach_id is not the coach")
    if env["coach_fingerprint"] != coach.fingerprint:
        raise Decryption("coach_fingerprint is not the coach's current bundle")
    info = notes_info(coach.user_id, env["generation"], coach.fingerprint)
    plain = hpke_auth_open(env["enc"], coach.dh_secret, coach.dh_public, info, env["sealed"])
    if len(plain) != 32:
        raise Decryption("plaintext is not 32 bytes")
    return env["generation"], plain


# --------------------------------------------------------------------------
# Items (§8)
# --------------------------------------------------------------------------


def item_key(epoch_key: bytes, relationship_id: bytes, epoch: int) -> bytes:
    return derive(epoch_key, "kluis/v1/item-key", relationship_id + be32(epoch))


def note_item_key(notes_key: bytes, relationship_id: bytes, generation: int) -> bytes:
    return derive(notes_key, "kluis/v1/note-item-key", relationship_id + be32(generation))


def item_header(relationship_id: bytes, epoch: int, item_id: bytes, kind: int, author_id: bytes) -> bytes:
    """§8.2 (55 bytes)."""
    return bytes([VERSION, T_SEALED_ITEM]) + relationship_id + be32(epoch) + item_id + bytes([kind]) + author_id


def item_signature_message(header: bytes, content: bytes) -> bytes:
    """§8.4 (111 bytes)."""
    return L_ITEM_SIGNATURE + b"\x00" + header + sha256(content)


def seal_item(key: bytes, header: bytes, author: Identity, content: bytes, nonce: bytes):
    """§8.4, §8.5. Returns (signature message, envelope)."""
    if len(content) > ITEM_CONTENT_MAX:
        raise LengthOutOfRange("item content")
    message = item_signature_message(header, content)
    sealed = xchacha_seal(key, nonce, header, ed25519_sign(author.signing_seed, message) + content)
    return message, header + nonce + be32(len(sealed)) + sealed


@dataclass
class SealedItem:
    header: bytes
    relationship_id: bytes
    epoch: int
    item_id: bytes
    kind: int
    author_id: bytes
    nonce: bytes
    sealed: bytes


def decode_sealed_item(data: bytes) -> SealedItem:
    r = Reader(data, T_SEALED_ITEM)
    relationship_id, epoch, item_id = r.take(16, "relationship_id"), r.be32("epoch"), r.take(16, "item_id")
    kind = r.enum({KIND_MESSAGE, KIND_DOCUMENT, KIND_NOTE}, "item kind")
    author_id, nonce = r.take(16, "author_id"), r.take(24, "nonce")
    ct_len = r.be32("ct_len")  # §8.5: range checked before the bytes are read
    if ct_len > 64 + ITEM_CONTENT_MAX + 16:
        raise LengthOutOfRange(f"ct_len {ct_len}")
    if ct_len < 64 + 16:
        raise InvalidField("ciphertext shorter than signature and tag")
    sealed = r.take(ct_len, "ciphertext")
    r.finish()
    return SealedItem(data[:55], relationship_id, epoch, item_id, kind, author_id, nonce, sealed)


def open_item_checked(item: SealedItem, key: bytes, expected_item_id: bytes, author_bundle: bytes) -> bytes:
    """§8.6 steps 3–7, common to relationship items and notes."""
    author = decode_bundle(author_bundle)
    if item.item_id != expected_item_id:
        raise Decryption("item_id is not the expected item id")
    if item.author_id != author.user_id:
        raise Decryption("author_id is not the author bundle's user id")
    plain = xchacha_open(key, item.nonce, item.header, item.sealed, "sealed item")
    if len(plain) < 64:
        raise Decryption("plaintext shorter than a signature")
    signature, content = plain[:64], plain[64:]
    if not ed25519_verify(author.signing_public, item_signature_message(item.header, content), signature):
        raise Decryption("item signature")
    return content


def open_relationship_item(data: bytes, epoch_key: bytes, relationship_id: bytes, epoch: int,
                           expected_item_id: bytes, author_bundle: bytes) -> SealedItem:
    """§8.6 for messages and documents; returns the item with `sealed` replaced
    by the verified content."""
    item = decode_sealed_item(data)
    if item.kind not in (KIND_MESSAGE, KIND_DOCUMENT):
        raise Decryption("kind is not message or document")
    if (item.relationship_id, item.epoch) != (relationship_id, epoch):
        raise Decryption("relationship or epoch is not the epoch key's")
    key = item_key(epoch_key, relationship_id, epoch)
    item.sealed = open_item_checked(item, key, expected_item_id, author_bundle)
    return item


def open_note(data: bytes, notes_key: bytes, coach_id: bytes, generation: int, relationship_id: bytes,
              expected_item_id: bytes, coach_bundle: bytes) -> bytes:
    """§8.6 for notes: the notes key belongs to (coach_id, generation);
    `coach_bundle` is the bundle the opener verifies the author with."""
    item = decode_sealed_item(data)
    if item.kind != KIND_NOTE:
        raise Decryption("kind is not note")
    if item.relationship_id != relationship_id:
        raise Decryption("relationship_id is not the expected relationship")
    if item.epoch != generation:
        raise Decryption("epoch is not the notes key's generation")
    if decode_bundle(coach_bundle).user_id != coach_id:
        raise Decryption("coach bundle is not the notes key's coach")
    key = note_item_key(notes_key, relationship_id, generation)
    return open_item_checked(item, key, expected_item_id, coach_bundle)


# --------------------------------------------------------------------------
# Attachments (§9)
# --------------------------------------------------------------------------


def stream_key(file_key: bytes, attachment_id: bytes) -> bytes:
    return derive(file_key, "kluis/v1/attachment-stream", attachment_id)


def attachment_header(attachment_id: bytes, nonce_prefix: bytes) -> bytes:
    return bytes([VERSION, T_ATTACHMENT_HEADER]) + attachment_id + nonce_prefix


def decode_attachment_header(data: bytes) -> dict:
    r = Reader(data, T_ATTACHMENT_HEADER)
    out = {"attachment_id": r.take(16, "attachment_id"), "nonce_prefix": r.take(19, "nonce_prefix")}
    r.finish()
    return out


def chunk_nonce(nonce_prefix: bytes, index: int, final: bool) -> bytes:
    return nonce_prefix + be32(index) + (b"\x01" if final else b"\x00")


def plaintext_rule(length: int) -> bytes:
    """The attachment vectors' plaintext: byte i is i mod 251."""
    return bytes(i % 251 for i in range(length))


def seal_stream(file_key: bytes, attachment_id: bytes, nonce_prefix: bytes, plaintext: bytes):
    """§9.3. Returns (header, [sealed chunks])."""
    key, header = stream_key(file_key, attachment_id), attachment_header(attachment_id, nonce_prefix)
    count = max(1, -(-len(plaintext) // CHUNK))
    chunks = [
        xchacha_seal(key, chunk_nonce(nonce_prefix, i, i == count - 1), header,
                     plaintext[i * CHUNK:(i + 1) * CHUNK])
        for i in range(count)
    ]
    return header, chunks


def split_stream(stream: bytes) -> tuple[bytes, list[bytes]]:
    """§9.3 reading step 2: header, then blocks of 65 552 bytes, the last one
    being whatever reaches the end of the input."""
    body = stream[ATTACHMENT_HEADER_LEN:]
    return stream[:ATTACHMENT_HEADER_LEN], [body[i:i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)]


def open_stream(stream: bytes, file_key: bytes, attachment_id: bytes, expected_sha256: bytes) -> bytes:
    """§9.3 reading, whole-stream (`decrypt_stream`), with the digest check."""
    if len(stream) <= ATTACHMENT_HEADER_LEN:
        raise Decryption("short: nothing follows the header")
    header_bytes, blocks = split_stream(stream)
    # §9.3 step 1: a header that does not decode gets its §2.1 error.
    header = decode_attachment_header(header_bytes)
    if header["attachment_id"] != attachment_id:
        raise Decryption("attachment id")
    key, plaintext = stream_key(file_key, attachment_id), []
    for i, block in enumerate(blocks):
        final = i == len(blocks) - 1
        chunk = xchacha_open(key, chunk_nonce(header["nonce_prefix"], i, final), header_bytes, block, f"chunk {i}")
        if final and not chunk and len(blocks) > 1:
            raise Decryption("canonical: empty final chunk after a full one")
        plaintext.append(chunk)
    if not hmac.compare_digest(sha256(stream), expected_sha256):
        raise Decryption("digest: stream SHA-256 is not the description's")
    return b"".join(plaintext)


def check_file_name(raw: bytes) -> str:
    """§9.4: non-empty UTF-8, not '.' or '..', no control character (Unicode
    category Cc), '/' or '\\'."""
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidField("file name is not UTF-8") from None
    if name in ("", ".", ".."):
        raise InvalidField(f"file name {name!r}")
    if any(c in "/\\" or unicodedata.category(c) == "Cc" for c in name):
        raise InvalidField(f"file name {name!r} has a separator or control character")
    return name


def check_media_type(raw: bytes) -> str:
    """§9.4: non-empty, bytes in 0x20..0x7e."""
    if not raw or any(not 0x20 <= b <= 0x7E for b in raw):
        raise InvalidField(f"media type {raw!r}")
    return raw.decode("ascii")


def encode_document_description(attachment_id: bytes, file_key: bytes, size: int,
                                ciphertext_sha256: bytes, name: str, media_type: str) -> bytes:
    """§9.4; encoding refuses what decoding rejects."""
    name_b, media_b = name.encode("utf-8"), media_type.encode("utf-8")
    if len(name_b) > NAME_MAX or len(media_b) > MEDIA_TYPE_MAX:
        raise LengthOutOfRange("name or media type")
    check_file_name(name_b)
    check_media_type(media_b)
    return (bytes([VERSION, T_DOCUMENT_DESCRIPTION]) + attachment_id + file_key + be64(size)
            + ciphertext_sha256 + be32(len(name_b)) + name_b + be32(len(media_b)) + media_b)


def decode_document_description(data: bytes) -> dict:
    r = Reader(data, T_DOCUMENT_DESCRIPTION)
    out: dict[str, Any] = {
        "attachment_id": r.take(16, "attachment_id"),
        "file_key": r.take(32, "file_key"),
        "size": r.be64("size"),
        "ciphertext_sha256": r.take(32, "ciphertext_sha256"),
    }
    out["name"] = check_file_name(r.variable("name", NAME_MAX))
    out["media_type"] = check_media_type(r.variable("media type", MEDIA_TYPE_MAX))
    r.finish()
    return out


# --------------------------------------------------------------------------
# OPAQUE (§3): RFC 9807 with ristretto255-SHA512 (RFC 9497), 3DH, Argon2id
# --------------------------------------------------------------------------
# Written from RFC 9807, RFC 9497 and RFC 9380 with the group operations of
# libsodium (through rbcl) and libsodium's Argon2id (through PyNaCl): no
# OPAQUE library is involved, and none of the Rust crates.

OPRF_CONTEXT = b"OPRFV1-\x00-ristretto255-SHA512"  # RFC 9497 §3.1, mode 0x00 (OPRF)
OPAQUE_CONTEXT = b"kluis/v1/opaque"  # §3, the application context
ARGON2 = {"version": 0x13, "memory_kib": 65536, "passes": 3, "lanes": 1, "salt": bytes(16), "output_len": 64}
NN = NSEED = NPK = 32  # nonce, seed and public key lengths
NH = 64  # SHA-512


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def length_prefixed(data: bytes) -> bytes:
    return i2osp(len(data), 2) + data


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512 (b_in_bytes 64, s_in_bytes 128)."""
    dst_prime = dst + i2osp(len(dst), 1)
    b0 = sha512(bytes(128) + msg + i2osp(length, 2) + b"\x00" + dst_prime)
    blocks = [sha512(b0 + b"\x01" + dst_prime)]
    while 64 * len(blocks) < length:
        mixed = bytes(x ^ y for x, y in zip(b0, blocks[-1]))
        blocks.append(sha512(mixed + i2osp(len(blocks) + 1, 1) + dst_prime))
    return b"".join(blocks)[:length]


def hash_to_group(msg: bytes) -> bytes:
    """RFC 9497 §4.1: expand_message_xmd to 64 bytes, then RFC 9496's
    one-way map (libsodium's crypto_core_ristretto255_from_hash)."""
    return rbcl.crypto_core_ristretto255_from_hash(expand_message_xmd(msg, b"HashToGroup-" + OPRF_CONTEXT, 64))


def hash_to_scalar(msg: bytes, dst: bytes) -> bytes:
    """RFC 9497 §4.1: 64 uniform bytes, little-endian, reduced mod ℓ."""
    return rbcl.crypto_core_ristretto255_scalar_reduce(expand_message_xmd(msg, dst, 64))


def derive_key_pair(seed: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9497 §3.2.1 DeriveKeyPair. Returns (scalar, public element)."""
    derive_input = seed + length_prefixed(info)
    for counter in range(256):
        sk = hash_to_scalar(derive_input + i2osp(counter, 1), b"DeriveKeyPair" + OPRF_CONTEXT)
        if sk != bytes(32):
            return sk, rbcl.crypto_scalarmult_ristretto255_base(sk)
    raise VectorError("DeriveKeyPair: no key in 256 tries")


def derive_dh_key_pair(seed: bytes) -> tuple[bytes, bytes]:
    """RFC 9807 §6.4.1 DeriveDiffieHellmanKeyPair."""
    return derive_key_pair(seed, b"OPAQUE-DeriveDiffieHellmanKeyPair")


def hkdf_extract_512(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha512).digest()


def hkdf_expand_512(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha512).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def mac512(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha512).digest()


def expand_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """RFC 9807 §6.4.2 Expand-Label (Derive-Secret with length Nx = 64)."""
    full = b"OPAQUE-" + label
    return hkdf_expand_512(secret, i2osp(length, 2) + i2osp(len(full), 1) + full + i2osp(len(context), 1) + context,
                           length)


def oprf_blind(password: bytes, blind: bytes) -> bytes:
    return rbcl.crypto_scalarmult_ristretto255(blind, hash_to_group(password))


def oprf_finalize(password: bytes, blind: bytes, evaluated: bytes) -> bytes:
    """RFC 9497 §3.3.1 Finalize."""
    unblinded = rbcl.crypto_scalarmult_ristretto255(rbcl.crypto_core_ristretto255_scalar_invert(blind), evaluated)
    return sha512(length_prefixed(password) + length_prefixed(unblinded) + b"Finalize")


def oprf_key(oprf_seed: bytes, credential_identifier: bytes) -> bytes:
    """RFC 9807 §5.2.2: the per-user OPRF key."""
    seed = hkdf_expand_512(oprf_seed, credential_identifier + b"OprfKey", 32)
    return derive_key_pair(seed, b"OPAQUE-DeriveKeyPair")[0]


def randomized_password(password: bytes, blind: bytes, evaluated: bytes) -> bytes:
    """§3: HKDF-Extract("", oprf_output ‖ Argon2id(oprf_output)), Argon2id
    with Kluis's parameters (libsodium's has one lane, which is Kluis's)."""
    output = oprf_finalize(password, blind, evaluated)
    stretched = nacl.pwhash.argon2id.kdf(ARGON2["output_len"], output, ARGON2["salt"],
                                         opslimit=ARGON2["passes"], memlimit=ARGON2["memory_kib"] * 1024)
    return hkdf_extract_512(b"", output + stretched)


def cleartext_credentials(server_public_key: bytes, client_public_key: bytes) -> bytes:
    """RFC 9807 §4.1.2 with the default identities (§3)."""
    return server_public_key + length_prefixed(server_public_key) + length_prefixed(client_public_key)


def envelope_keys(rwd: bytes, envelope_nonce: bytes, server_public_key: bytes):
    """RFC 9807 §4.1.2 Store/Recover. Returns (client private key, client
    public key, auth tag, export key)."""
    auth_key = hkdf_expand_512(rwd, envelope_nonce + b"AuthKey", NH)
    export_key = hkdf_expand_512(rwd, envelope_nonce + b"ExportKey", NH)
    client_sk, client_pk = derive_dh_key_pair(hkdf_expand_512(rwd, envelope_nonce + b"PrivateKey", NSEED))
    tag = mac512(auth_key, envelope_nonce + cleartext_credentials(server_public_key, client_pk))
    return client_sk, client_pk, tag, export_key


def opaque_registration(password: bytes, credential_identifier: bytes, oprf_seed: bytes, server_public_key: bytes,
                        blind: bytes, envelope_nonce: bytes):
    """RFC 9807 §5: returns (request, response, record, export key)."""
    request = oprf_blind(password, blind)
    response = rbcl.crypto_scalarmult_ristretto255(oprf_key(oprf_seed, credential_identifier), request) \
        + server_public_key
    rwd = randomized_password(password, blind, response[:32])
    _, client_pk, tag, export_key = envelope_keys(rwd, envelope_nonce, server_public_key)
    masking_key = hkdf_expand_512(rwd, b"MaskingKey", NH)
    return request, response, client_pk + masking_key + envelope_nonce + tag, export_key


def ake_keys(ikm: bytes, preamble: bytes) -> tuple[bytes, bytes, bytes]:
    """RFC 9807 §6.4.2 DeriveKeys: (Km2, Km3, session key)."""
    prk = hkdf_extract_512(b"", ikm)
    transcript = sha512(preamble)
    handshake = expand_label(prk, b"HandshakeSecret", transcript, NH)
    session_key = expand_label(prk, b"SessionKey", transcript, NH)
    return expand_label(handshake, b"ServerMAC", b"", NH), expand_label(handshake, b"ClientMAC", b"", NH), session_key


def opaque_ke1(password: bytes, blind: bytes, keyshare_seed: bytes, nonce: bytes) -> bytes:
    return oprf_blind(password, blind) + nonce + derive_dh_key_pair(keyshare_seed)[1]


def opaque_ke2(ke1: bytes, record: bytes, credential_identifier: bytes, oprf_seed: bytes, server_private_key: bytes,
               masking_nonce: bytes, keyshare_seed: bytes, nonce: bytes):
    """RFC 9807 §6.3.2.2 and §6.4.3 (server). Returns (KE2, expected KE3,
    session key)."""
    server_public_key = rbcl.crypto_scalarmult_ristretto255_base(server_private_key)
    client_pk, masking_key, envelope = record[:32], record[32:96], record[96:]
    evaluated = rbcl.crypto_scalarmult_ristretto255(oprf_key(oprf_seed, credential_identifier), ke1[:32])
    pad = hkdf_expand_512(masking_key, masking_nonce + b"CredentialResponsePad", NPK + NN + NH)
    masked = bytes(x ^ y for x, y in zip(pad, server_public_key + envelope))
    credential_response = evaluated + masking_nonce + masked
    share_sk, share_pk = derive_dh_key_pair(keyshare_seed)
    client_share = ke1[64:96]
    preamble = (b"OPAQUEv1-" + length_prefixed(OPAQUE_CONTEXT) + length_prefixed(client_pk) + ke1
                + length_prefixed(server_public_key) + credential_response + nonce + share_pk)
    ikm = (rbcl.crypto_scalarmult_ristretto255(share_sk, client_share)
           + rbcl.crypto_scalarmult_ristretto255(server_private_key, client_share)
           + rbcl.crypto_scalarmult_ristretto255(share_sk, client_pk))
    km2, km3, session_key = ake_keys(ikm, preamble)
    server_mac = mac512(km2, sha512(preamble))
    return credential_response + nonce + share_pk + server_mac, mac512(km3, sha512(preamble + server_mac)), session_key


def opaque_ke3(password: bytes, blind: bytes, keyshare_seed: bytes, ke1: bytes, ke2: bytes):
    """RFC 9807 §6.3.2.3 and §6.4.3 (client). Returns (KE3, export key,
    session key), or raises LoginFailed."""
    evaluated, masking_nonce, masked = ke2[:32], ke2[32:64], ke2[64:192]
    server_nonce, server_share, server_mac = ke2[192:224], ke2[224:256], ke2[256:320]
    rwd = randomized_password(password, blind, evaluated)
    pad = hkdf_expand_512(hkdf_expand_512(rwd, b"MaskingKey", NH), masking_nonce + b"CredentialResponsePad",
                          NPK + NN + NH)
    unmasked = bytes(x ^ y for x, y in zip(pad, masked))
    server_public_key, envelope_nonce, tag = unmasked[:32], unmasked[32:64], unmasked[64:]
    client_sk, client_pk, expected_tag, export_key = envelope_keys(rwd, envelope_nonce, server_public_key)
    if not hmac.compare_digest(tag, expected_tag):
        raise LoginFailed("envelope auth tag")
    share_sk = derive_dh_key_pair(keyshare_seed)[0]
    preamble = (b"OPAQUEv1-" + length_prefixed(OPAQUE_CONTEXT) + length_prefixed(client_pk) + ke1
                + length_prefixed(server_public_key) + ke2[:192] + server_nonce + server_share)
    try:
        ikm = (rbcl.crypto_scalarmult_ristretto255(share_sk, server_share)
               + rbcl.crypto_scalarmult_ristretto255(share_sk, server_public_key)
               + rbcl.crypto_scalarmult_ristretto255(client_sk, server_share))
    except Exception:
        raise LoginFailed("a key share is not a group element") from None
    km2, km3, session_key = ake_keys(ikm, preamble)
    if not hmac.compare_digest(server_mac, mac512(km2, sha512(preamble))):
        raise LoginFailed("server MAC")
    return mac512(km3, sha512(preamble + server_mac)), export_key, session_key


# --------------------------------------------------------------------------
# Safety numbers (§11)
# --------------------------------------------------------------------------


def safety_digest(bundle: bytes) -> bytes:
    return sha256(L_SAFETY_NUMBER + b"\x00" + bundle[:82])


def safety_digits(digest: bytes) -> str:
    return "".join(f"{int.from_bytes(digest[5 * j:5 * j + 5], 'big') % 100000:05d}" for j in range(6))


def safety_number(bundle_a: bytes, bundle_b: bytes) -> tuple[str, str, bytes]:
    """Returns (60 digits, display form, QR payload)."""
    low, high = sorted((safety_digest(bundle_a), safety_digest(bundle_b)))
    digits = safety_digits(low) + safety_digits(high)
    display = " ".join(digits[i:i + 5] for i in range(0, 60, 5))
    return digits, display, bytes([VERSION, T_SAFETY_NUMBER]) + low + high


# Envelope decoders by name, for envelopes.json (§13.2).
DECODERS: dict[str, Callable[[bytes], Any]] = {
    "identity_bundle": decode_bundle,
    "sealed_identity": decode_sealed_identity,
    "wrapped_relationship_key": decode_wrapped_key,
    "sealed_item": decode_sealed_item,
    "attachment_header": decode_attachment_header,
    "sealed_notes_key": decode_sealed_notes_key,
    "document_description": decode_document_description,
}

# ==========================================================================
# Reading the vector files
# ==========================================================================


def describe_difference(got: Any, want: Any) -> str:
    if isinstance(got, bytes) and isinstance(want, bytes):
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        lo = max(0, at - 8)
        return (f"lengths {len(got)} (computed) vs {len(want)} (vector), first difference at byte {at}: "
                f"computed …{got[lo:at + 16].hex()}… vector …{want[lo:at + 16].hex()}…")
    return f"computed {got!r}, vector has {want!r}"


class Fields:
    """A JSON object from a vector file. Every key must be read by the checks:
    `done()` fails on any key nobody read (a field this script does not know
    how to check), and reading a missing key fails too."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise VectorError(f"{where}: expected a JSON object")
        self.data, self.where = data, where
        self.used: set[str] = set()
        self.children: list[Fields] = []

    def path(self, key: str) -> str:
        return f"{self.where}.{key}"

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: type) -> Any:
        if key not in self.data:
            raise VectorError(f"{self.path(key)}: missing field")
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise VectorError(f"{self.path(key)}: expected a {kind.__name__}, got {value!r}")
        self.used.add(key)
        return value

    def hex(self, key: str, size: int | None = None) -> bytes:
        text = self.get(key, str)
        if not re.fullmatch(r"(?:[0-9a-f]{2})*", text):
            raise VectorError(f"{self.path(key)}: not lowercase hex")
        raw = bytes.fromhex(text)
        if size is not None and len(raw) != size:
            raise VectorError(f"{self.path(key)}: {len(raw)} bytes, expected {size}")
        return raw

    def int(self, key: str) -> int:
        return self.get(key, int)

    def text(self, key: str) -> str:
        return self.get(key, str)

    def list(self, key: str) -> list:
        return self.get(key, list)

    def obj(self, key: str) -> Fields:
        child = Fields(self.get(key, dict), self.path(key))
        self.children.append(child)
        return child

    def check(self, key: str, computed: Any) -> None:
        """Compares a computed value with the field (hex for bytes)."""
        if isinstance(computed, bytes):
            want: Any = self.hex(key)
        elif isinstance(computed, int):
            want = self.int(key)
        else:
            want = self.text(key)
        if computed != want:
            raise VectorError(f"{self.path(key)}: mismatch: {describe_difference(computed, want)}")

    def done(self) -> None:
        unread = sorted(set(self.data) - self.used)
        if unread:
            raise VectorError(f"{self.where}: field(s) {', '.join(unread)} not checked "
                              "(this script does not know how to check them)")
        for child in self.children:
            child.done()


def same(where: str, computed: Any, want: Any) -> None:
    if computed != want:
        raise VectorError(f"{where}: mismatch: {describe_difference(computed, want)}")


def read_identity(f: Fields) -> Identity:
    """An identity object (§13.2): rebuilds it from user_id, dh_secret and
    signing_seed and checks every derived field, and that the bundle decodes."""
    identity = build_identity(f.hex("user_id", 16), f.hex("dh_secret", 32), f.hex("signing_seed", 32))
    f.check("dh_public", identity.dh_public)
    f.check("signing_public", identity.signing_public)
    f.check("bundle", identity.bundle)
    f.check("key_fingerprint", identity.fingerprint)
    f.check("user_id_text", uuid_text(identity.user_id))
    try:
        same(f.path("user_id_text") + " (parsed)", parse_uuid_text(f.text("user_id_text")), identity.user_id)
        decode_bundle(identity.bundle)
    except ProtocolError as err:
        raise VectorError(f"{f.where}: identity rejected: {err.name}: {err}") from None
    return identity


class VectorFile:
    """One vector file: its header fields and its cases, run through the
    checks with counting and error reporting."""

    def __init__(self, path: Path, section: str, verbose: bool = False):
        self.name, self.verbose = path.name, verbose
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise VectorError(f"{self.name}: cannot read: {err}") from None
        top = Fields(raw, self.name)
        top.text("title")
        top.text("format")
        top.check("spec", f"PROTOCOL.md {section}")
        self.positive_cases, self.negative_cases = top.list("positive"), top.list("negative")
        top.done()
        self.seed = sha256(b"kluis/v1 test vectors/" + path.stem.encode()).hex()
        self.n_positive = self.n_negative = 0
        names = [c.get("name") if isinstance(c, dict) else None for c in self.positive_cases + self.negative_cases]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise VectorError(f"{self.name}: duplicate case names {sorted(map(str, duplicates))}")

    def _case(self, raw: Any, index: int, negative: bool) -> Fields:
        case = Fields(raw, f"{self.name}: {'negative' if negative else 'positive'} case {index}")
        name = case.text("name")
        case.where = f"{self.name}: {name}"
        if name.startswith("fail_") != negative:
            raise VectorError(f"{case.where}: a {'negative' if negative else 'positive'} case name "
                              f"must {'' if negative else 'not '}start with fail_")
        return case

    def run_positive(self, check: Callable[[Fields], None]) -> None:
        """Runs `check(case)` on every positive case; the case must not be rejected
        and every one of its fields must have been checked."""
        for index, raw in enumerate(self.positive_cases):
            case = self._case(raw, index, negative=False)
            case.check("seed", bytes.fromhex(self.seed))
            try:
                check(case)
            except ProtocolError as err:
                raise VectorError(f"{case.where}: positive case rejected: {err.name}: {err}") from None
            case.done()
            self.n_positive += 1
            if self.verbose:
                print(f"  {case.where}: ok")

    def run_negative(self, prepare: Callable[[Fields], Callable[[], Any]] | None) -> None:
        """`prepare(case)` reads and checks the inputs and returns the operation
        that must be rejected with the case's expected_error."""
        for index, raw in enumerate(self.negative_cases):
            case = self._case(raw, index, negative=True)
            expected = case.text("expected_error")
            if expected not in ERROR_NAMES:
                raise VectorError(f"{case.where}: unknown expected_error {expected!r}")
            if prepare is None:
                raise VectorError(f"{case.where}: this file has no negative cases in §13.1; "
                                  "don't know how to check it")
            try:
                attempt = prepare(case)
            except ProtocolError as err:
                raise VectorError(f"{case.where}: preparing the inputs failed: {err.name}: {err}") from None
            case.done()
            try:
                attempt()
            except ProtocolError as err:
                if err.name != expected:
                    raise VectorError(f"{case.where}: rejected with {err.name} ({err}), "
                                      f"but the vector expects {expected}") from None
                if self.verbose:
                    print(f"  {case.where}: rejected, {err.name} ({err})")
            else:
                raise VectorError(f"{case.where}: accepted, but must be rejected with {expected}")
            self.n_negative += 1


def dispatch(case: Fields, inputs: Fields, table: list[tuple[str, Callable]]) -> Any:
    """Picks a check by the presence of a distinguishing input field."""
    for key, function in table:
        if inputs.has(key):
            return function(case, inputs)
    raise VectorError(f"{case.where}: don't know how to check a case with inputs {sorted(inputs.data)}")


# ==========================================================================
# One check per file
# ==========================================================================

# ---- key_schedule.json (§4) ----------------------------------------------


def check_key_schedule(vf: VectorFile) -> None:
    seen = set()

    def positive(case: Fields) -> None:
        # The cases of this file are flat: ikm, label, context, info, output.
        label = case.text("label")
        if label not in HKDF_LABELS:
            raise VectorError(f"{case.where}: {label!r} is not an HKDF label of §4.2")
        ikm, context = case.hex("ikm"), case.hex("context")
        same(case.where + ": len(ikm), len(context)", (len(ikm), len(context)), HKDF_LABELS[label])
        case.check("info", derive_info(label, context))
        case.check("output", derive(ikm, label, context))
        seen.add(label)

    vf.run_positive(positive)
    vf.run_negative(None)
    if seen != set(HKDF_LABELS):
        raise VectorError(f"{vf.name}: labels not covered: {sorted(set(HKDF_LABELS) - seen)}")


# ---- identity.json (§5) ----------------------------------------------------


def identity_bundle_case(case: Fields, i: Fields) -> None:
    identity, e = read_identity(i), case.obj("expected")
    e.check("bundle", identity.bundle)
    e.check("body", identity.body)
    e.check("key_fingerprint", identity.fingerprint)


def sealed_identity_case(case: Fields, i: Fields) -> None:
    identity, e = read_identity(i.obj("identity")), case.obj("expected")
    if i.has("export_key"):
        kind, secret = SEAL_PASSWORD, i.hex("export_key", 64)
    else:
        kind, secret = SEAL_RECOVERY, i.hex("recovery_key", 32)
    key, ad, sealed = seal_identity(identity, kind, secret, i.hex("nonce", 24))
    e.check("seal_key", key)
    e.check("aad", ad)
    e.check("sealed_identity", sealed)
    same(case.where + ": length", len(sealed), 123)
    reopened = open_sealed_identity(sealed, kind, secret, identity.user_id)
    same(case.where + ": reopened bundle", reopened.bundle, identity.bundle)


def check_identity(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        dispatch(case, case.obj("inputs"), [("identity", sealed_identity_case),
                                            ("signing_seed", identity_bundle_case)])

    def open_bundle(case: Fields, i: Fields):
        bundle = i.hex("bundle")
        return lambda: decode_bundle(bundle)

    def open_sealed(case: Fields, i: Fields):
        # The caller opens the password seal with an export key, the recovery
        # seal with a recovery key.
        if i.has("export_key"):
            kind, secret = SEAL_PASSWORD, i.hex("export_key", 64)
        else:
            kind, secret = SEAL_RECOVERY, i.hex("recovery_key", 32)
        sealed, user_id = i.hex("sealed_identity"), i.hex("expected_user_id", 16)
        return lambda: open_sealed_identity(sealed, kind, secret, user_id)

    vf.run_positive(positive)
    vf.run_negative(lambda case: dispatch(case, case.obj("inputs"), [("bundle", open_bundle),
                                                                     ("sealed_identity", open_sealed)]))


# ---- recovery_key.json (§6) --------------------------------------------------


def check_recovery_key(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        key = i.hex("key", 32)
        e.check("checksum", recovery_checksum(key))
        e.check("display", recovery_display(key))
        for typed in [e.text("display")] + e.list("also_accepted"):
            if not isinstance(typed, str):
                raise VectorError(f"{e.where}.also_accepted: expected text, got {typed!r}")
            same(f"{case.where}: parse({typed!r})", parse_recovery_key(typed), key)

    def negative(case: Fields):
        typed = case.obj("inputs").text("display")
        return lambda: parse_recovery_key(typed)

    vf.run_positive(positive)
    vf.run_negative(negative)


# ---- relationship_key_wrap.json (§7) -------------------------------------------


def check_hpke_suite(e: Fields) -> None:
    suite = e.obj("hpke_suite")
    suite.check("mode", HPKE_MODE_AUTH)
    suite.check("kem_id", KEMId.DHKEM_X25519_HKDF_SHA256.value)
    suite.check("kdf_id", KDFId.HKDF_SHA256.value)
    suite.check("aead_id", AEADId.CHACHA20_POLY1305.value)
    e.check("aad", b"")


def check_relationship_key_wrap(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        sender, recipient = read_identity(i.obj("sender")), read_identity(i.obj("recipient"))
        relationship_id, epoch, epoch_key = i.hex("relationship_id", 16), i.int("epoch"), i.hex("epoch_key", 32)
        record_hash = i.hex("membership_record_hash", 32)
        info, wrapped = wrap_relationship_key(sender, recipient, relationship_id, epoch, epoch_key,
                                              record_hash, i.hex("ikm_e", 32))
        check_hpke_suite(e)
        e.check("info", info)
        e.check("wrapped", wrapped)
        same(case.where + ": lengths of info, envelope", (len(info), len(wrapped)), (148, 166))
        unwrapped = unwrap_relationship_key(wrapped, recipient, sender.bundle, relationship_id, epoch,
                                            record_hash)
        same(case.where + ": unwrapped epoch key", unwrapped, epoch_key)

    def negative(case: Fields):
        i = case.obj("inputs")
        sender, recipient = read_identity(i.obj("sender")), read_identity(i.obj("recipient"))
        wrapped, relationship_id = i.hex("wrapped"), i.hex("expected_relationship_id", 16)
        epoch, record_hash = i.int("expected_epoch"), i.hex("membership_record_hash", 32)
        return lambda: unwrap_relationship_key(wrapped, recipient, sender.bundle, relationship_id, epoch,
                                               record_hash)

    vf.run_positive(positive)
    vf.run_negative(negative)


# ---- membership.json (§7.6) ----------------------------------------------------

MEMBERSHIP_FIXED = 2 + 16 + 4 + 32 + 16 + 8 + 2
ROLES = {"coach": 1, "client": 2}


@dataclass
class Record:
    encoded: bytes
    relationship_id: bytes
    epoch: int
    previous: bytes
    signer_id: bytes
    created_ms: int
    members: dict[bytes, tuple[int, bytes]]  # user id -> (role, fingerprint)

    @property
    def hash(self) -> bytes:
        return sha256(L_MEMBERSHIP_HASH + b"\x00" + self.encoded)

    def is_coach(self, user: bytes) -> bool:
        return self.members.get(user, (0, b""))[0] == 1


def encode_record_body(relationship_id: bytes, epoch: int, previous: bytes, signer_id: bytes,
                       created_ms: int, members: list[tuple[bytes, int, bytes]]) -> bytes:
    """§7.6.1, members sorted by user id."""
    out = (bytes([VERSION, T_MEMBERSHIP_RECORD]) + relationship_id + be32(epoch) + previous
           + signer_id + be64(created_ms) + struct.pack(">H", len(members)))
    for user, role, fingerprint in sorted(members):
        out += user + bytes([role]) + fingerprint
    return out


def decode_record(data: bytes) -> Record:
    """§7.6.1 decoding: shape, member count, roles, order, a coach."""
    r = Reader(data, T_MEMBERSHIP_RECORD)
    relationship_id, epoch = r.take(16, "relationship_id"), r.be32("epoch")
    previous, signer_id = r.take(32, "previous"), r.take(16, "signer_id")
    created_ms = r.be64("created_ms")
    count = struct.unpack(">H", r.take(2, "member_count"))[0]
    if not 1 <= count <= 64:
        raise LengthOutOfRange(f"member_count {count}")
    members: list[tuple[bytes, int, bytes]] = []
    for _ in range(count):
        user = r.take(16, "user_id")
        role = r.enum({1, 2}, "member role")
        members.append((user, role, r.take(32, "key_fingerprint")))
    r.take(64, "signature")
    r.finish()
    if any(a[0] >= b[0] for a, b in zip(members, members[1:])):
        raise InvalidField("members are not in strictly ascending order of user id")
    if not any(role == 1 for _, role, _ in members):
        raise InvalidField("no coach among the members")
    return Record(data, relationship_id, epoch, previous, signer_id, created_ms,
                  {u: (role, fp) for u, role, fp in members})


def verify_record(record: Record, previous: Record | None, signer_bundle: bytes) -> None:
    """§7.6.2, in the order the section gives."""
    if previous is None:
        if record.epoch != 0:
            raise Membership("EpochNotNext")
        if record.previous != bytes(32):
            raise Membership("PreviousMismatch")
        if not record.is_coach(record.signer_id):
            raise Membership("SignerNotCoach")
        roles = sorted(role for role, _ in record.members.values())
        if roles != [1, 2]:
            raise Membership("Opening")
    else:
        if record.relationship_id != previous.relationship_id:
            raise Membership("WrongRelationship")
        if record.epoch != previous.epoch + 1:
            raise Membership("EpochNotNext")
        if record.previous != previous.hash:
            raise Membership("PreviousMismatch")
        if not previous.is_coach(record.signer_id):
            raise Membership("SignerNotCoach")
    named = record.members.get(record.signer_id) or (previous.members.get(record.signer_id)
                                                      if previous else None)
    signer = decode_bundle(signer_bundle)
    if signer.user_id != record.signer_id or named is None or named[1] != key_fingerprint(signer_bundle):
        raise Membership("SignerKey")
    body, signature = record.encoded[:-64], record.encoded[-64:]
    if not ed25519_verify(signer.signing_public, L_MEMBERSHIP_SIGNATURE + b"\x00" + body, signature):
        raise Membership("Signature")


def check_membership(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        people = i.obj("identities")
        names = ("carla", "jan", "kim", "kim_new", "jan_new")
        ids = {n: read_identity(people.obj(n)) for n in names}
        signers = i.list("signers")
        records, expected = i.list("records"), e.list("records")
        same(case.where + ": one signer per record", len(signers), len(records))
        previous = None
        for index, (raw, want, signer_name) in enumerate(zip(records, expected, signers)):
            rec = Fields(raw, f"{case.where}: record {index}")
            signer = ids[signer_name]
            members = []
            for m in rec.list("members"):
                mf = Fields(m, f"{rec.where}: member")
                members.append((mf.hex("user_id", 16), ROLES[mf.text("role")], mf.hex("key_fingerprint", 32)))
                mf.done()
            body = encode_record_body(rec.hex("relationship_id", 16), rec.int("epoch"),
                                      rec.hex("previous", 32), rec.hex("signer_id", 16),
                                      rec.int("created_ms"), members)
            same(rec.where + ": signer", signer.user_id, rec.hex("signer_id", 16))
            rec.done()
            encoded = body + ed25519_sign(signer.signing_seed, L_MEMBERSHIP_SIGNATURE + b"\x00" + body)
            w = Fields(want, f"{case.where}: expected record {index}")
            w.check("record", encoded)
            record = decode_record(encoded)
            w.check("hash", record.hash)
            w.done()
            verify_record(record, previous, signer.bundle)
            previous = record

    def negative(case: Fields):
        i = case.obj("inputs")
        # `previous` is null for an opening record: the verifier holds no chain yet.
        previous = decode_record(i.hex("previous")) if i.data.get("previous") is not None else None
        i.used.add("previous")
        data, signer_bundle = i.hex("record"), i.hex("signer_bundle")
        return lambda: verify_record(decode_record(data), previous, signer_bundle)

    vf.run_positive(positive)
    vf.run_negative(negative)


# ---- deletion.json (§8.7) ------------------------------------------------------

DELETION_BODY = 2 + 16 + 16 + 16 + 4 + 8


def deletion_body(relationship_id: bytes, item_id: bytes, author_id: bytes, epoch: int,
                  deleted_ms: int) -> bytes:
    return (bytes([VERSION, T_ITEM_DELETION]) + relationship_id + item_id + author_id
            + be32(epoch) + be64(deleted_ms))


def verify_deletion(data: bytes, relationship_id: bytes, item_id: bytes, author_id: bytes,
                    author_bundle: bytes) -> None:
    """§8.7: decoding, then steps 1, 2, 4 and 5 (step 3 is the chain's)."""
    r = Reader(data, T_ITEM_DELETION)
    d_relationship, d_item, d_author = r.take(16, "relationship_id"), r.take(16, "item_id"), r.take(16, "author_id")
    r.be32("epoch")
    r.be64("deleted_ms")
    signature = r.take(64, "signature")
    r.finish()
    if d_relationship != relationship_id or d_item != item_id:
        raise Deletion("WrongItem")
    if d_author != author_id:
        raise Deletion("WrongAuthor")
    author = decode_bundle(author_bundle)
    if author.user_id != d_author:
        raise Deletion("SignerKey")
    if not ed25519_verify(author.signing_public, L_ITEM_DELETION + b"\x00" + data[:DELETION_BODY], signature):
        raise Deletion("Signature")


def check_deletion(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        author = read_identity(i.obj("author"))
        relationship_id, item_id = i.hex("relationship_id", 16), i.hex("item_id", 16)
        body = deletion_body(relationship_id, item_id, author.user_id, i.int("epoch"), i.int("deleted_ms"))
        message = L_ITEM_DELETION + b"\x00" + body
        e.check("signature_message", message)
        encoded = body + ed25519_sign(author.signing_seed, message)
        e.check("deletion", encoded)
        verify_deletion(encoded, relationship_id, item_id, author.user_id, author.bundle)

    def negative(case: Fields):
        i = case.obj("inputs")
        x = i.obj("expected")
        data, bundle = i.hex("deletion"), i.hex("author_bundle")
        relationship_id, item_id, author_id = x.hex("relationship_id", 16), x.hex("item_id", 16), x.hex("author_id", 16)
        x.done()
        return lambda: verify_deletion(data, relationship_id, item_id, author_id, bundle)

    vf.run_positive(positive)
    vf.run_negative(negative)


# ---- item.json (§8) -----------------------------------------------------------


def check_item(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        author = read_identity(i.obj("author"))
        relationship_id, epoch, item_id = i.hex("relationship_id", 16), i.int("epoch"), i.hex("item_id", 16)
        kind, content, epoch_key = i.int("kind"), i.hex("content"), i.hex("epoch_key", 32)
        if kind not in (KIND_MESSAGE, KIND_DOCUMENT):
            raise VectorError(f"{case.where}: kind {kind} is not a relationship item kind")
        key = item_key(epoch_key, relationship_id, epoch)
        header = item_header(relationship_id, epoch, item_id, kind, author.user_id)
        message, sealed = seal_item(key, header, author, content, i.hex("nonce", 24))
        e.check("item_key", key)
        e.check("aad", header)
        e.check("signature_message", message)
        e.check("sealed_item", sealed)
        same(case.where + ": length", len(sealed), 163 + len(content))
        opened = open_relationship_item(sealed, epoch_key, relationship_id, epoch, item_id, author.bundle)
        same(case.where + ": opened content", opened.sealed, content)
        if kind == KIND_DOCUMENT:  # the content is a document description (§9.4)
            d = decode_document_description(content)
            reencoded = encode_document_description(d["attachment_id"], d["file_key"], d["size"],
                                                    d["ciphertext_sha256"], d["name"], d["media_type"])
            same(case.where + ": document description re-encoded", reencoded, content)

    def negative(case: Fields):
        i = case.obj("inputs")
        author = read_identity(i.obj("author"))
        sealed, epoch_key = i.hex("sealed_item"), i.hex("epoch_key", 32)
        relationship_id, epoch, item_id = i.hex("relationship_id", 16), i.int("epoch"), i.hex("expected_item_id", 16)
        return lambda: open_relationship_item(sealed, epoch_key, relationship_id, epoch, item_id, author.bundle)

    vf.run_positive(positive)
    vf.run_negative(negative)


# ---- attachment_stream.json (§9) -----------------------------------------------


@dataclass
class BaseStream:
    file_key: bytes
    attachment_id: bytes
    nonce_prefix: bytes
    plaintext: bytes
    stream: bytes
    stream_sha256: bytes


REPLACE_NOTE = re.compile(r"'(?P<content>[^']*)' encrypted under the base's file key and attachment id "
                          r"with the nonce prefix of (?P<prefix_of>\w+)")


def edit_stream(case: Fields, edit: Fields, base: BaseStream, streams: dict[str, BaseStream]):
    """Applies an attachment edit (§13.2). Returns (stream, attachment id the
    reader expects, the reason the rejection must have or None)."""
    stream, attachment_id, reason = base.stream, base.attachment_id, None
    header, blocks = split_stream(stream)
    op = edit.text("op")

    def chunk_index(key: str, chunks: list[bytes]) -> int:
        n = edit.int(key)
        if not 0 <= n < len(chunks):
            raise VectorError(f"{edit.path(key)}: no chunk {n} (the stream has {len(chunks)})")
        return n

    if op == "truncate":
        length = edit.int("len")
        if not 0 <= length < len(stream):
            raise VectorError(f"{edit.path('len')}: {length} does not truncate a {len(stream)}-byte stream")
        stream = stream[:length]
        if length <= ATTACHMENT_HEADER_LEN:
            reason = "short"
    elif op == "swap_chunks":
        a, b = chunk_index("a", blocks), chunk_index("b", blocks)
        blocks[a], blocks[b] = blocks[b], blocks[a]
        stream = header + b"".join(blocks)
    elif op == "append_chunk_copy":
        stream += blocks[chunk_index("chunk", blocks)]
    elif op == "append":
        stream += edit.hex("bytes")
    elif op == "replace_chunk":
        other_name = edit.text("from")
        if other_name not in streams:
            raise VectorError(f"{edit.path('from')}: no positive case {other_name!r}")
        other_blocks = split_stream(streams[other_name].stream)[1]
        blocks[chunk_index("chunk", blocks)] = other_blocks[chunk_index("from_chunk", other_blocks)]
        stream = header + b"".join(blocks)
    elif op == "flip_bit":
        offset, mask = edit.int("offset"), edit.int("mask")
        if not (0 <= offset < len(stream) and 0 < mask < 256):
            raise VectorError(f"{edit.where}: offset {offset} or mask {mask} out of range")
        edited = bytearray(stream)
        edited[offset] ^= mask
        stream = bytes(edited)
    elif op == "expect_attachment_id":
        attachment_id = edit.hex("attachment_id", 16)
        reason = "attachment id"
    elif op == "reseal_as_nonfinal_then_empty_final":
        # The final chunk is sealed again as non-final, and an empty final
        # chunk follows it: only the canonical rule can reject this.
        key, last = stream_key(base.file_key, base.attachment_id), len(blocks) - 1
        final_plain = base.plaintext[last * CHUNK:]
        if len(final_plain) != CHUNK:
            raise VectorError(f"{case.where}: the base's final chunk is not full")
        blocks[last] = xchacha_seal(key, chunk_nonce(base.nonce_prefix, last, False), header, final_plain)
        empty_final = xchacha_seal(key, chunk_nonce(base.nonce_prefix, last + 1, True), header, b"")
        edit.check("empty_final_chunk", empty_final)
        stream = header + b"".join(blocks) + empty_final
        reason = "canonical"
    elif op == "replace_stream":
        # Other content sealed under the base's file key and id: every chunk
        # opens, only the digest check can reject it.
        note = edit.text("note")
        match = REPLACE_NOTE.fullmatch(note)
        if not match or match["prefix_of"] not in streams:
            raise VectorError(f"{edit.path('note')}: cannot interpret {note!r}")
        content = match["content"].encode("utf-8")
        new_header, chunks = seal_stream(base.file_key, base.attachment_id,
                                         streams[match["prefix_of"]].nonce_prefix, content)
        stream = new_header + b"".join(chunks)
        edit.check("stream", stream)
        reason = "digest"
    else:
        raise VectorError(f"{edit.path('op')}: unknown edit {op!r}")
    return stream, attachment_id, reason


def check_attachment_stream(vf: VectorFile) -> None:
    streams: dict[str, BaseStream] = {}

    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        file_key, attachment_id = i.hex("file_key", 32), i.hex("attachment_id", 16)
        nonce_prefix, length = i.hex("nonce_prefix", 19), i.int("plaintext_len")
        if i.text("plaintext") != "byte i is i mod 251":
            raise VectorError(f"{i.path('plaintext')}: unknown plaintext rule")
        plaintext = plaintext_rule(length)
        header, chunks = seal_stream(file_key, attachment_id, nonce_prefix, plaintext)
        stream = header + b"".join(chunks)
        e.check("stream_key", stream_key(file_key, attachment_id))
        e.check("header", header)
        e.check("chunk_count", len(chunks))
        e.check("last_chunk_tag", chunks[-1][-16:])
        e.check("stream_len", len(stream))
        e.check("stream_sha256", sha256(stream))
        same(case.where + ": stream length formula", len(stream), 37 + length + 16 * len(chunks))
        if length < CHUNK or e.has("stream"):  # §13.1: the whole stream for the short cases
            e.check("stream", stream)
        same(case.where + ": decrypted", open_stream(stream, file_key, attachment_id, sha256(stream)), plaintext)
        streams[case.text("name")] = BaseStream(file_key, attachment_id, nonce_prefix, plaintext,
                                                stream, sha256(stream))

    def negative(case: Fields):
        i = case.obj("inputs")
        base_name = i.text("base")
        if base_name not in streams:
            raise VectorError(f"{i.path('base')}: no positive case {base_name!r}")
        base = streams[base_name]
        stream, attachment_id, reason = edit_stream(case, i.obj("edit"), base, streams)
        digest_note = i.text("expected_stream_sha256")
        if digest_note == "stream_sha256 of the base":
            digest = base.stream_sha256
        elif digest_note == "sha256 of the edited stream":
            digest = sha256(stream)
        else:
            raise VectorError(f"{i.path('expected_stream_sha256')}: unknown note {digest_note!r}")

        def attempt() -> None:
            try:
                open_stream(stream, base.file_key, attachment_id, digest)
            except Decryption as err:
                if reason and not err.reason.startswith(reason):
                    raise VectorError(f"{case.where}: rejected by '{err.reason}', but the edit is "
                                      f"meant to be caught by the {reason} check") from None
                raise

        return attempt

    vf.run_positive(positive)
    vf.run_negative(negative)


# ---- notes.json (§10) ------------------------------------------------------------


def sealed_notes_key_case(case: Fields, i: Fields) -> None:
    e = case.obj("expected")
    coach, generation, notes_key = read_identity(i.obj("coach")), i.int("generation"), i.hex("notes_key", 32)
    info, sealed = seal_notes_key(coach, generation, notes_key, i.hex("ikm_e", 32))
    check_hpke_suite(e)
    e.check("info", info)
    e.check("sealed_notes_key", sealed)
    same(case.where + ": lengths of info, envelope", (len(info), len(sealed)), (77, 134))
    same(case.where + ": opened", open_notes_key(sealed, coach), (generation, notes_key))


def note_item_case(case: Fields, i: Fields) -> None:
    e = case.obj("expected")
    coach, generation, notes_key = read_identity(i.obj("coach")), i.int("generation"), i.hex("notes_key", 32)
    relationship_id, item_id, content = i.hex("relationship_id", 16), i.hex("item_id", 16), i.hex("content")
    key = note_item_key(notes_key, relationship_id, generation)
    header = item_header(relationship_id, generation, item_id, KIND_NOTE, coach.user_id)
    _, sealed = seal_item(key, header, coach, content, i.hex("nonce", 24))
    e.check("note_item_key", key)
    e.check("aad", header)
    e.check("sealed_item", sealed)
    opened = open_note(sealed, notes_key, coach.user_id, generation, relationship_id, item_id, coach.bundle)
    same(case.where + ": opened content", opened, content)


def check_notes(vf: VectorFile) -> None:
    def open_sealed_key(case: Fields, i: Fields):
        coach, sealed = read_identity(i.obj("coach")), i.hex("sealed_notes_key")
        if i.has("sealer"):
            # §13.2: HPKE Auth from `sealer` to `sealed_to`, with the info of
            # `sealed_to`; rebuilt here, so the case is what it claims to be.
            sealer, sealed_to = read_identity(i.obj("sealer")), read_identity(i.obj("sealed_to"))
            generation, notes_key = i.int("generation"), i.hex("notes_key", 32)
            info = notes_info(sealed_to.user_id, generation, sealed_to.fingerprint)
            enc, ct = hpke_auth_seal(sealer.dh_secret, sealed_to.dh_public, info, notes_key, i.hex("ikm_e", 32))
            same(case.where + ": rebuilt envelope", bytes([VERSION, T_SEALED_NOTES_KEY]) + info[25:] + enc + ct,
                 sealed)
        return lambda: open_notes_key(sealed, coach)

    def open_note_item(case: Fields, i: Fields):
        # The notes key is the coach's own, of the given generation; the
        # opener verifies the note with `author` if given, else the coach.
        coach, sealed = read_identity(i.obj("coach")), i.hex("sealed_item")
        author = read_identity(i.obj("author")) if i.has("author") else coach
        notes_key, generation = i.hex("notes_key", 32), i.int("generation")
        relationship_id, item_id = i.hex("expected_relationship_id", 16), i.hex("expected_item_id", 16)
        return lambda: open_note(sealed, notes_key, coach.user_id, generation, relationship_id, item_id,
                                 author.bundle)

    vf.run_positive(lambda case: dispatch(case, case.obj("inputs"), [("ikm_e", sealed_notes_key_case),
                                                                     ("content", note_item_case)]))
    vf.run_negative(lambda case: dispatch(case, case.obj("inputs"), [("sealed_notes_key", open_sealed_key),
                                                                     ("sealed_item", open_note_item)]))


# ---- safety_number.json (§11) ------------------------------------------------------


def check_safety_number(vf: VectorFile) -> None:
    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        a, b = read_identity(i.obj("a")), read_identity(i.obj("b"))
        e.check("digest_a", safety_digest(a.bundle))
        e.check("digest_b", safety_digest(b.bundle))
        digits, display, payload = safety_number(a.bundle, b.bundle)
        e.check("digits", digits)
        e.check("display", display)
        e.check("qr_payload", payload)
        same(case.where + ": computed in the other order", safety_number(b.bundle, a.bundle),
             (digits, display, payload))

    vf.run_positive(positive)
    vf.run_negative(None)


# ---- envelopes.json (§2) -------------------------------------------------------------


def document_description_case(case: Fields, i: Fields) -> None:
    fields = {
        "attachment_id": i.hex("attachment_id", 16), "file_key": i.hex("file_key", 32),
        "size": i.int("size"), "ciphertext_sha256": i.hex("ciphertext_sha256", 32),
        "name": i.text("name"), "media_type": i.text("media_type"),
    }
    encoded = encode_document_description(**fields)
    case.obj("expected").check("encoded", encoded)
    same(case.where + ": decoded", decode_document_description(encoded), fields)


def bundle_envelope_case(case: Fields, i: Fields) -> None:
    identity = read_identity(i)
    case.obj("expected").check("encoded", identity.bundle)


def attachment_header_case(case: Fields, i: Fields) -> None:
    attachment_id, nonce_prefix = i.hex("attachment_id", 16), i.hex("nonce_prefix", 19)
    encoded = attachment_header(attachment_id, nonce_prefix)
    case.obj("expected").check("encoded", encoded)
    same(case.where + ": decoded", decode_attachment_header(encoded),
         {"attachment_id": attachment_id, "nonce_prefix": nonce_prefix})


def uuid_text_case(case: Fields, i: Fields) -> None:
    e, parsed = case.obj("expected"), parse_uuid_text(i.text("uuid_text"))
    e.check("bytes", parsed)
    e.check("canonical_text", uuid_text(parsed))


def check_envelopes(vf: VectorFile) -> None:
    def negative(case: Fields):
        i = case.obj("inputs")
        if i.has("uuid_text"):  # §2.3
            text = i.text("uuid_text")
            return lambda: parse_uuid_text(text)
        envelope, data = i.text("envelope"), i.hex("bytes")
        if envelope not in DECODERS:
            raise VectorError(f"{i.path('envelope')}: don't know how to decode {envelope!r}")
        return lambda: DECODERS[envelope](data)

    vf.run_positive(lambda case: dispatch(case, case.obj("inputs"), [
        ("media_type", document_description_case),
        ("signing_seed", bundle_envelope_case),
        ("nonce_prefix", attachment_header_case),
        ("uuid_text", uuid_text_case),
    ]))
    vf.run_negative(negative)


# ---- opaque.json (§3) ----------------------------------------------------------------


@dataclass
class OpaqueCase:
    password: bytes
    credential_identifier: bytes
    oprf_seed: bytes
    server_private_key: bytes
    blind_login: bytes
    client_keyshare_seed: bytes
    client_nonce: bytes
    masking_nonce: bytes
    server_keyshare_seed: bytes
    server_nonce: bytes
    record: bytes
    ke1: bytes
    ke2: bytes
    ke3: bytes


def check_opaque(vf: VectorFile) -> None:
    cases: dict[str, OpaqueCase] = {}

    def positive(case: Fields) -> None:
        i, e = case.obj("inputs"), case.obj("expected")
        typed, text, password = i.text("password_typed"), i.text("password"), i.hex("password_bytes")
        # §3: the bytes are UTF-8 of the NFC form of what was typed.
        same(case.where + ": NFC of password_typed", unicodedata.normalize("NFC", typed), text)
        same(case.where + ": password_bytes", text.encode("utf-8"), password)
        credential_identifier = i.hex("credential_identifier", 16)
        same(case.where + ": credential_identifier is the user id's 16 bytes",
             parse_uuid_text(i.text("user_id_text")), credential_identifier)
        same(case.where + ": context", i.text("context").encode(), OPAQUE_CONTEXT)
        argon2 = i.obj("argon2id")
        for key, value in ARGON2.items():
            argon2.check(key, value)
        oprf_seed, server_sk = i.hex("oprf_seed", 64), i.hex("server_private_key", 32)
        server_pk = rbcl.crypto_scalarmult_ristretto255_base(server_sk)
        e.check("server_public_key", server_pk)
        request, response, record, export_key = opaque_registration(
            password, credential_identifier, oprf_seed, server_pk,
            i.hex("blind_registration", 32), i.hex("envelope_nonce", 32))
        e.check("registration_request", request)
        e.check("registration_response", response)
        e.check("registration_record", record)
        e.check("export_key", export_key)
        blind, share_seed = i.hex("blind_login", 32), i.hex("client_keyshare_seed", 32)
        ke1 = opaque_ke1(password, blind, share_seed, i.hex("client_nonce", 32))
        e.check("ke1", ke1)
        # Drawn by the reference server for the fake record of an unknown
        # account, before masking_nonce; nothing here depends on it (§13.2).
        i.hex("dummy_masking_key", 64)
        c = OpaqueCase(password, credential_identifier, oprf_seed, server_sk, blind, share_seed,
                       i.hex("client_nonce", 32), i.hex("masking_nonce", 32), i.hex("server_keyshare_seed", 32),
                       i.hex("server_nonce", 32), record, ke1, b"", b"")
        ke2, expected_ke3, server_session = opaque_ke2(ke1, record, credential_identifier, oprf_seed, server_sk,
                                                       c.masking_nonce, c.server_keyshare_seed, c.server_nonce)
        e.check("ke2", ke2)
        ke3, login_export, client_session = opaque_ke3(password, blind, share_seed, ke1, ke2)
        e.check("ke3", ke3)
        same(case.where + ": KE3 the server expects", expected_ke3, ke3)
        same(case.where + ": export key at login", login_export, export_key)
        same(case.where + ": session keys", client_session, server_session)
        e.check("session_key", client_session)
        same(case.where + ": message sizes", [len(x) for x in (request, response, record, ke1, ke2, ke3)],
             [32, 64, 192, 96, 320, 64])
        c.ke2, c.ke3 = ke2, ke3
        cases[case.text("name")] = c

    def negative(case: Fields):
        i = case.obj("inputs")
        name = i.text("base")
        if name not in cases:
            raise VectorError(f"{i.path('base')}: no positive case {name!r}")
        c, edit = cases[name], i.obj("edit")
        op = edit.text("op")

        def flipped(data: bytes) -> bytes:
            offset, mask = edit.int("offset"), edit.int("mask")
            if not (0 <= offset < len(data) and 0 < mask < 256):
                raise VectorError(f"{edit.where}: offset {offset} or mask {mask} out of range")
            out = bytearray(data)
            out[offset] ^= mask
            return bytes(out)

        def server_ke2(ke1: bytes, credential_identifier: bytes) -> bytes:
            return opaque_ke2(ke1, c.record, credential_identifier, c.oprf_seed, c.server_private_key,
                              c.masking_nonce, c.server_keyshare_seed, c.server_nonce)[0]

        if op == "login_password_bytes":
            # The client logs in with these bytes; the record is the base's.
            password = edit.hex("password_bytes")
            ke1 = opaque_ke1(password, c.blind_login, c.client_keyshare_seed, c.client_nonce)
            ke2 = server_ke2(ke1, c.credential_identifier)
            return lambda: opaque_ke3(password, c.blind_login, c.client_keyshare_seed, ke1, ke2)
        if op == "flip_ke2_bit":
            ke2 = flipped(c.ke2)
            return lambda: opaque_ke3(c.password, c.blind_login, c.client_keyshare_seed, c.ke1, ke2)
        if op == "flip_ke3_bit":
            ke3 = flipped(c.ke3)
            expected = opaque_ke2(c.ke1, c.record, c.credential_identifier, c.oprf_seed, c.server_private_key,
                                  c.masking_nonce, c.server_keyshare_seed, c.server_nonce)[1]

            def server_finish() -> None:
                if not hmac.compare_digest(ke3, expected):
                    raise LoginFailed("client MAC")

            return server_finish
        if op == "server_credential_identifier":
            ke2 = server_ke2(c.ke1, edit.hex("credential_identifier"))
            return lambda: opaque_ke3(c.password, c.blind_login, c.client_keyshare_seed, c.ke1, ke2)
        raise VectorError(f"{edit.path('op')}: unknown edit {op!r}")

    vf.run_positive(positive)
    vf.run_negative(negative)


# ==========================================================================
# Main
# ==========================================================================

# File -> (section of PROTOCOL.md, check), in the order of §13.1.
FILES: dict[str, tuple[str, Callable[[VectorFile], None]]] = {
    "key_schedule.json": ("§4", check_key_schedule),
    "identity.json": ("§5", check_identity),
    "recovery_key.json": ("§6", check_recovery_key),
    "relationship_key_wrap.json": ("§7", check_relationship_key_wrap),
    "membership.json": ("§7.6", check_membership),
    "item.json": ("§8", check_item),
    "deletion.json": ("§8.7", check_deletion),
    "attachment_stream.json": ("§9", check_attachment_stream),
    "notes.json": ("§10", check_notes),
    "safety_number.json": ("§11", check_safety_number),
    "envelopes.json": ("§2", check_envelopes),
    "opaque.json": ("§3", check_opaque),
}


def main(argv: list[str]) -> int:
    args = argv[1:]
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    if len(args) != 1:
        print(f"usage: {argv[0]} [-v] <vector directory>", file=sys.stderr)
        return 2
    directory = Path(args[0])
    present = {p.name for p in directory.glob("*.json")}
    total_positive = total_negative = 0
    try:
        if not directory.is_dir():
            raise VectorError(f"{directory}: not a directory")
        if present - set(FILES):
            raise VectorError(f"{directory}: don't know how to check {sorted(present - set(FILES))}")
        if set(FILES) - present:
            raise VectorError(f"{directory}: missing {sorted(set(FILES) - present)}")
        for name, (section, check) in FILES.items():
            vf = VectorFile(directory / name, section, verbose)
            try:
                check(vf)
            except (VectorError, ProtocolError):
                raise
            except Exception as err:  # a bug here, or input this script cannot handle
                traceback.print_exc()
                raise VectorError(f"{name}: unexpected error: {err!r}") from None
            print(f"{name}: {vf.n_positive} positive ok, {vf.n_negative} negative rejected")
            total_positive += vf.n_positive
            total_negative += vf.n_negative
    except (VectorError, ProtocolError) as err:
        print(f"FAIL: {err}", file=sys.stderr)
        return 1
    print(f"total: {len(FILES)} files, {total_positive} positive ok, {total_negative} negative rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
