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
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def management(method: str, url: str, patience: float = 90, **kwargs):
    """A call to the management API that waits while the broker is away: the broker is shared,
    and a test that restarts it (here, or another checkout's) leaves the API refusing for a few
    seconds. Setting up and removing a vhost is not what any test is about."""
    deadline = time.time() + patience
    while True:
        try:
            return requests.request(method, url, auth=RABBIT_AUTH, **kwargs)
        except requests.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(1)


@contextlib.contextmanager
def rabbit_vhost():
    name = f"ztc-test-{uuid.uuid4().hex[:10]}"
    management("PUT", f"{RABBIT_API}/vhosts/{name}", timeout=10).raise_for_status()
    management("PUT", f"{RABBIT_API}/permissions/{name}/guest", timeout=10,
                json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    try:
        yield name
    finally:
        management("DELETE", f"{RABBIT_API}/vhosts/{name}", timeout=30)


def queue_info(vhost: str, queue: str) -> dict:
    resp = requests.get(f"{RABBIT_API}/queues/{vhost}/{queue}", auth=RABBIT_AUTH, timeout=10)
    resp.raise_for_status()
    return resp.json()


def get_messages(vhost: str, queue: str, count: int = 50) -> list[dict]:
    """Take messages off a queue through the management API (they are not requeued)."""
    resp = requests.post(f"{RABBIT_API}/queues/{vhost}/{queue}/get", auth=RABBIT_AUTH, timeout=10,
                         json={"count": count, "ackmode": "ack_requeue_false", "encoding": "auto"})
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
            names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": f"{prefix}_%"}).scalars().all()
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp_path, vhost: str, database_url_template: str, **env):
    values = {
        "ZTC_VAR_DIR": str(tmp_path),
        "ZTC_AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "ZTC_DATABASE_URL": database_url_template,
        "ZTC_RELAY_INTERVAL_SECONDS": "0.1",
        "ZTC_JOB_BACKOFF_SECONDS": "0.05",
        "ZTC_JOB_BACKOFF_MAX_SECONDS": "0.2",
        "ZTC_JOB_MAX_ATTEMPTS": "3",
        "ZTC_MESSAGE_RETRY_PAUSE_SECONDS": "0.05",
        "ZTC_MESSAGE_RETRY_PAUSE_MAX_SECONDS": "0.5",
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
    }


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last value: {last!r})")


def read_bpmn(name: str) -> dict:
    path = config.ROOT / "bpmn" / name
    return {path.name: path.read_bytes()}


def publish(amqp_uri: str, exchange: str, routing_key: str, body, content_type="application/json",
            headers=None) -> None:
    """Publish one persistent message, with confirms, as a department system or a bug would."""
    from kombu import Connection, Exchange

    import json

    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish(body, exchange=Exchange(exchange, "topic", durable=True, passive=True),
                         routing_key=routing_key, content_type=content_type,
                         content_encoding="utf-8", headers=headers or {}, delivery_mode=2)


def ready_count(amqp_uri: str, queue: str) -> int:
    """Messages ready in ``queue`` now (exact: a passive declare asks the queue itself)."""
    from kombu import Connection

    with Connection(amqp_uri) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
        return count
