"""What the chaos harness and the load benchmark share: a whole system on a throwaway vhost and
databases, each service its own process that can be killed and restarted; people acting on
proposals over HTTP; and a checker that reads each service's database.

Run from the repository root (``bench/chaos.py`` and ``bench/e2e.py`` put it on ``sys.path``).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from services.registry import SERVICE_CLASSES  # noqa: E402
from tests import support  # noqa: E402

SERVICES = list(SERVICE_CLASSES)  # engine, intake, assignment, supervision, evaluation, gateway
RABBIT_API = support.RABBIT_API
RABBIT_AUTH = support.RABBIT_AUTH


class Broker:
    """Where the harness's vhost lives: the AMQP address and the management API. The default is the
    machine's broker (127.0.0.1:5672, API on 15672); ``bench/cluster.py`` passes a node of its own
    cluster. ``restart`` is what the chaos harness calls for its broker fault (default: stop and
    start the RabbitMQ application of the local node); it returns the seconds it was down."""

    def __init__(
        self,
        amqp: str = "127.0.0.1:5672",
        management: str = "127.0.0.1:15672",
        restart=None,
        name: str = "the local broker",
    ):
        self.amqp, self.management, self.name = amqp, management, name
        self.api = f"http://{management}/api"
        self.restart = restart or restart_broker

    def uri(self, vhost: str) -> str:
        return f"amqp://guest:guest@{self.amqp}/{vhost}"


def replica_names(replicas: dict[str, int] | None = None) -> list[str]:
    """The process names of every service's replicas: the first is the service's own name, the
    next ``engine#2``, ``engine#3``... (``replicas`` maps a service to its count, default 1)."""
    replicas = replicas or {}
    return [name if i == 1 else f"{name}#{i}" for name in SERVICES for i in range(1, replicas.get(name, 1) + 1)]


def service_of(process: str) -> str:
    """``engine#2`` -> ``engine``."""
    return process.split("#", 1)[0]


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user + system) process ``pid`` has used, from ``/proc/<pid>/stat``, in
    clock ticks (``SC_CLK_TCK``, 10 ms here)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BROKER_COMMANDS = frozenset({"beam.smp", "erl_child_setup", "epmd", "inet_gethost", "heart"})


