"""Helpers the test tiers share: throwaway vhosts and databases, waiting, settings."""

from __future__ import annotations

import contextlib
import time
import uuid

import requests
from sqlalchemy import create_engine, text

from shared import config

RABBIT_API = "http://127.0.0.1:15672/api"
RABBIT_AUTH = ("guest", "guest")
# The deployment key the tests sign principals and jobs with (shared/principal.py).
TEST_BUS_KEY = "tests-only-deployment-key-0123456789abcdefghijklmnop"


def next_session_year() -> int:
    """Next year in China: a session year a member may submit for (intake takes this year, the
    last and the next), so tests that name one keep passing as the years go by."""
    from shared import clock
    from shared.calendar import local_date

    return local_date(clock.now()).year + 1


NEXT_YEAR = next_session_year()
# A year well ahead for a unit's dates (milestones, extensions): within the ten years the
# assignment service takes (services/assignment/commands.py FURTHEST_YEARS), whatever the year.
FAR_YEAR = NEXT_YEAR + 2
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def management(method: str, url: str, patience: float = 90, **kwargs):
    """A call to the management API that waits while the broker is away: the broker is shared,
    and a test that restarts it (here, or another checkout's) leaves the API refusing for a few
    seconds. Setting up and removing a vhost is not what any test is about."""
    deadline = time.time() + patience
    while True:
        try:
            answer = requests.request(method, url, auth=RABBIT_AUTH, **kwargs)
        except requests.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(1)
            continue
        # A 5xx while other tests add and delete users and vhosts beside it (listing the users
        # while one is being deleted answered 500 once): asked again, as a broker away is.
        if answer.status_code < 500 or time.time() > deadline:
            return answer
        time.sleep(1)


@contextlib.contextmanager
def rabbit_vhost(api: str = RABBIT_API):
    """A throwaway vhost on the broker whose management API is ``api`` (default: the local one)."""
    name = f"ztc-test-{uuid.uuid4().hex[:10]}"
    management("PUT", f"{api}/vhosts/{name}", timeout=10).raise_for_status()
    management(
        "PUT", f"{api}/permissions/{name}/guest", timeout=10, json={"configure": ".*", "write": ".*", "read": ".*"}
    ).raise_for_status()
    try:
        yield name
    finally:
        management("DELETE", f"{api}/vhosts/{name}", timeout=30)


def queue_info(vhost: str, queue: str, api: str = RABBIT_API) -> dict:
    resp = requests.get(f"{api}/queues/{vhost}/{queue}", auth=RABBIT_AUTH, timeout=10)
    resp.raise_for_status()
    return resp.json()


def get_messages(vhost: str, queue: str, count: int = 50) -> list[dict]:
    """Take messages off a queue through the management API (they are not requeued)."""
    resp = requests.post(
        f"{RABBIT_API}/queues/{vhost}/{queue}/get",
        auth=RABBIT_AUTH,
        timeout=10,
        json={"count": count, "ackmode": "ack_requeue_false", "encoding": "auto"},
    )
    resp.raise_for_status()
    return resp.json()


@contextlib.contextmanager
def postgres_databases():
    """Yield a ``{service}`` URL template; every database made from it is dropped afterwards."""
    prefix = f"ztc_t_{uuid.uuid4().hex[:8]}"
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{prefix}_{{service}}"
    finally:
        from shared.db import dispose_all

        dispose_all()
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            names = (
                conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{prefix}_%"})
                .scalars()
                .all()
            )
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp_path, vhost: str, database_url_template: str, **env):
    values = {
        "ZTC_VAR_DIR": str(tmp_path),
        "ZTC_AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "ZTC_DATABASE_URL": database_url_template,
        # Each commit wakes its service's relay; the interval is only the sweep for rows another
        # process wrote. At 0.1 s the sweeps of every idle service process were most of the CPU an
        # idle running system used (3.6 CPU s in 30 s against 0.7 at 1 s, measured here), and make
        # test runs several systems at once on two cores.
        "ZTC_RELAY_INTERVAL_SECONDS": "1.0",
        "ZTC_JOB_BACKOFF_SECONDS": "0.05",
        "ZTC_JOB_BACKOFF_MAX_SECONDS": "0.2",
        "ZTC_JOB_MAX_ATTEMPTS": "3",
        "ZTC_MESSAGE_RETRY_PAUSE_SECONDS": "0.05",
        "ZTC_MESSAGE_RETRY_PAUSE_MAX_SECONDS": "0.5",
        "ZTC_BUS_KEY": TEST_BUS_KEY,
        # Broker users are global, not per vhost: each test names its own (and deletes them after).
        "ZTC_BUS_USER_PREFIX": f"t{uuid.uuid4().hex[:8]}-",
    }
    values.update(env)
    return config.load(values)


