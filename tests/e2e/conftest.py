"""E2E fixtures: every service as its own process, started by the launcher as ``make run`` does."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from shared.config import ROOT
from tests.support import free_port, make_settings, settings_env


# Tests make their own tokens (no demo tokens are issued without --demo): one per role of the
# launcher's demo users, living long enough for tests that move the services' clock by months.
TEST_TOKEN_HOURS = 10 * 365 * 24
# Besides the demo users: a resident (the public role), a designer, and a token of every role alone
# (``role:<role>``) for the permission matrix.
ONE_ROLE_USERS = {
    "public": {"user": "resident.gao", "roles": ["public"], "unit": None},
    "designer": {"user": "designer.lin", "roles": ["designer"], "unit": None},
    **{
        f"role:{role}": {"user": user, "roles": [role], "unit": "transport" if role == "unit" else None}
        for role, user in (
            ("member", "member.qian"),
            ("informant", "matrix.informant"),
            ("staff", "matrix.staff"),
            ("committee", "matrix.committee"),
            ("leader", "matrix.leader"),
            ("unit", "matrix.unit"),
            ("public", "matrix.public"),
            ("operator", "matrix.operator"),
            ("designer", "matrix.designer"),
        )
    },
}


def make_test_tokens(settings) -> dict:
    from services.launcher import DEMO_USERS, issue_tokens
    from shared.db import migrate

    migrate("gateway", settings.database_url("gateway"))
    users = {**DEMO_USERS, **ONE_ROLE_USERS}
    return issue_tokens(settings, users, "e2e", hours=TEST_TOKEN_HOURS)


E2E = Path(__file__).resolve().parent
SERVICE_LOGS = ROOT / "test-artifacts" / "e2e"
KINDS = ("sqlite", "postgresql")


class RunningSystem:
    """Every service started by the launcher, as ``make run`` starts them, on a throwaway vhost,
    databases and copy of ``bpmn/``.

    The services log to the launcher's output, which is read for the system's whole life: a pipe
    nobody reads fills up and stops the services mid-test. The last lines are shown if a test
    failed while it ran. :meth:`stop` is Ctrl-C, :meth:`stopped` waits for the launcher and checks
    that everything stopped cleanly."""

    def __init__(self, tmp, db_kind, session):
        self.tmp, self.db_kind, self.session = tmp, db_kind, session
        self.stack = contextlib.ExitStack()
        self.lines = collections.deque(maxlen=400)
        self.launcher = self.reader = None
        self.failed_before = session.testsfailed

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            self.stopped()
            raise
        return self

    def _start(self):
        from tests import support

        tmp, stack = self.tmp, self.stack
        vhost = stack.enter_context(support.rabbit_vhost())
        template = (
            f"sqlite:///{tmp}/{{service}}.db"
            if self.db_kind == "sqlite"
            else stack.enter_context(support.postgres_databases())
        )
        bpmn = tmp / "bpmn"
        # The repository's calendar as deployed: 2027 has no official schedule yet, so deadlines
        # the tests skip into 2027 are counted on the provisional rule (bpmn/calendar/README.md).
        shutil.copytree(ROOT / "bpmn", bpmn)
        self.settings = make_settings(
            tmp,
            vhost,
            template,
            ZTC_GATEWAY_PORT=str(free_port()),
            ZTC_CLOCK_OFFSET_FILE=str(tmp / "clock-offset"),
            ZTC_BPMN_DIR=str(bpmn),
        )
        # The launcher gives each service its own broker user, named with this run's prefix.
        stack.callback(support.delete_users_with_prefix, self.settings.bus_user_prefix)
        self.tokens = make_test_tokens(self.settings)
        env = dict(os.environ, **settings_env(self.settings))
        from services.launcher import die_with_parent

        # Ctrl-C when this test process dies however it died (a lane's timeout ends it with
        # os._exit): the launcher then stops its services, which would otherwise run on and take
        # CPU from every lane after.
        self.launcher = subprocess.Popen(
            [sys.executable, "-m", "services.launcher"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent(signal.SIGINT),
        )
        started = threading.Event()
        # Everything the services said, kept beside the screenshots (CI keeps test-artifacts/):
        # a failure's request id is found there with the service's traceback.
        SERVICE_LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = SERVICE_LOGS / f"{tmp.name}-{os.getpid()}.log"
        log = stack.enter_context(open(self.log_path, "w", encoding="utf-8"))

        def drain():
            for line in self.launcher.stdout:
                self.lines.append(line)
                log.write(line)
                if "Ctrl-C stops everything" in line:
                    started.set()
            started.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        started.wait(timeout=120)
        assert any("running:" in line for line in self.lines), "".join(list(self.lines)[-30:])
        self.base = f"http://127.0.0.1:{self.settings.gateway_port}"

    def service_pids(self) -> dict[str, int]:
        """Each service process the launcher started (``python -m services.runner NAME``), by name."""
        pid = self.launcher.pid
        pids = {}
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            with contextlib.suppress(FileNotFoundError):
                argv = Path(f"/proc/{child}/cmdline").read_text().split("\0")
                if "services.runner" in argv:
                    pids[argv[argv.index("services.runner") + 1]] = int(child)
        return pids

    def stop(self):
        if self.launcher is not None and self.launcher.poll() is None:
            self.launcher.send_signal(2)  # Ctrl-C

    def stopped(self):
        try:
            if self.launcher is not None:
                self.launcher.wait(timeout=60)
                self.reader.join(timeout=10)
                output = "".join(self.lines)
                if self.session.testsfailed > self.failed_before:
                    print(f"---- the services' last output (all of it: {self.log_path}) ----")
                    print("".join(list(self.lines)[-150:]))
                assert self.launcher.returncode == 0, output[-3000:]
                assert "stopped" in output
        finally:
            self.stack.close()


def system_of(item):
    """(database kind, system name, runs first) of a test that uses a running system, else None.

    Modules share one system per database kind unless marked ``pytest.mark.system(NAME)``: a
    module that moves the services' clock (every later test sees the new time) or counts
    everything the system recorded has a system of its own, or shares one with modules it cannot
    disturb. ``first=True``: the module runs before the other modules of its system, on a system
    nothing else has touched yet."""
    if "system" not in getattr(item, "fixturenames", ()) or not hasattr(item, "callspec"):
        return None
    mark = item.get_closest_marker("system")
    name = mark.args[0] if mark and mark.args else "shared"
    return item.callspec.params["db_kind"], name, bool(mark and mark.kwargs.get("first"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Run the end-to-end tests system by system, the modules that must come first on theirs
    first, then those that start their own processes (the chaos run). The kinds alternate
    (a system on SQLite, the same on PostgreSQL, the next on SQLite...): the next system starts
    while the tests on one run, and two on PostgreSQL at once would hold twice the connections
    of a server the whole machine shares."""
    slots = [i for i, item in enumerate(items) if E2E in Path(item.path).parents]
    ours = [items[i] for i in slots]
    first_seen = {}
    for n, item in enumerate(ours):
        key = system_of(item)
        if key:
            first_seen.setdefault(key[1], n)

    def order(pair):
        n, item = pair
        key = system_of(item)
        if key is None:
            return (len(ours), 0, 0, n)
        return (first_seen[key[1]], KINDS.index(key[0]), 0 if key[2] else 1, n)

    ours = [item for _, item in sorted(enumerate(ours), key=order)]
    for slot, item in zip(slots, ours, strict=True):
        items[slot] = item
    schedule, last = [], {}
    for item in ours:
        key = system_of(item)
        if key:
            if key[:2] not in schedule:
                schedule.append(key[:2])
            last[key[:2]] = item.nodeid
    config.stash[SCHEDULE] = (schedule, last)


