"""E2E fixtures: every service as its own process, started by the launcher as ``make run`` does."""
from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
import requests

from shared.config import ROOT
from tests.support import make_settings, settings_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningSystem:
    """Every service started by the launcher, as ``make run`` starts them, on a throwaway vhost,
    databases and copy of ``bpmn/``.

    The services log to the launcher's output, which is read for the system's whole life: a pipe
    nobody reads fills up and stops the services mid-test. The last lines are shown if a test
    failed while it ran."""

    def __init__(self, tmp, db_kind, session):
        self.tmp, self.db_kind, self.session = tmp, db_kind, session
        self.stack = contextlib.ExitStack()
        self.lines = collections.deque(maxlen=400)
        self.launcher = self.reader = None

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        from tests import support

        tmp, stack = self.tmp, self.stack
        vhost = stack.enter_context(support.rabbit_vhost())
        template = (f"sqlite:///{tmp}/{{service}}.db" if self.db_kind == "sqlite"
                    else stack.enter_context(support.postgres_databases()))
        bpmn = tmp / "bpmn"
        # The repository's calendar as deployed: 2027 has no official schedule yet, so deadlines
        # the tests skip into 2027 are counted on the provisional rule (bpmn/calendar/README.md).
        shutil.copytree(ROOT / "bpmn", bpmn)
        self.settings = make_settings(tmp, vhost, template, ZTC_GATEWAY_PORT=str(free_port()),
                                      ZTC_CLOCK_OFFSET_FILE=str(tmp / "clock-offset"), ZTC_BPMN_DIR=str(bpmn))
        env = dict(os.environ, **settings_env(self.settings))
        self.failed_before = self.session.testsfailed
        self.launcher = subprocess.Popen([sys.executable, "-m", "services.launcher"], env=env, cwd=ROOT,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started = threading.Event()

        def drain():
            for line in self.launcher.stdout:
                self.lines.append(line)
                if "Ctrl-C stops everything" in line:
                    started.set()
            started.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        started.wait(timeout=120)
        assert any("running:" in line for line in self.lines), "".join(list(self.lines)[-30:])
        self.base = f"http://127.0.0.1:{self.settings.gateway_port}"
        self.tokens = json.loads((self.settings.var_dir / "demo-tokens.json").read_text())

    def stop(self):
        try:
            if self.launcher is not None:
                self.launcher.send_signal(2)  # Ctrl-C
                self.launcher.wait(timeout=60)
                self.reader.join(timeout=10)
                output = "".join(self.lines)
                if self.session.testsfailed > self.failed_before:
                    print("---- the services' last output ----\n" + "".join(list(self.lines)[-150:]))
                assert self.launcher.returncode == 0, output[-3000:]
                assert "stopped" in output
        finally:
            self.stack.close()


@pytest.fixture(scope="session")
def shared_system(db_kind, tmp_path_factory, request):
    """One system per database kind for every module that does not ask for its own: starting six
    processes costs more than most modules' tests. Tests must not depend on each other's data
    (they find their own proposals, items and cases by number or title) nor move the clock."""
    system = RunningSystem(tmp_path_factory.mktemp(f"e2e-{db_kind}"), db_kind, request.session).start()
    yield system
    system.stop()


@pytest.fixture(scope="module")
def own_system(db_kind, tmp_path_factory, request):
    """A system for one module (``pytestmark = pytest.mark.own_system``): a module that moves the
    services' clock, or counts everything the system recorded."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    system = RunningSystem(tmp_path_factory.mktemp(f"e2e-{name}-{db_kind}"), db_kind, request.session).start()
    yield system
    system.stop()


@pytest.fixture(scope="module")
def system(db_kind, request):
    if request.node.get_closest_marker("own_system"):
        return request.getfixturevalue("own_system")
    return request.getfixturevalue("shared_system")


@pytest.fixture(scope="module")
def e2e_settings(system):
    return system.settings


@pytest.fixture(scope="module")
def running(system):
    """The module's system; yields (gateway URL, demo tokens by role)."""
    return system.base, system.tokens


def call(base, token, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, base + path, json=body, headers=headers, timeout=30)




@pytest.fixture(scope="module")
def service_clock(e2e_settings, request):
    """The clock every service of ``running`` reads: advance it to skip days in all of them
    (and in every later test of the module: such a module has its own system)."""
    assert request.node.get_closest_marker("own_system"), "a module that moves the clock needs its own system"
    from shared.clock import OffsetClock

    return OffsetClock(e2e_settings.clock_offset_file)