def _stat(pid: str) -> tuple[int, str, int, list[int]] | None:
    """(pid, command, parent pid, [utime, stime, cutime, cstime]) from ``/proc/<pid>/stat``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone between the listing and the read
        return None
    head, tail = text.rsplit(")", 1)
    fields = tail.split()
    return int(pid), head.split("(", 1)[1], int(fields[1]), [int(v) for v in fields[11:15]]


def machine_cpu() -> dict[str, float]:
    """CPU seconds so far, for the whole machine and the two servers beside the services:

    * ``busy``: every CPU's user, nice, system, irq and softirq time (``/proc/stat``); ``steal``:
      time the host gave another guest while this one wanted a CPU (a shared machine's noise);
    * ``broker``: RabbitMQ's processes (the Erlang VM and its helpers, by command name);
    * ``database``: PostgreSQL's processes: the live ones' own CPU, and what the ones that ended
      (connections closed) had used, which the server's main process holds as its children's.

    Differences of two readings are what the machine did in between; what no group claims (the
    services, this process, other work on the machine, the kernel) is for the caller to subtract."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (cpu + [0] * 8)[:8]
    out = {"busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick, "broker": 0.0, "database": 0.0}
    stats = [s for s in (_stat(pid) for pid in os.listdir("/proc") if pid.isdigit()) if s is not None]
    postgres = {pid for pid, command, _parent, _t in stats if command == "postgres"}
    for pid, command, parent, (utime, stime, cutime, cstime) in stats:
        if command in BROKER_COMMANDS:
            out["broker"] += (utime + stime) / tick
        elif pid in postgres:
            # The main process (its parent is not PostgreSQL) also carries its ended children.
            children = cutime + cstime if parent not in postgres else 0
            out["database"] += (utime + stime + children) / tick
    return out


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the system ------------------------------------------------------------------------------------


class System:
    """Every service as its own process (``python -m services.runner NAME``) on a throwaway vhost
    and throwaway databases, prepared as ``make run`` prepares them (migrate, declare, deploy, seed).

    Unlike the launcher, a service that dies is not a reason to stop the others: :meth:`kill`
    SIGKILLs one and :meth:`restart` starts it again. ``profile`` names services to run under
    cProfile timed by the process's CPU clock (``bench/cpu_profile.py``); their profiles are written
    when they stop gracefully.

    ``replicas`` ({service: count}) runs several processes of a service, all consuming the same
    queues and the engine's all stepping the same instances (named as :func:`replica_names`; every
    gateway replica listens on the one HTTP port, which the kernel shares out with SO_REUSEPORT).
    ``queue_type`` is ``ZTC_QUEUE_TYPE`` of every process (``quorum`` as on a cluster);
    ``broker`` where the vhost is made (:class:`Broker`)."""

    def __init__(
        self,
        db_kind: str,
        workdir: Path | None = None,
        profile=(),
        env=None,
        replicas: dict[str, int] | None = None,
        queue_type: str = "classic",
        broker: Broker | None = None,
    ):
        self.db_kind = db_kind
        self.profile = set(profile)
        self.replicas = dict(replicas or {})
        self.names = replica_names(self.replicas)
        self.queue_type = queue_type
        self.broker = broker or Broker()
        self.extra_env = dict(
            env or {},
            ZTC_QUEUE_TYPE=queue_type,
            ZTC_RABBIT_MANAGEMENT_URL=f"http://guest:guest@{self.broker.management}",
        )
        self._stack = contextlib.ExitStack()
        self.procs: dict[str, subprocess.Popen] = {}
        self.kills: list[tuple[float, str]] = []
        self.exits: list[dict] = []  # services that died without being killed
        self.lock = threading.RLock()
        self._watching = threading.Event()
        self._own_tmp = workdir is None
        self.tmp = Path(workdir or tempfile.mkdtemp(prefix=f"ztc-bench-{db_kind}-"))

    # context manager: everything made is removed on exit
    def __enter__(self):
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _open(self):
        import shutil

        from services.launcher import prepare
        from shared.db import dispose_all

        self.vhost = self._stack.enter_context(support.rabbit_vhost(self.broker.api))
        template = (
            f"sqlite:///{self.tmp}/{{service}}.db"
            if self.db_kind == "sqlite"
            else self._stack.enter_context(support.postgres_databases())
        )
        bpmn = self.tmp / "bpmn"
        if not bpmn.exists():
            shutil.copytree(ROOT / "bpmn", bpmn)
        self.settings = support.make_settings(
            self.tmp,
            self.vhost,
            template,
            ZTC_GATEWAY_PORT=str(free_port()),
            ZTC_BPMN_DIR=str(bpmn),
            ZTC_JOB_MAX_ATTEMPTS="5",
            ZTC_JOB_BACKOFF_SECONDS="0.2",
            ZTC_JOB_BACKOFF_MAX_SECONDS="2",
            ZTC_AMQP_URI=self.broker.uri(self.vhost),
            ZTC_QUEUE_TYPE=self.queue_type,
            ZTC_RABBIT_MANAGEMENT_URL=self.extra_env["ZTC_RABBIT_MANAGEMENT_URL"],
        )
        # ``env`` given to the system wins over the settings made here (e.g. ZTC_RELAY_INTERVAL_SECONDS)
        self.env = {**os.environ, **support.settings_env(self.settings), **self.extra_env}
        self.tokens = prepare(self.settings, demo=True)
        dispose_all()
        self.base = f"http://127.0.0.1:{self.settings.gateway_port}"
        for name in self.names:
            self.start(name)
        self.wait_ready()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        """A process supervisor's job: a service that exits on its own is recorded (with the last
        lines of its log) and started again, as systemd's ``Restart=always`` would."""
        while not self._watching.wait(0.5):
            with self.lock:
                for name, proc in list(self.procs.items()):
                    if self._watching.is_set() or proc.poll() is None:
                        continue
                    self.exits.append(
                        {"at": time.time(), "service": name, "code": proc.returncode, "log": self.log_tail(name, 12)}
                    )
                    say(f"{name} exited by itself (code {proc.returncode}); starting it again")
                    self.start(name)

    def start(self, name: str) -> None:
        """Start the process ``name`` (a service, or one of its replicas: ``engine#2``)."""
        log = open(self.tmp / f"{name}.log", "ab")
        command = [sys.executable]
        if name in self.profile:
            command += [str(ROOT / "bench" / "cpu_profile.py"), str(self.tmp / f"{name}.prof"), "services.runner"]
        else:
            command += ["-m", "services.runner"]
        command += [service_of(name)]
        self.procs[name] = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the system did not become ready in {timeout}s; logs in {self.tmp}")

    def kill(self, name: str) -> None:
        """SIGKILL one service (no chance to ack, commit or say goodbye) and start it again."""
        with self.lock:
            proc = self.procs[name]
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            self.kills.append((time.time(), name))
            self.start(name)

    def stop(self, grace: float = 30) -> None:
        self._watching.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            from shared.db import dispose_all

            dispose_all()
            self._stack.close()
            if self._own_tmp and not os.environ.get("ZTC_BENCH_KEEP"):
                import shutil

                shutil.rmtree(self.tmp, ignore_errors=True)

    def session(self, service: str):
        from shared.db import session_factory, transaction

        return transaction(session_factory(self.settings.database_url(service)))

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        return "".join(path.read_text(errors="replace").splitlines(True)[-lines:]) if path.exists() else ""

    def log_count(self, service: str, text: str) -> dict[str, int]:
        """Lines containing ``text`` in the logs of every process of ``service`` (a log survives
        its process's kills: each start appends to it), by process name."""
        counts = {}
        for name in self.names:
            path = self.tmp / f"{name}.log"
            if service_of(name) == service and path.exists():
                counts[name] = sum(text in line for line in path.read_text(errors="replace").splitlines())
        return counts

    def queues(self) -> list[dict]:
        return queues(self.vhost, self.broker.api)


@dataclasses.dataclass
class Target:
    """What ``bench/floor.py`` needs of a running system to measure it beside its bare responders:
    the broker address, the gateway's base URL, a token to sign in with, and each process's pid.
    Its fields, as JSON, are what ``floor.py --attach`` reads (``bench/e2e.py --floor``)."""

    amqp_uri: str
    base: str
    token: str
    pids: dict[str, int]

    @classmethod
    def of(cls, system: System) -> Target:
        pids = {name: proc.pid for name, proc in system.procs.items()}
        return cls(system.settings.amqp_uri, system.base, next(iter(system.tokens.values())), pids)


def restart_broker() -> float:
    """Stop and start the RabbitMQ application (every vhost on it). Returns seconds it was down."""
    began = time.time()
    for command in (["rabbitmqctl", "stop_app"], ["rabbitmqctl", "start_app"], ["rabbitmqctl", "await_startup"]):
        subprocess.run(command, check=True, capture_output=True, timeout=180)
    return time.time() - began


def queues(vhost: str, api: str = RABBIT_API) -> list[dict]:
    """The vhost's queues from the management API, waiting while the broker is away (a restart,
    ours or another run's on the same broker, leaves the API refusing for a few seconds)."""
    resp = support.management(
        "GET",
        f"{api}/queues/{requests.utils.quote(vhost, safe='')}",
        timeout=10,
        params={"columns": "name,messages,messages_ready,messages_unacknowledged,consumers"},
    )
    resp.raise_for_status()
    return resp.json()


# -- people acting over HTTP -------------------------------------------------------------------------


class Gone(Exception):
    """The gateway did not answer (connection refused or reset, timeout, 5xx while restarting)."""


class Refused(Exception):
    def __init__(self, status, text):
        super().__init__(f"{status} {text[:300]}")
        self.status = status


class Http:
    """The people's HTTP calls. A call that gets no answer raises :class:`Gone`: whether it took
    effect is unknown, so each caller below checks before it acts again (never a blind retry of
    a POST). ``timings`` collects (step, seconds) of every answered call."""

    def __init__(self, base: str, tokens: dict, timeout: float = 60):
        self.base, self.tokens, self.timeout = base, tokens, timeout
        self.local = threading.local()
        self.timings: list[tuple[str, float]] = []
        self.gone = 0
        self.vhost = None  # set by drive(): lets a client wait for requests still in flight
        self.api, self.amqp_uri = RABBIT_API, None

    def _session(self):
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, who, method, path, body=None, step=None, ok=(200, 201, 202), key=None):
        """``key``: an Idempotency-Key, so that sending the same creating call again is safe."""
        began = time.perf_counter()
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key:
            headers["Idempotency-Key"] = key
        try:
            response = self._session().request(
                method, self.base + path, json=body, timeout=self.timeout, headers=headers
            )
        except requests.RequestException as exc:
            self.gone += 1
            self.local.session = requests.Session()
            raise Gone(str(exc)) from None
        if response.status_code >= 500 or response.status_code == 503:
            self.gone += 1
            raise Gone(f"{response.status_code} {response.text[:200]}")
        if step:
            self.timings.append((step, time.perf_counter() - began))
        if response.status_code not in ok:
            raise Refused(response.status_code, response.text)
        try:
            return response.json()
        except ValueError:  # a half-written answer from a process that was just killed
            self.gone += 1
            raise Gone(f"{response.status_code}: not JSON: {response.text[:200]}") from None

    def get(self, who, path, **kw):
        """A read: safe to repeat, so retried until it is answered."""
        deadline = time.time() + 300
        while True:
            try:
                return self.call(who, "GET", path, **kw)
            except Gone:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)