SCHEDULE = pytest.StashKey[tuple]()


class Systems:
    """The running systems of the end-to-end tests, in the order the tests use them. While the
    tests of one run, the next system is started; a system no later test needs is stopped at once
    (Ctrl-C), and every stop is checked before the tests that start processes of their own."""

    def __init__(self, session, tmp_path_factory):
        self.session, self.tmp_path_factory = session, tmp_path_factory
        self.schedule, self.last = session.config.stash.get(SCHEDULE, ([], {}))
        self.running, self.starting, self.stopping = {}, {}, []

    def _start(self, key):
        db_kind, name = key
        tmp = self.tmp_path_factory.mktemp(f"e2e-{name}-{db_kind}")
        return RunningSystem(tmp, db_kind, self.session).start()

    def _start_soon(self, key):
        result = {}

        def start():
            try:
                result["system"] = self._start(key)
            except BaseException as exc:  # shown when the system is asked for
                result["error"] = exc

        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        self.starting[key] = (thread, result)

    def get(self, key):
        if key not in self.running:
            if key in self.starting:
                thread, result = self.starting.pop(key)
                thread.join()
                if "error" in result:
                    raise result["error"]
                self.running[key] = result["system"]
            else:
                self.running[key] = self._start(key)
            later = self.schedule[self.schedule.index(key) + 1 :] if key in self.schedule else []
            if later and later[0] not in self.running and later[0] not in self.starting:
                self._start_soon(later[0])
        return self.running[key]

    def done_with(self, nodeid):
        for key, last in self.last.items():
            if last == nodeid and key in self.running:
                system = self.running.pop(key)
                system.stop()
                self.stopping.append(system)

    def close(self):
        """Every system stopped, each checked (also one started for a test that was deselected)."""
        for thread, result in self.starting.values():
            thread.join()
            if "system" in result:
                result["system"].stop()
                self.stopping.append(result["system"])
        self.starting = {}
        for system in self.running.values():
            system.stop()
            self.stopping.append(system)
        self.running = {}
        stopping, self.stopping = self.stopping, []
        for system in stopping:
            system.stopped()


