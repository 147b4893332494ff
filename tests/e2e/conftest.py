"""E2E fixtures: every service as its own process, started by the launcher as ``make run`` does."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import requests

from shared.config import ROOT
from tests.support import make_settings, settings_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The State Council has not published 2027's holidays as these tests are written, and the real
# calendar refuses 2027 working days until it has them (bpmn/calendar/2027.yaml). Deadlines these
# tests skip into 2027 use this stand-in, which knows only the fixed-date holidays.
TEST_CALENDAR_2027 = """year: 2027
source: test stand-in for the State Council's 2027 notice (fixed-date holidays only)
complete: true
holidays: [2027-01-01, 2027-05-01, 2027-10-01, 2027-10-02, 2027-10-03]
workdays: []
"""


@pytest.fixture
def e2e_settings(tmp_path, vhost, database_url_template):
    import shutil

    bpmn = tmp_path / "bpmn"
    shutil.copytree(ROOT / "bpmn", bpmn)
    (bpmn / "calendar" / "2027.yaml").write_text(TEST_CALENDAR_2027)
    return make_settings(tmp_path, vhost, database_url_template, ZTC_GATEWAY_PORT=str(free_port()),
                         ZTC_CLOCK_OFFSET_FILE=str(tmp_path / "clock-offset"), ZTC_BPMN_DIR=str(bpmn))


@pytest.fixture
def running(e2e_settings, request):
    """Every service started by the launcher; yields (gateway URL, demo tokens by role).

    The services log to the launcher's output, which is read for the whole test: a pipe nobody
    reads fills up and stops the services mid-test. The last lines are shown if the test fails."""
    import collections
    import threading

    settings = e2e_settings
    env = dict(os.environ, **settings_env(settings))
    launcher = subprocess.Popen([sys.executable, "-m", "services.launcher"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{settings.gateway_port}"
    lines = collections.deque(maxlen=400)
    started = threading.Event()

    def drain():
        for line in launcher.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                started.set()
        started.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        started.wait(timeout=120)
        assert any("running:" in line for line in lines), "".join(list(lines)[-30:])
        tokens = json.loads((settings.var_dir / "demo-tokens.json").read_text())
        yield base, tokens
    finally:
        launcher.send_signal(2)  # Ctrl-C
        launcher.wait(timeout=60)
        reader.join(timeout=10)
        output = "".join(lines)
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print("---- the services' last output ----\n" + "".join(list(lines)[-150:]))
        assert launcher.returncode == 0, output[-3000:]
        assert "stopped" in output


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def call(base, token, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, base + path, json=body, headers=headers, timeout=30)




@pytest.fixture
def service_clock(tmp_path):
    """The clock every service of ``running`` reads: advance it to skip days in all of them."""
    from shared.clock import OffsetClock

    return OffsetClock(tmp_path / "clock-offset")
