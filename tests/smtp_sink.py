"""A real SMTP server for the end-to-end tests, built on aiosmtpd.

Every message it accepts is written to --dir twice, atomically: the raw
bytes as <id>.eml and, decoded with Python's e-mail package (an independent
MIME parser), as <id>.json with the envelope, the headers, the content type
and the plain-text and HTML parts.

    python smtp_sink.py --port 2525 --dir /tmp/mail [--refuse 2]

--refuse N answers the first N DATA commands with 451 (try again later), as
a relay under load does. --tls-dir DIR makes a test CA and a certificate for
localhost (written to DIR/ca.pem for the server to trust) and requires
STARTTLS before any mail. It prints "ready" once it listens.
"""

import argparse
import datetime
import email
import email.policy
import json
import os
import ssl
import threading
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, refuse):
        self.directory = directory
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 Temporary failure, try again later"
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "content_type": message.get_content_type(),
            "text": plain.get_content() if plain is not None else None,
            "html": html.get_content() if html is not None else None,
            "tls": session.ssl is not None,
        }
        name = uuid.uuid4().hex
        for suffix, data in ((".eml", raw), (".json", json.dumps(record).encode())):
            tmp = os.path.join(self.directory, "." + name + suffix)
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(self.directory, name + suffix))
        return "250 2.0.0 Message accepted"


def test_certificates(directory):
    """A CA (ca.pem) and a leaf for localhost signed by it; returns an
    SSLContext serving the leaf."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Kluis test SMTP CA"))
        .issuer_name(name("Kluis test SMTP CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(directory, "leaf.pem"), "wb") as f:
        f.write(leaf.public_bytes(pem))
    with open(os.path.join(directory, "leaf.key"), "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(
        os.path.join(directory, "leaf.pem"), os.path.join(directory, "leaf.key")
    )
    return context


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--tls-dir")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    tls = {}
    if args.tls_dir:
        tls = {
            "tls_context": test_certificates(args.tls_dir),
            "require_starttls": True,
        }
    controller = Controller(
        Sink(args.dir, args.refuse), hostname="127.0.0.1", port=args.port, **tls
    )
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
