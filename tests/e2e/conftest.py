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


@pytest.fixture(scope="module")
def e2e_settings(tmp_path_factory, db_kind):
    """One system per test module and database kind: starting six processes per test would cost
    more than the tests. Tests in a module must not depend on each other's data."""
    import contextlib
    import shutil

    from tests import support

    tmp = tmp_path_factory.mktemp(f"e2e-{db_kind}")
    with contextlib.ExitStack() as stack:
        vhost = stack.enter_context(support.rabbit_vhost())
        template = (f"sqlite:///{tmp}/{{service}}.db" if db_kind == "sqlite"
                    else stack.enter_context(support.postgres_databases()))
        bpmn = tmp / "bpmn"
        # The repository's calendar as deployed: 2027 has no official schedule yet, so deadlines
        # the tests skip into 2027 are counted on the provisional rule (bpmn/calendar/README.md).
        shutil.copytree(ROOT / "bpmn", bpmn)
        settings = make_settings(tmp, vhost, template, ZTC_GATEWAY_PORT=str(free_port()),
                                 ZTC_CLOCK_OFFSET_FILE=str(tmp / "clock-offset"), ZTC_BPMN_DIR=str(bpmn))
        # The launcher gives each service its own broker user, named with this run's prefix.
        stack.callback(support.delete_users_with_prefix, settings.bus_user_prefix)
        yield settings


# Tests make their own tokens (no demo tokens are issued without --demo): one per role of the
# launcher's demo users, living long enough for tests that move the services' clock by months.
TEST_TOKEN_HOURS = 10 * 365 * 24
# Besides the demo users: a resident (the public role), a designer, and a token of every role alone
# (``role:<role>``) for the permission matrix.
ONE_ROLE_USERS = {
    "public": {"user": "resident.gao", "roles": ["public"], "unit": None},
    "designer": {"user": "designer.lin", "roles": ["designer"], "unit": None},
    **{f"role:{role}": {"user": user, "roles": [role], "unit": "transport" if role == "unit" else None}
       for role, user in (("member", "member.qian"), ("informant", "matrix.informant"), ("staff", "matrix.staff"),
                          ("committee", "matrix.committee"), ("leader", "matrix.leader"), ("unit", "matrix.unit"),
                          ("public", "matrix.public"), ("operator", "matrix.operator"),
                          ("designer", "matrix.designer"))},
}


def make_test_tokens(settings) -> dict:
    from services.launcher import DEMO_USERS, issue_tokens
    from shared.db import migrate

    migrate("gateway", settings.database_url("gateway"))
    users = {**DEMO_USERS, **ONE_ROLE_USERS}
    return issue_tokens(settings, users, "e2e", hours=TEST_TOKEN_HOURS)


@pytest.fixture(scope="module")
def running(e2e_settings, request):
    """Every service started by the launcher; yields (gateway URL, tokens by role).

    The services log to the launcher's output, which is read for the whole module: a pipe nobody
    reads fills up and stops the services mid-test. The last lines are shown if a test failed."""
    import collections
    import threading

    settings = e2e_settings
    tokens = make_test_tokens(settings)
    env = dict(os.environ, **settings_env(settings))
    launcher = subprocess.Popen([sys.executable, "-m", "services.launcher"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{settings.gateway_port}"
    lines = collections.deque(maxlen=400)
    started = threading.Event()
    failed_before = request.session.testsfailed

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
        yield base, tokens
    finally:
        launcher.send_signal(2)  # Ctrl-C
        launcher.wait(timeout=60)
        reader.join(timeout=10)
        output = "".join(lines)
        if request.session.testsfailed > failed_before:
            print("---- the services' last output ----\n" + "".join(list(lines)[-150:]))
        assert launcher.returncode == 0, output[-3000:]
        assert "stopped" in output


def call(base, token, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, base + path, json=body, headers=headers, timeout=30)




@pytest.fixture(scope="module")
def service_clock(e2e_settings):
    """The clock every service of ``running`` reads: advance it to skip days in all of them
    (and in every later test of the module: keep such tests in a module of their own)."""
    from shared.clock import OffsetClock

    return OffsetClock(e2e_settings.clock_offset_file)
