"""A service process stops promptly and cleanly however it is asked to: Ctrl-C in the launcher's
terminal reaches every service twice (SIGINT from the terminal to the whole process group, then
the launcher's SIGTERM), and a second stop of the same runner used to hang until the launcher
killed it 15 s later."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from shared import db
from shared.config import ROOT
from tests.support import settings_env

STOPPED_WITHIN = 12  # seconds: one stop takes about 3 here; the launcher kills at 15


def start(settings, service: str) -> tuple[subprocess.Popen, str]:
    """The service's process, once it says it started, and what it said until then."""
    db.migrate(service, settings.database_url(service))
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.runner", service],
        env=dict(os.environ, **settings_env(settings)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    said = []
    for line in proc.stderr:
        said.append(line)
        if f"{service} started" in line:
            return proc, "".join(said)
    proc.kill()
    raise AssertionError(f"{service} exited before it started (code {proc.wait()})")


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGINT, signal.SIGTERM), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT, signal.SIGTERM)],
    ids=["ctrl-c-then-the-launcher", "sigterm", "ctrl-c-twice-then-the-launcher"],
)
def test_a_service_stops_cleanly_on_one_signal_or_several(settings, signals):
    proc, said_first = start(settings, "intake")
    try:
        for signum in signals:
            proc.send_signal(signum)
            time.sleep(0.05)
        try:
            code = proc.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"intake did not stop within {STOPPED_WITHIN} s of {[s.name for s in signals]}")
        said = said_first + proc.stderr.read()
        assert code == 0, said[-2000:]
        assert "Traceback" not in said, said[-2000:]
        assert "Eventlet is deprecated" not in said  # a framework's status, not the service's news
        if len(signals) > 1:
            assert "already stopping intake" in said
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