def settings_env(settings) -> dict:
    """The environment that gives a service process these settings."""
    return {
        "ZTC_VAR_DIR": str(settings.var_dir),
        "ZTC_AMQP_URI": settings.amqp_uri,
        "ZTC_DATABASE_URL": settings.database_url_template or "",
        "ZTC_RELAY_INTERVAL_SECONDS": str(settings.relay_interval_seconds),
        "ZTC_JOB_BACKOFF_SECONDS": str(settings.job_backoff_seconds),
        "ZTC_JOB_BACKOFF_MAX_SECONDS": str(settings.job_backoff_max_seconds),
        "ZTC_JOB_MAX_ATTEMPTS": str(settings.job_max_attempts),
        "ZTC_MESSAGE_MAX_ATTEMPTS": str(settings.message_max_attempts),
        "ZTC_MESSAGE_RETRY_PAUSE_SECONDS": str(settings.message_retry_pause_seconds),
        "ZTC_MESSAGE_RETRY_PAUSE_MAX_SECONDS": str(settings.message_retry_pause_max_seconds),
        "ZTC_MESSAGE_MAX_BYTES": str(settings.message_max_bytes),
        "ZTC_GATEWAY_PORT": str(settings.gateway_port),
        "ZTC_CLOCK_OFFSET_FILE": settings.clock_offset_file or "",
        "ZTC_BPMN_DIR": str(settings.bpmn_dir),
        "ZTC_BUS_KEY": settings.bus_key or "",
        "ZTC_BUS_USER_PREFIX": settings.bus_user_prefix,
    }


def wait_for(
    predicate,
    timeout: float = 20.0,
    interval: float = 0.05,
    message: str = "condition",
    longest: float = 0.4,
):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``.

    The pause between looks starts at ``interval`` and grows by half each time up to ``longest``:
    most conditions hold within a few looks, and a long wait costs a look every ``longest`` seconds,
    not twenty a second. A look at an end-to-end system is an HTTP request, an RPC and a query (about
    8 CPU ms over the processes); at 0.05 s, the waits of the parallel lanes of ``make test`` were a
    large share of the two cores the whole suite shares."""
    deadline = time.time() + timeout
    last = None
    pause = interval
    while True:
        last = predicate()
        if last:
            return last
        left = deadline - time.time()
        if left <= 0:  # a last look was taken at the deadline
            break
        time.sleep(min(pause, left))
        pause = min(pause * 1.5, max(longest, interval))
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last value: {last!r})")


@contextlib.contextmanager
def statements(bind):
    """The SQL statements the engine (or connection) ``bind`` runs inside the block, in order."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(bind, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(bind, "before_cursor_execute", record)


def read_bpmn(name: str) -> dict:
    path = config.ROOT / "bpmn" / name
    return {path.name: path.read_bytes()}


AS_CONNECTED = object()