class Board:
    """What the simulated people see. One looker per role keeps the open tasks (staff, committee)
    and the unit's assignments, so a hundred proposals in flight cost one list call per role per
    look instead of a hundred; the member's looker keeps their notification inbox.

    Two models of how the people look (neither is a measurement of real people):

    * eager (``patient=False``, the chaos harness's): every ``interval`` seconds, each role looks;
      the member looks at their proposal until it changes.
    * patient (``patient=True``, the load benchmark's): a person looks at their list now and then.
      After a look that showed something new, work is coming in and they look again soon
      (``interval``); after a look that showed nothing new, they wait twice as long as the last
      time, up to ``longest`` seconds. The member does not look for their proposal's next step:
      they act when told, by the notification in their inbox (:meth:`notified`; the inbox is the
      gateway's own data, read every ``interval`` seconds: no message on the bus).

    Each look at a task list or at the unit's assignments is an RPC call the gateway makes (a
    request and a reply on the bus)."""

    def __init__(self, http: Http, interval: float = 0.3, longest: float = 4.0, patient: bool = False):
        self.http, self.interval, self.patient = http, interval, patient
        self.longest = longest if patient else interval
        self.tasks: dict[str, dict] = {}  # (role) -> {(business_key, task): task}
        self.assignments: dict[str, dict] = {}  # number -> [assignment]
        self.told: set[tuple[str, str]] = set()  # the member's notifications: (kind, subject)
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._poll, args=(role,), daemon=True)
            for role in ("staff", "committee", "unit", *(("member",) if patient else ()))
        ]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)

    def _look(self, role) -> bool:
        """One look at ``role``'s list; True if it showed something new."""
        if role == "member":
            # the newest 200 unread (the most a look gives): more than a run's people are told
            # between two looks, so none is missed (what was seen is kept in ``told``)
            rows = self.http.call("member", "GET", "/api/notifications?unread=true&limit=200")
            seen = {(n["kind"], n["subject"]) for n in rows}
            with self.changed:
                new = not seen <= self.told
                self.told |= seen
                self.changed.notify_all()
            return new
        if role == "unit":
            # The newest 100 of the unit's assignments: more than the lifecycles any run has in
            # flight, so every one waiting for the unit is on it (the list is paged, newest first).
            rows = self.http.call("unit", "GET", "/api/assignments?per_page=100")["items"]
            grouped = collections.defaultdict(list)
            for a in rows:
                grouped[a["number"]].append(a)
            with self.changed:
                new = any(
                    a["id"] not in {b["id"] for b in self.assignments.get(n, [])} for n in grouped for a in grouped[n]
                )
                self.assignments.update(grouped)
                self.changed.notify_all()
            return new
        rows = self._every_task(role)
        with self.changed:
            before = self.tasks.get(role, {})
            self.tasks[role] = {(t["business_key"], t["task"]): t for t in rows}
            new = bool(self.tasks[role].keys() - before.keys())
            self.changed.notify_all()
        return new

    def _every_task(self, role):
        """The role's whole task list, its pages in turn (the API answers 200 at most a page)."""
        rows, page = [], 1
        while True:
            listed = self.http.call(role, "GET", f"/api/tasks?page={page}&per_page=200")
            rows += listed["items"]
            if page * listed["per_page"] >= listed["total"]:
                return rows
            page += 1

    def _poll(self, role):
        wait = self.interval
        while not self.stopping.is_set():
            try:
                new = self._look(role)
            except (Gone, Refused):
                new = False
            except Exception as exc:  # never let the looker die: every lifecycle would wait on it
                say(f"board looker for {role}: {type(exc).__name__}: {exc}")
                new = False
            if role == "member" or new:
                wait = self.interval
            else:
                wait = min(wait * 2, self.longest)
            self.stopping.wait(wait)

    def wait(self, what, probe, timeout):
        deadline = time.time() + timeout
        with self.changed:
            while True:
                value = probe()
                if value:
                    return value
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
                self.changed.wait(min(left, 1.0))

    def task(self, role, number, name, timeout):
        return self.wait(
            f"{role}'s task {name} of {number}", lambda: self.tasks.get(role, {}).get((number, name)), timeout
        )

    def notified(self, kind, number, timeout):
        """Wait until the member is told ``kind`` about proposal ``number`` (patient people only)."""
        if not self.patient:
            return True
        return self.wait(f"the member's notification {kind} of {number}", lambda: (kind, number) in self.told, timeout)

    def assignment(self, number, timeout):
        return self.wait(
            f"the unit's assignment of {number}",
            lambda: next((a for a in self.assignments.get(number, []) if a["status"] != "cancelled"), None),
            timeout,
        )


