"""A real SMTP server for the end-to-end tests, built on aiosmtpd.

Every message it accepts is written to --dir twice, atomically: the raw
bytes as <id>.eml and, decoded with Python's e-mail package (an independent
MIME parser), as <id>.json with the envelope, the headers, the content type
and the plain-text and HTML parts.

    python smtp_sink.py --port 2525 --dir /tmp/mail [--refuse 2]

--refuse N answers the first N DATA commands with 451 (try again later), as
a relay under load does. It prints "ready" once it listens.
"""

import argparse
import email
import email.policy
import json
import os
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
        }
        name = uuid.uuid4().hex
        for suffix, data in ((".eml", raw), (".json", json.dumps(record).encode())):
            tmp = os.path.join(self.directory, "." + name + suffix)
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(self.directory, name + suffix))
        return "250 2.0.0 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--refuse", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        Sink(args.dir, args.refuse), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
