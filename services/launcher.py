"""``make run``: everything on one machine, on the embedded defaults.

Checks the broker, migrates every service's database, declares the bus topology, deploys the
diagrams in ``bpmn/``, seeds an empty installation, gives every service, the operator and each
unit its own broker user with its permissions (through the management API, with the admin of
``ZTC_RABBIT_MANAGEMENT_URL``; passwords generated into ``var/bus-credentials.json``, mode 600,
unless ``ZTC_BUS_PASSWORD_<NAME>`` gives them; the deployment key into ``var/bus.key``), starts
each service as its own process on its own user plus the gateway, and says where to go next.
Ctrl-C stops them all.

Demo tokens (one per role, operator included) are issued only with ``--demo`` (``make run``
passes it): fresh ones at each start, the earlier demo tokens revoked, written to
``var/demo-tokens.json`` readable by its owner only. Everything this process and the services
write is private to the user running them (umask 077: ``var/`` 700, the SQLite files and token
files 600), and a ``var/`` left more open by an older version is closed at start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


from shared import quiet

quiet.eventlet_deprecation()  # before services.registry imports nameko, and so eventlet

from services.registry import DATABASES, SERVICE_CLASSES  # noqa: E402
from shared import config, yamlio  # noqa: E402

DEMO_USERS = {
    "member": {"user": "member.li", "roles": ["member"], "unit": None},
    "cosigner": {"user": "member.zhou", "roles": ["member"], "unit": None},
    "staff": {"user": "staff.wang", "roles": ["staff"], "unit": None},
    "committee": {"user": "committee.liu", "roles": ["committee"], "unit": None},
    "unit": {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"},
    "co_unit": {"user": "handler.ma", "roles": ["unit"], "unit": "education"},
    "leader": {"user": "leader.chen", "roles": ["leader"], "unit": None},
    "informant": {"user": "informant.he", "roles": ["informant"], "unit": None},  # 信息员: opinion items
    "operator": {"user": "ops.sun", "roles": ["operator", "designer"], "unit": None},
}


# Each service's own environment on top of ours (its broker user): filled by set_up_bus.
SERVICE_ENV: dict[str, dict[str, str]] = {}


def say(message: str) -> None:
    """One line for whoever watches. A reader that went away (the terminal closed, the pipe of a
    program that started us ended) must not stop the launcher: it still has to stop its services
    on Ctrl-C, so from then on it says nothing."""
    try:
        print(f"[ztc] {message}", flush=True)
    except (BrokenPipeError, OSError, ValueError):  # ValueError: stdout closed
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the run
        except OSError:
            pass


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(signum: int = signal.SIGTERM):
    """A ``preexec_fn`` asking Linux to send ``signum`` to the child when the process that started
    it dies, however it died (SIGKILL included): a launcher killed outright leaves no service
    running on its ports and queues. Elsewhere (no ``prctl``) it does nothing."""

    def preexec() -> None:
        if not sys.platform.startswith("linux"):
            return
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)

    return preexec


def check_broker(settings) -> bool:
    from kombu import Connection

    try:
        with Connection(settings.amqp_uri, connect_timeout=3, ssl=settings.amqp_ssl()) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception as exc:  # any failure to connect: say how to get a broker
        say(f"RabbitMQ is not reachable at {settings.amqp_uri.split('@')[-1]}: {exc}")
        say(
            "Start it with 'rabbitmq-server -detached' (Debian: 'apt-get install rabbitmq-server'), "
            "or point ZTC_AMQP_URI at one."
        )
        return False


PRIVATE_UMASK = 0o077


def make_private(var_dir) -> None:
    """``var/`` 700 and every file in it 600: the databases hold personal data, token files tokens."""
    var_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(var_dir, 0o700)
    for path in var_dir.rglob("*"):
        if path.is_symlink():
            continue
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def write_private(path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)


def issue_tokens(
    settings, users: dict, label: str, hours: float | None = None, revoke_label: str | None = None
) -> dict:
    """A token per entry of ``users`` (``{name: {user, roles, unit}}``), labelled ``label <name>``,
    living ``hours`` (default: a person's lifetime); with ``revoke_label``, tokens labelled so
    before are revoked first."""
    from sqlalchemy import select

    from services.gateway import tokens
    from services.gateway.models import ApiToken
    from shared.db import session_factory, transaction

    issued = {}
    with transaction(session_factory(settings.database_url("gateway"))) as s:
        if revoke_label:
            old = s.scalars(
                select(ApiToken.token_hash).where(
                    ApiToken.label.startswith(revoke_label), ApiToken.revoked_at.is_(None)
                )
            ).all()
            tokens.revoke(s, [h[: tokens.ID_LENGTH] for h in old])
        ttl = tokens.lifetime(settings, "person", hours)
        for name, who in users.items():
            issued[name] = tokens.issue(s, who["user"], who["roles"], who["unit"], f"{label} {name}", ttl=ttl)
    return issued


# The demo users' console password (``make run`` only; a real installation sets each person's with
# ``ztc console-user set``).
DEMO_PASSWORD = "zhitongche-demo"


def seed_console_accounts(settings, users: dict, password: str) -> None:
    """A console account for each of ``users`` (``{name: {user, roles, unit}}``) with ``password``."""
    from services.gateway.console import accounts
    from shared.db import session_factory, transaction

    with transaction(session_factory(settings.database_url("gateway"))) as s:
        for who in users.values():
            accounts.set_password(s, who["user"], password, who["roles"], who["unit"])


def prepare(settings, demo: bool = False) -> dict:
    """Migrate, declare, deploy, seed. Returns the demo tokens (none unless ``demo``)."""
    from services.assignment.operations import ensure_units
    from services.assignment.consultation.directory import ensure_venues
    from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
    from services.engine.engine import Engine
    from shared.db import migrate, session_factory, transaction
    from shared.messaging import topology

    make_private(settings.var_dir)
    for service in DATABASES:
        migrate(service, settings.database_url(service))
    say(f"databases migrated ({settings.database_url('engine').split(':')[0]})")
    topology.declare(settings.amqp_uri, queue_type=settings.queue_type)
    say("bus topology declared")
    engine = Engine(session_factory(settings.database_url("engine")), settings)
    for path in sorted(settings.bpmn_dir.glob("*.bpmn")):
        for row in engine.deploy({path.name: path.read_bytes()}, "make run"):
            say(f"diagram {path.name}: {row['process_id']} version {row['version']}{' (new)' if row['new'] else ''}")
    seed = yamlio.safe_load((config.ROOT / "deploy" / "seed" / "units.yaml").read_text(encoding="utf-8"))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        added = ensure_units(SqlAssignmentUnitOfWork(s), seed["units"])
    if added:
        say(f"unit directory seeded with {added} units")
    venues = yamlio.safe_load((config.ROOT / "deploy" / "seed" / "venues.yaml").read_text(encoding="utf-8"))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        added = ensure_venues(SqlAssignmentUnitOfWork(s), venues)
    if added:
        say(f"venue directory seeded with {added} venues")
    from services.evaluation.points.directory import ensure_members
    from services.evaluation.points.rules import RulebookPointsRules
    from services.evaluation.unit_of_work import SqlEvaluationUnitOfWork

    members = yamlio.safe_load((config.ROOT / "deploy" / "seed" / "members.yaml").read_text(encoding="utf-8"))
    with transaction(session_factory(settings.database_url("evaluation"))) as s:
        added = ensure_members(SqlEvaluationUnitOfWork(s), RulebookPointsRules(), members["members"])
    if added:
        say(f"members directory seeded with {added} members")
    token_file = settings.var_dir / "demo-tokens.json"
    if not demo:
        if token_file.exists():  # the demo tokens of an earlier demo run end with it
            issue_tokens(settings, {}, "demo", revoke_label="demo ")
            token_file.unlink()
        return {}
    issued = issue_tokens(settings, DEMO_USERS, "demo", revoke_label="demo ")
    seed_console_accounts(settings, DEMO_USERS, DEMO_PASSWORD)
    write_private(token_file, json.dumps(issued, indent=2))
    make_private(settings.var_dir)
    return issued


def directory_units(settings) -> list[str]:
    from sqlalchemy import select

    from services.assignment.models import Unit
    from shared.db import session_factory, transaction

    with transaction(session_factory(settings.database_url("assignment"))) as s:
        return sorted(s.scalars(select(Unit.code)))


def set_up_bus(settings) -> dict[str, dict[str, str]]:
    """Per-service broker users: install every user of ``shared.messaging.access`` (the services,
    the operator, each unit of the directory) on the broker, and return each service's environment
    (its own ``ZTC_AMQP_URI``; the gateway also the operator's, for its operator routes). Units'
    users get no password here: ``ztc units credentials issue UNIT`` gives one. With
    ``ZTC_BUS_USERS=shared``, or no management API to install them with, every process uses
    ``ZTC_AMQP_URI`` (and the bus cannot tell them apart: said loudly)."""
    from shared import principal as signing
    from shared.messaging import access, identity

    if not settings.bus_key:
        signing.ensure_key_file(settings.bus_key_file)
        say(f"deployment key (signs principals and jobs): {settings.bus_key_file} (mode 600)")
    if settings.bus_users == "shared":
        say("ZTC_BUS_USERS=shared: every service uses ZTC_AMQP_URI's user")
        return {}
    try:
        units = directory_units(settings)
        grant_list = access.grants(settings, units)
        users = [identity.service_user(settings, s) for s in config.SERVICES] + [identity.operator_user(settings)]
        passwords = access.local_passwords(settings, users)
        access.install(settings, grant_list, passwords)
    except access.UsersOfAnotherVhost as exc:  # never fall back: the other deployment's users stay its own
        say(f"refusing to start: {exc}")
        raise SystemExit(2) from None
    except Exception as exc:  # no management API (or no admin): the run still works, on one user
        say("=" * 100)
        say(f"WARNING: could not give each service its own broker user ({exc}).")
        say(
            "Every service uses ZTC_AMQP_URI's user, so the bus cannot tell them apart. Enable the "
            "management API ('rabbitmq-plugins enable rabbitmq_management') and give "
            "ZTC_RABBIT_MANAGEMENT_URL an administrator."
        )
        say("=" * 100)
        return {}
    operator = identity.operator_user(settings)
    operator_uri = identity.with_user(settings.amqp_uri, operator, passwords[operator])
    management = identity.with_user(settings.management_url, operator, passwords[operator])
    bare_management = identity.without_user(settings.management_url)
    env = {}
    for service in SERVICE_CLASSES:
        user = identity.service_user(settings, service)
        env[service] = {
            "ZTC_AMQP_URI": identity.with_user(settings.amqp_uri, user, passwords[user]),
            "ZTC_RABBIT_MANAGEMENT_URL": bare_management,
            "ZTC_OPERATOR_AMQP_URI": "",
        }
    env["gateway"].update({"ZTC_OPERATOR_AMQP_URI": operator_uri, "ZTC_RABBIT_MANAGEMENT_URL": management})
    say(
        f"broker users: {', '.join(users)} and {len(units)} units' "
        f"({identity.unit_user(settings, '<code>')}: 'ztc units credentials issue CODE' gives one its "
        f"password); passwords in {settings.var_dir / identity.CREDENTIALS_FILE} (mode 600)"
    )
    return env


# A replica's metrics port: its service's plus this, times the replica's number after the first.
REPLICA_METRICS_PORT_STEP = 100


def service_of(process: str) -> str:
    """The service a process runs: ``engine#2`` (the engine's second replica) -> ``engine``."""
    return process.split("#", 1)[0]


def process_names(replicas: dict[str, int]) -> list[str]:
    """Every process to run: each service once, or ``replicas[service]`` times (``engine``,
    ``engine#2``, ``engine#3``...)."""
    return [name if i == 1 else f"{name}#{i}" for name in SERVICE_CLASSES for i in range(1, replicas.get(name, 1) + 1)]


def parse_replicas(values) -> dict[str, int]:
    """``["engine=3", "intake=2"]`` -> {"engine": 3, "intake": 2}; a bad entry is refused by name."""
    counts = {}
    for value in values or ():
        service, _, count = value.partition("=")
        if service not in SERVICE_CLASSES or not count.isdigit() or not 1 <= int(count) <= 16:
            raise argparse.ArgumentTypeError(
                f"--replicas {value!r}: say SERVICE=N, N from 1 to 16, SERVICE one of {', '.join(SERVICE_CLASSES)}"
            )
        counts[service] = int(count)
    return counts


def replica_env(settings, process: str) -> dict[str, str]:
    """What sets a replica apart: its own metrics port (the service's + 100 per replica after the
    first). Every gateway replica listens on the same HTTP port (SO_REUSEPORT: the kernel shares
    out the connections)."""
    service, _, number = process.partition("#")
    port = settings.metrics_port(service)
    if not number or port is None:
        return {}
    return {f"ZTC_METRICS_PORT_{service.upper()}": str(port + REPLICA_METRICS_PORT_STEP * (int(number) - 1))}


def start_all(settings, processes) -> dict:
    """Start each of ``processes`` (services, or their replicas: ``engine#2``)."""
    procs = {}
    for name in processes:
        service = service_of(name)
        env = dict(os.environ, **SERVICE_ENV.get(service, {}), **replica_env(settings, name))
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "services.runner", service], env=env, preexec_fn=die_with_parent()
        )
    return procs