DRAFT = {
    "kind": "between_sessions",
    "situation": "城区多所小学门前缺少信号灯和过街天桥，上下学高峰人车混行。",
    "analysis": "交通流量逐年增加，现有设施未随学校扩招同步改造。",
    "suggestions": "一、在学校门前增设信号灯；二、高峰时段安排交通协管；三、设置限速标志。",
    "publish_consent": True,
}


PLACES = ["城东", "城西", "南湖", "北山", "高新区", "老城区", "滨江", "开发区", "西郊", "新城"]
TOPICS = [
    "学校周边交通安全",
    "老旧小区加装电梯",
    "社区养老服务",
    "河道黑臭水体治理",
    "公交线网覆盖",
    "菜市场改造",
    "停车难问题",
    "垃圾分类",
    "夜间噪声治理",
    "便民服务中心建设",
]


def draft_title(n: int) -> str:
    return f"关于{PLACES[n % len(PLACES)]}{TOPICS[(n // len(PLACES)) % len(TOPICS)]}的建议"


def draft_suggestions(title: str) -> str:
    """Suggestions of their own for each proposal, so intake's near-duplicate search (bigram
    Jaccard over title and suggestions) finds few: identical drafts would make every proposal a
    near-duplicate of every other and the result of that job grow with the run."""
    rng = random.Random(title)
    return "建议：" + "".join(chr(0x4E00 + rng.randrange(6000)) for _ in range(60)) + "。"