def publish(
    amqp_uri: str,
    exchange: str,
    routing_key: str,
    body,
    content_type="application/json",
    headers=None,
    user_id=AS_CONNECTED,
) -> None:
    """Publish one persistent message, with confirms, as a department system or a bug would.
    ``user_id``: the AMQP property the broker checks against the connection's user; by default
    the URI's user (as every process of ours sends), None for a message without one."""
    if user_id is AS_CONNECTED:
        from shared.messaging.identity import user_of

        user_id = user_of(amqp_uri)
    from kombu import Connection, Exchange

    import json

    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish(
            body,
            exchange=Exchange(exchange, "topic", durable=True, passive=True),
            routing_key=routing_key,
            content_type=content_type,
            content_encoding="utf-8",
            headers=headers or {},
            delivery_mode=2,
            **({"user_id": user_id} if user_id else {}),
        )


def ready_count(amqp_uri: str, queue: str) -> int:
    """Messages ready in ``queue`` now (exact: a passive declare asks the queue itself)."""
    from kombu import Connection

    with Connection(amqp_uri) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
        return count


# -- who is acting: signed principals, sealed jobs, broker users ----------------------------------
def signed(principal: dict, settings) -> dict:
    """``principal`` signed with the deployment key, as the gateway signs each caller's."""
    from shared import principal as signing

    return signing.sign(principal, signing.key_of(settings), settings.principal_ttl_seconds)


def sealed_job(job: dict, settings) -> dict:
    """A job sealed as the engine seals each one."""
    from shared import principal as signing

    return signing.seal(job, signing.key_of(settings), signing.JOB)


def _is_principal(value) -> bool:
    from shared import principal as signing

    return isinstance(value, dict) and "user" in value and "roles" in value and signing.PROOF not in value


class SigningRpc:
    """A started ``ClusterRpcProxy`` whose calls sign every principal they pass (a dict with a user
    and roles), as the gateway does: the tests act as the gateway would for that person."""

    def __init__(self, rpc, settings):
        self._rpc, self._settings = rpc, settings

    def __getattr__(self, service):
        return _SigningService(getattr(self._rpc, service), self._settings)


class _SigningService:
    def __init__(self, proxy, settings):
        self._proxy, self._settings = proxy, settings

    def __getattr__(self, method):
        return _SigningMethod(getattr(self._proxy, method), self._settings)


class _SigningMethod:
    def __init__(self, target, settings):
        self._target, self._settings = target, settings

    def _signed(self, args, kwargs):
        sign = lambda v: signed(v, self._settings) if _is_principal(v) else v  # noqa: E731
        return [sign(a) for a in args], {k: sign(v) for k, v in kwargs.items()}

    def __call__(self, *args, **kwargs):
        args, kwargs = self._signed(args, kwargs)
        return self._target(*args, **kwargs)

    def call_async(self, *args, **kwargs):
        args, kwargs = self._signed(args, kwargs)
        return self._target.call_async(*args, **kwargs)


@contextlib.contextmanager
def signing_rpc(settings, **options):
    """``with signing_rpc(settings) as rpc: rpc.intake.list(STAFF)``."""
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy(settings.nameko_config(), **options) as rpc:
        yield SigningRpc(rpc, settings)


def vhost_of_settings(settings) -> str:
    from shared.messaging.management import vhost_of

    return vhost_of(settings.amqp_uri)


@contextlib.contextmanager
def broker_users(settings, grants):
    """The users of ``grants`` (shared.messaging.access) on the test's vhost with fresh passwords;
    yields {user: amqp URI}; deletes them afterwards."""
    from shared.messaging import access, identity

    passwords = {g.user: access.new_password() for g in grants}
    access.install(settings, grants, passwords)
    try:
        yield {g.user: identity.with_user(settings.amqp_uri, g.user, passwords[g.user]) for g in grants}
    finally:
        delete_users([g.user for g in grants])


def delete_users(names) -> None:
    for name in names:
        management("DELETE", f"{RABBIT_API}/users/{requests.utils.quote(name, safe='')}", timeout=10)


def delete_users_with_prefix(prefix: str) -> None:
    """Every broker user whose name starts with ``prefix`` (a test's own), gone."""
    resp = management("GET", f"{RABBIT_API}/users", timeout=10)
    resp.raise_for_status()
    delete_users([u["name"] for u in resp.json() if u["name"].startswith(prefix)])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the operators' command line ------------------------------------------------------------------