def wait_ready(settings, procs, tend=None, timeout=60, stopping=lambda: False) -> bool:
    """Wait for the gateway's /ready; ``tend()`` (if given) is called meanwhile to start again any
    service that exited while starting. Gives up early once ``stopping()`` (Ctrl-C)."""
    url = f"http://{settings.gateway_host}:{settings.gateway_port}/ready"
    deadline = time.time() + timeout
    while time.time() < deadline and not stopping():
        if tend is not None:
            tend()
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except Exception:  # not up yet
            time.sleep(0.5)
    say(f"the gateway did not become ready at {url} within {timeout}s")
    return False


def describe_status(code) -> str:
    """A process's exit status in words: ``exit status 1``, ``killed by SIGKILL``."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Restarts:
    """When to start an exited service again: at once the first time, then after 1, 2, 4... s, at
    most ``MAX_DELAY_SECONDS``, for as long as it keeps exiting; one that stayed up
    ``STABLE_SECONDS`` starts again at once. The run is never stopped because one process keeps
    dying (the others keep working, and a message that killed it is dead-lettered, not fatal);
    from the ``LOUD_AFTER``-th exit in a row the launcher says loudly which one keeps exiting."""

    MAX_DELAY_SECONDS = 30.0
    STABLE_SECONDS = 60.0
    LOUD_AFTER = 5

    def __init__(self):
        self.streak: dict[str, int] = {}
        self.restarted_at: dict[str, float] = {}

    def after_exit(self, name: str, now: float) -> float:
        """The pause before starting ``name`` again, which exited at ``now``."""
        started = self.restarted_at.get(name)
        if started is not None and now - started >= self.STABLE_SECONDS:
            self.streak[name] = 0
        exits = self.streak[name] = self.streak.get(name, 0) + 1
        delay = 0.0 if exits == 1 else min(self.MAX_DELAY_SECONDS, 2.0 ** (exits - 2))
        self.restarted_at[name] = now + delay
        return delay

    def started(self, name: str, now: float) -> None:
        """``name`` was started again at ``now`` (its uptime is counted from here)."""
        self.restarted_at[name] = now

    def exits_in_a_row(self, name: str) -> int:
        return self.streak.get(name, 0)

    def keeps_exiting(self, name: str) -> bool:
        return self.exits_in_a_row(name) >= self.LOUD_AFTER


def tend(settings, procs, supervisor, due, now) -> None:
    """Start again each service that is due; note each that exited and when it is due."""
    for name, proc in list(procs.items()):
        if name in due:
            if now >= due[name]:
                del due[name]
                procs[name] = start_all(settings, [name])[name]
                supervisor.started(name, now)
            continue
        if proc.poll() is None:
            continue
        delay = supervisor.after_exit(name, now)
        status = describe_status(proc.returncode)
        if supervisor.keeps_exiting(name):
            say("=" * 100)
            say(
                f"WARNING: {name} KEEPS EXITING: {supervisor.exits_in_a_row(name)} times in a row, the last "
                f"with {status}. Starting it again in {delay:.0f}s; the other services keep running. "
                f"Its own log lines above say why."
            )
            say("=" * 100)
        else:
            say(
                f"{name} exited with {status}; starting it again in {delay:.0f}s "
                "(nothing is lost: its unacknowledged messages go back to its queue)"
            )
        due[name] = now + delay


def stop_all(procs, grace=15) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in {grace}s; killing it")
            proc.kill()


def announce(settings, procs, demo, base: str) -> None:
    """What runs and where to go next, once everything is started."""
    say(f"running: {', '.join(procs)}" + (" (one process each)" if len(procs) == len(SERVICE_CLASSES) else ""))
    say(f"HTTP API: {base}   health: {base}/health")
    say(f"web console: {base}/console" + (f"   (demo users log in with the password {DEMO_PASSWORD})" if demo else ""))
    if demo:
        say(f"demo tokens, valid {settings.token_ttl_hours:g} h (also in var/demo-tokens.json, readable by you only):")
        for role, token in demo.items():
            say(f"  {role:>8}: {token}")
        say(f"try: curl -s -H 'Authorization: Bearer {demo['staff']}' {base}/api/processes")
    else:
        say("no demo tokens (make run, or --demo, issues them); issue one: ztc token --user NAME --role staff")
    ports = {
        name: int(replica_env(settings, name).get(f"ZTC_METRICS_PORT_{service_of(name).upper()}", 0))
        or settings.metrics_port(service_of(name))
        for name in procs
    }
    if any(ports.values()):
        say(
            "metrics: "
            + "  ".join(f"{name} http://{settings.metrics_host}:{port}/metrics" for name, port in ports.items() if port)
        )
    else:
        say("metrics: off (set ZTC_METRICS_PORT_BASE, e.g. 9100, to serve /metrics from every service)")
    say("operators: 'ztc --help' (queues, dead-letters, incidents, instances, deploy). Ctrl-C stops everything.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="migrate, declare, deploy and seed, then exit without starting services",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="issue demo tokens, one per role (operator included), and print them; "
        "without it none are issued and earlier demo tokens are revoked",
    )
    parser.add_argument(
        "--replicas",
        action="append",
        metavar="SERVICE=N",
        default=[],
        help="run N processes of SERVICE (repeatable: --replicas engine=3 --replicas intake=2); "
        "they share its queues and database (PostgreSQL; on SQLite they take turns)",
    )
    args = parser.parse_args(argv)
    try:
        replicas = parse_replicas(args.replicas)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    os.umask(PRIVATE_UMASK)  # the databases and token files this run and its services write
    settings = config.load()
    from shared import clock

    # Under a moved clock (ZTC_CLOCK_OFFSET_FILE) the demo tokens are issued on the time the
    # gateway checks them on: stamped on the real one, they were expired from the first request.
    clock.follow_offset_file(settings.clock_offset_file)
    if not check_broker(settings):
        return 2
    demo = prepare(settings, demo=args.demo)
    SERVICE_ENV.update(set_up_bus(settings))
    if args.prepare_only:
        return 0
    procs = start_all(settings, process_names(replicas))
    try:
        stopping = {"now": False}

        def on_signal(signum, frame):
            stopping["now"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        supervisor, due = Restarts(), {}
        base = f"http://{settings.gateway_host}:{settings.gateway_port}"
        if (
            not wait_ready(
                settings,
                procs,
                lambda: tend(settings, procs, supervisor, due, time.time()),
                stopping=lambda: stopping["now"],
            )
            and not stopping["now"]
        ):
            say(
                f"not every service is ready yet ({base}/ready says which); carrying on, starting again "
                "whatever exits. Ctrl-C stops everything."
            )
        announce(settings, procs, demo, base)
        while not stopping["now"]:
            tend(settings, procs, supervisor, due, time.time())
            time.sleep(0.5)
        say("stopping...")
    finally:  # whatever ends the loop, the services stop with it
        stop_all(procs)
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