class Lifecycle:
    """One proposal taken from submission to publication, as the people would, each step safe to
    take again after a call that got no answer: a submission is looked up by its unique title
    before it is sent again; a task, an assignment or a rating is checked before it is repeated.

    ``path`` is ``published`` (filed, assigned to transport, signed, replied A, accepted, rated
    satisfied, graded, published) or ``not_filed`` (refused at filing, converted to a letter)."""

    def __init__(self, http: Http, board: Board, tag: str, n: int, path: str = "published", step_timeout: float = 240):
        self.http, self.board, self.n, self.path = http, board, n, path
        self.title = f"{tag}-{n:05d} {draft_title(n)}"
        self.step_timeout = step_timeout
        self.number = None
        self.marks: list[tuple[str, float]] = []
        self.resubmitted = 0  # times this client sent its submission again after looking
        self.due: float | None = None  # an open load's (drive(rate=...)) time this lifecycle was due
        self.started: float | None = None

    def run(self):
        self.started = time.time()
        self.submit()
        self.complete("staff", "pre_review", {"eligible": True, "content_ok": True, "format_ok": True})
        if self.path == "not_filed":
            self.complete(
                "committee",
                "filing_decision",
                {"decision": "not_filed", "reason_code": "personal_or_family", "convert_to": "letter"},
            )
            self.until_status("not_filed")
            return self.number
        self.complete("committee", "filing_decision", {"decision": "filed"})
        self.complete("staff", "assign", {"mode": "single", "units": ["transport"]})
        self.reply()
        self.complete("staff", "review_reply", {"action": "accept"})
        self.rate()
        self.complete("committee", "grade_quality", {"grade": "good"})
        self.board.notified("published", self.number, self.step_timeout)
        self.until_status("published")
        return self.number

    def _mark(self, step):
        self.marks.append((step, time.time()))

    # -- steps ----------------------------------------------------------------------------------
    def _find_mine(self):
        # the member's newest 200: a submission just made is among them (the list is paged, newest first)
        rows = self.http.get("member", "/api/proposals?mine=true&per_page=200")["items"]
        found = [p for p in rows if p.get("title") == self.title]
        if len(found) > 1:
            raise AssertionError(f"{self.title} was recorded {len(found)} times")
        return found[0]["number"] if found else None

    def submit(self):
        body = {**DRAFT, "title": self.title, "suggestions": draft_suggestions(self.title), "cosigners": []}
        deadline = time.time() + self.step_timeout
        unsure = False
        while time.time() < deadline:
            if unsure:
                self._settle_in_flight("rpc-intake")
                self.number = self._find_mine()
                if self.number:
                    break
                self.resubmitted += 1
            try:
                self.number = self.http.call(
                    "member", "POST", "/api/proposals", body, step="submit", key=self.title.split()[0]
                )["number"]
                break
            except Gone:
                unsure = True
                time.sleep(0.5)
        else:
            raise TimeoutError(f"{self.title} could not be submitted")
        self._mark("submit")

    def _settle_in_flight(self, queue, timeout=60):
        """Before looking whether an unanswered call took effect, wait until the service's RPC
        queue holds nothing and is consumed: a request the gateway passed on before it died may
        still be waiting there for a restarting service, and would take effect after the look."""
        if not self.http.vhost:
            return
        from kombu import Connection

        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                info = support.queue_info(self.http.vhost, queue, self.http.api)
                with Connection(self.http.amqp_uri, connect_timeout=5) as conn:
                    _, ready, consumers = conn.default_channel.queue_declare(queue=queue, passive=True)
                if ready == 0 and consumers > 0 and info.get("messages_unacknowledged", 0) == 0:
                    time.sleep(1.0)  # the management API's counts lag a little
                    return
            except Exception:  # the broker or a service is restarting: look again
                pass
            time.sleep(0.5)

    def complete(self, role, name, data):
        deadline = time.time() + self.step_timeout
        task, sent = None, False
        while time.time() < deadline:
            if not sent:
                task = self.board.task(role, self.number, name, max(1, deadline - time.time()))
            elif not self._still_open(role, task):
                break  # our own unanswered call completed it (the board may not show it any more)
            try:
                self.http.call(role, "POST", f"/api/tasks/{task['task_id']}/complete", {"data": data}, step=name)
                break
            except Gone:
                sent = True
                time.sleep(0.5)
            except Refused as exc:
                # A task no longer open answers 409 "already completed" to who could have done it
                # (404 before): taken by our own unanswered call.
                if exc.status in (404, 409) and (sent or not self._still_open(role, task)):
                    break
                if exc.status in (404, 409):
                    time.sleep(0.3)  # the board showed a task that was just closed, or a busy instance
                    continue
                raise
        else:
            raise TimeoutError(f"{self.number}: {name} not completed")
        self._forget(role, name)
        self._mark(name)

    def _still_open(self, role, task):
        rows = self.http.get(role, f"/api/tasks?instance_id={task['instance_id']}")["items"]
        return any(t["task_id"] == task["task_id"] for t in rows)

    def _forget(self, role, name):
        with self.board.changed:
            self.board.tasks.get(role, {}).pop((self.number, name), None)

    def _assignment_op(self, op, body, done):
        deadline = time.time() + self.step_timeout
        while time.time() < deadline:
            mine = self.board.assignment(self.number, max(1, deadline - time.time()))
            current = self.http.get("unit", f"/api/assignments/{mine['id']}")
            if done(current):
                return
            try:
                self.http.call("unit", "POST", f"/api/assignments/{mine['id']}/{op}", body, step=op)
                return
            except Gone:
                time.sleep(0.5)
            except Refused as exc:
                if exc.status == 409:
                    time.sleep(0.3)
                    continue
                raise
        raise TimeoutError(f"{self.number}: {op} not done")

    def reply(self):
        self._assignment_op("sign", None, lambda a: a["status"] != "assigned")
        self._mark("sign")
        self._assignment_op(
            "reply-draft",
            {"category": "A", "text": "已在学校门前增设信号灯并安排协管。"},
            lambda a: bool(a.get("replies")) or a["status"] == "replied",
        )
        self._assignment_op("reply", None, lambda a: a["status"] == "replied")
        self._mark("reply")

    def rate(self):
        deadline = time.time() + self.step_timeout
        self.board.notified("rating_opened", self.number, self.step_timeout)
        while time.time() < deadline:
            try:
                self.http.call(
                    "member",
                    "POST",
                    f"/api/proposals/{self.number}/ratings",
                    {"handling": "satisfied", "result": "satisfied"},
                    step="rate",
                )
                break
            except Gone:
                time.sleep(0.5)
            except Refused as exc:
                # 404: no round open yet. 409: already rated, or the round closed because every
                # proposer rated - which, with one proposer, means our unanswered call was recorded.
                if exc.status == 409 and self._rated():
                    break
                if exc.status in (404, 409):
                    time.sleep(0.3)
                    continue
                raise
        else:
            raise TimeoutError(f"{self.number}: rating not accepted")
        self._mark("rate")

    def _rated(self):
        try:
            rounds = self.http.get("member", f"/api/proposals/{self.number}/ratings")["rounds"]
        except Refused:
            return False
        return any(r.get("rater", "member.li") == "member.li" for rnd in rounds for r in rnd["ratings"])

    def until_status(self, status):
        deadline = time.time() + self.step_timeout
        while time.time() < deadline:
            if self.http.get("staff", f"/api/proposals/{self.number}")["status"] == status:
                self._mark(status)
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.number} did not become {status}")