@pytest.fixture(scope="session")
def e2e_systems(request, tmp_path_factory):
    systems = Systems(request.session, tmp_path_factory)
    request.config.stash[SYSTEMS] = systems
    yield systems
    systems.close()


SYSTEMS = pytest.StashKey[Systems]()


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test's own teardown: stop the systems no later test needs; once the tests on
    running systems are over, wait for every system to have stopped cleanly."""
    yield
    systems = item.config.stash.get(SYSTEMS, None)
    if systems is None or not system_of(item):
        return
    systems.done_with(item.nodeid)
    if nextitem is None or not system_of(nextitem):
        systems.close()


@pytest.fixture(scope="session")
def shared_chromium():
    """One chromium for this process's browser tests (``tests.e2e.browser.SharedChromium``)."""
    from tests.e2e import browser

    if browser.missing():  # failed, not skipped: leave these out with -m "not browser" instead
        pytest.fail(browser.missing())
    chromium = browser.SharedChromium()
    yield chromium
    chromium.close()


def once_on_sqlite(why: str):
    """An autouse fixture for a module whose tests run once, on SQLite, not on PostgreSQL as the
    other scenarios do: assign it in the module (``_once = once_on_sqlite("...")``); ``why`` says
    why. Its name puts the module's tests on SQLite alone (``tests/conftest.py``)."""

    @pytest.fixture(autouse=True, name="on_sqlite_only")
    def _once(db_kind):
        assert db_kind == "sqlite", why

    return _once


@pytest.fixture(scope="module")
def system(db_kind, request, e2e_systems):
    """The running system of this module's tests (see :func:`system_of`)."""
    mark = request.node.get_closest_marker("system")
    return e2e_systems.get((db_kind, mark.args[0] if mark and mark.args else "shared"))


@pytest.fixture(scope="module")
def e2e_settings(system):
    return system.settings


@pytest.fixture(scope="module")
def running(system):
    """The module's system; yields (gateway URL, tokens by role)."""
    return system.base, system.tokens


def call(base, token, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, base + path, json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def service_clock(e2e_settings, request):
    """The clock every service of ``running`` reads: advance it to skip days in all of them
    (and in every later test on that system: a module that moves it is marked ``system``)."""
    assert request.node.get_closest_marker("system"), "a module that moves the clock has a system of its own"
    from shared.clock import OffsetClock

    return OffsetClock(e2e_settings.clock_offset_file)
