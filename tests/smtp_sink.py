"""A real SMTP server for the tests (aiosmtpd), in a process of its own so a test can stop it and
start it again: ``python -m tests.smtp_sink PORT FILE`` appends each message it accepts to FILE
as one JSON line ``{"mail_from", "rcpt_tos", "data"}`` (``data`` base64: the message as sent).

It runs outside the test process because that process is monkey-patched by eventlet, which does
not mix with asyncio's event loop."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    def __init__(self, path: str):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        line = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": base64.b64encode(envelope.original_content or envelope.content).decode(),
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        return "250 Message accepted for delivery"


def main(port: int, path: str) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Recorder(path), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):  # a timed wait lets the signal handler run
        pass
    controller.stop()


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            return conn.recv(3) == b"220"
    except OSError:
        return False


@contextmanager
def running(port: int, path):
    """The server on ``port`` while the block runs, recording into ``path``."""
    process = subprocess.Popen([sys.executable, "-m", "tests.smtp_sink", str(port), str(path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while not _accepting(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SMTP server on port {port} did not start")
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(10)


def received(path) -> list[dict]:
    """What the server accepted: ``{"mail_from", "rcpt_tos", "message"}`` (an ``EmailMessage``)."""
    path = Path(path)
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        found.append(
            {
                "mail_from": item["mail_from"],
                "rcpt_tos": item["rcpt_tos"],
                "message": message_from_bytes(base64.b64decode(item["data"]), policy=policy.default),
            }
        )
    return found


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