def drive(
    system: System,
    count: int,
    concurrency: int,
    tag: str,
    not_filed_every: int = 0,
    on_progress=None,
    step_timeout: float = 240,
    patient: bool = False,
    rate: float | None = None,
):
    """Run ``count`` lifecycles, ``concurrency`` at a time. Returns (lifecycles, failures, http).
    ``patient``: the people look now and then and when told (:class:`Board`), not every 0.3 s.

    ``rate``: an open load instead of a closed one. Lifecycle ``n`` is due ``n / rate`` seconds
    after the start, whether or not the earlier ones are done, as new proposals arrive; at most
    ``concurrency`` are in flight, and one due while that many are still running starts late
    (each lifecycle's ``due`` and ``started`` times say by how much)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    http = Http(system.base, system.tokens)
    http.vhost, http.api, http.amqp_uri = system.vhost, system.broker.api, system.settings.amqp_uri
    board = Board(http, interval=0.5 if patient else 0.3, patient=patient).start()
    lifecycles = [
        Lifecycle(
            http,
            board,
            tag,
            n,
            "not_filed" if not_filed_every and n % not_filed_every == not_filed_every - 1 else "published",
            step_timeout=step_timeout,
        )
        for n in range(count)
    ]
    failures = []
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            if rate is None:
                futures = {pool.submit(lc.run): lc for lc in lifecycles}
            else:
                began, futures = time.time(), {}
                for n, lc in enumerate(lifecycles):
                    lc.due = began + n / rate
                    time.sleep(max(0.0, lc.due - time.time()))
                    futures[pool.submit(lc.run)] = lc
            for done, future in enumerate(as_completed(futures), 1):
                exc = future.exception()
                if exc is not None:
                    failures.append((futures[future], exc))
                if on_progress:
                    on_progress(done, len(failures))
    finally:
        board.stop()
    return lifecycles, failures, http


def open_load(lifecycles, rate: float) -> dict:
    """How an open load (``drive(rate=...)``) went: how late lifecycles started against when they
    were due (late: the cap on lifecycles in flight was reached, the system did not keep up), how
    many were in flight at most, and how long one took from its start to its last step."""
    ran = [lc for lc in lifecycles if lc.started is not None and lc.due is not None]
    lags = [lc.started - lc.due for lc in ran]
    spans = [(lc.started, lc.marks[-1][1]) for lc in ran if lc.marks]
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    in_flight = peak = 0
    for _, change in edges:
        in_flight += change
        peak = max(peak, in_flight)
    durations = [end - start for start, end in spans]
    starts = sorted(lc.started for lc in ran)
    # A system that keeps up takes as long for the last lifecycles as for the first; one that does
    # not queues work, and each lifecycle takes longer than the one before (until the cap is reached).
    by_due = [lc.marks[-1][1] - lc.started for lc in sorted(ran, key=lambda lc: lc.due) if lc.marks]
    quarter = len(by_due) // 4
    first = percentile(by_due[:quarter], 50) if quarter else None
    last = percentile(by_due[-quarter:], 50) if quarter else None
    return {
        "rate_offered": rate,
        "started": len(ran),
        # the rate they really started at: from the first start to the last
        "start_rate": round((len(starts) - 1) / (starts[-1] - starts[0]), 2) if len(starts) > 1 else None,
        "start_lag_s_p50": _rounded(percentile(lags, 50)),
        "start_lag_s_p99": _rounded(percentile(lags, 99)),
        "start_lag_s_max": _rounded(max(lags, default=None)),
        "started_late_over_1s": sum(1 for lag in lags if lag > 1.0),
        "peak_in_flight": peak,
        "lifecycle_s_p50": _rounded(percentile(durations, 50)),
        "lifecycle_s_p99": _rounded(percentile(durations, 99)),
        "lifecycle_s_first_quarter": _rounded(first),
        "lifecycle_s_last_quarter": _rounded(last),
        # kept up: none started over a second late, and the last quarter took at most 1.5 times
        # as long as the first
        "kept_up": not any(lag > 1.0 for lag in lags) and (first is None or last <= 1.5 * first),
    }


def _rounded(value, digits: int = 2):
    return None if value is None else round(value, digits)


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


def step_table(pairs):
    """{step: (count, p50 ms, p99 ms)} from (step, seconds) pairs."""
    by = collections.defaultdict(list)
    for step, seconds in pairs:
        by[step].append(seconds * 1000)
    return {step: (len(v), percentile(v, 50), percentile(v, 99)) for step, v in by.items()}


def job_round_trips(system: System):
    """(operation, seconds) from job sent to job completed, read from the engine's history."""
    from sqlalchemy import select

    from services.engine.models import History

    sent, pairs = {}, []
    with system.session("engine") as s:
        for h in s.scalars(
            select(History).where(History.action.in_(("job_sent", "job_completed"))).order_by(History.id)
        ):
            job_id = (h.data or {}).get("job_id")
            if h.action == "job_sent":
                sent[job_id] = (h.data.get("operation"), h.at)
            elif job_id in sent:
                operation, at = sent[job_id]
                pairs.append((operation, (h.at - at).total_seconds()))
    return pairs


def dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