def ztc(settings, *args: str):
    """``ztc ARGS`` with ``settings`` in its environment, run in this process (the same code an
    operator's ``ztc`` runs, without starting another interpreter for each command: that cost a
    second or two of CPU a command). Answers like :func:`subprocess.run` with ``capture_output``:
    ``returncode``, ``stdout``, ``stderr`` (an exception the command did not handle is shown on
    stderr with its traceback, as the interpreter would). :func:`ztc_process` runs the real
    entry point."""
    import os
    import subprocess
    import traceback

    from click.testing import CliRunner

    from services.ztc.cli import main

    from shared import clock

    umask = os.umask(0o022)  # the command sets its own; the tests' process keeps the one it had
    os.umask(umask)
    process_clock = clock.current()  # and its own clock, where a moved one is configured
    try:
        result = CliRunner().invoke(main, list(args), env=settings_env(settings))
    finally:
        os.umask(umask)
        clock.install(process_clock)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(["ztc", *args], result.exit_code, result.stdout, stderr)


def ztc_process(settings, *args: str, timeout: float = 120):
    """``ztc ARGS`` as an operator runs it: its own interpreter, ``settings`` in its environment."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, **settings_env(settings))
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "services.ztc.cli", *args],
        env=env,
        cwd=config.ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- the benchmarks -------------------------------------------------------------------------------
def run_bench(script: str, *args: str, timeout: float = 120, env: dict | None = None):
    """``bench/<script> ARGS`` as bench/README.md runs it (from the repository root, in its own
    interpreter; ``env``: its whole environment, this process's if None), its output captured."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(config.ROOT / "bench" / script), *args],
        cwd=config.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def process_cancelled(
    business_key,
    reason: str,
    by: str,
    *,
    process_id: str = "proposal",
    instance_id: str = "inst-1",
    at=None,
    members=(),
    payload=None,
) -> dict:
    """``process.cancelled`` as the engine publishes it (``shared.messaging.outbox.event_body``): an
    instance of ``process_id`` keyed ``business_key`` (or none: its id is the subject) cancelled by
    ``by`` for ``reason``, at ``at`` (default now); ``payload`` overrides or adds payload fields
    (a test of a malformed one spoils them here)."""
    from shared import contracts
    from shared.messaging import outbox

    body = outbox.event_body(
        contracts.PROCESS_CANCELLED,
        f"cancelled:{instance_id}",
        business_key or instance_id,
        members=list(members),
        payload={
            "instance_id": instance_id,
            "process_id": process_id,
            "business_key": business_key,
            "reason": reason,
            "by": by,
            **(payload or {}),
        },
    )
    if at is not None:
        body["occurred_at"] = at.isoformat()
    return body


def conforms(schema, data, where="answer"):
    """What a route answers is what its OpenAPI response schema documents (the schemas are
    documentation only, so a test holds them to the real answers): every key of ``data`` is a
    field of ``schema`` (nested ones too) and loads as its type."""
    assert isinstance(data, dict), where
    unknown = set(data) - set(schema.fields)
    assert not unknown, f"{where}: {sorted(unknown)} not in {type(schema).__name__}"
    from marshmallow import fields

    for name, value in data.items():
        field = schema.fields[name]
        if isinstance(field, fields.Nested) and value is not None:
            for i, item in enumerate(value if field.many else [value]):
                conforms(field.schema, item, f"{where}.{name}[{i}]")
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            for i, item in enumerate(value):
                conforms(field.inner.schema, item, f"{where}.{name}[{i}]")
        else:
            field.deserialize(value, name, data)  # raises if the type or a null is not allowed


def members_directory_lacks(users: list[str]) -> list[str]:
    """Those of ``users`` the seeded members directory (``deploy/seed/members.yaml``) does not know:
    what the evaluation service answers the assignment service's jobs, for tests that run the jobs
    without it."""
    from shared.names import seeded_members

    known = seeded_members()
    return [user for user in users if user not in known]
