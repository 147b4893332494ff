"""RabbitMQ's management API, as operators need it: the ``ztc.*`` queues of our vhost.

Settings: ``ZTC_RABBIT_MANAGEMENT_URL`` (default ``http://guest:guest@127.0.0.1:15672``, the
credentials in the URL: for the services the operator's, tagged ``monitoring``); the vhost is the
one in ``ZTC_AMQP_URI``; ``https://`` is checked against ``ZTC_AMQP_CA_FILE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from shared import clock, config, contracts
from shared.errors import ZtcError

from . import identity

TIMEOUT = 10


class ManagementUnavailable(ZtcError):
    status = 503
    code = "management_unavailable"


def vhost_of(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _api(settings: config.Settings) -> tuple[str, tuple[str, str] | None]:
    """(base URL without credentials, (user, password)): the URL's credentials; without any, the
    operator's (``ZTC_BUS_PASSWORD_OPERATOR``, a user tagged monitoring), else none."""
    parts = urlsplit(settings.management_url)
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    passwords = getattr(settings, "bus_passwords", {}) or {}
    if auth is None and passwords.get("operator"):
        from .identity import operator_user

        auth = (operator_user(settings), passwords["operator"])
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/api", "", "")), auth


def _call(settings: config.Settings, method: str, path: str, **kwargs: Any) -> Any:  # the API's decoded JSON
    base, auth = _api(settings)
    try:
        resp = requests.request(
            method,
            base + path,
            auth=auth,
            timeout=TIMEOUT,
            verify=getattr(settings, "amqp_ca_file", None) or True,
            **kwargs,
        )
    except requests.RequestException as exc:
        raise ManagementUnavailable(f"RabbitMQ's management API at {base} did not answer: {exc}") from None
    if resp.status_code >= 400:
        raise ManagementUnavailable(
            f"RabbitMQ's management API answered {resp.status_code} for {path}: {resp.text[:300]}"
        )
    return resp.json()


def _age_seconds(timestamp: object, now: datetime) -> float | None:
    if timestamp in (None, ""):
        return None
    if isinstance(timestamp, (int, float)):
        at = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    else:
        try:
            at = clock.as_utc(datetime.fromisoformat(str(timestamp)))
        except ValueError:
            return None
    return max(0.0, round((now - at).total_seconds(), 3))


def peek_head(settings: config.Settings, queue: str) -> dict[str, Any] | None:
    """The message at the head of ``queue``, given straight back (``ack_requeue_true``): it keeps
    its place, only its redelivered flag is set."""
    vhost = quote(vhost_of(settings.amqp_uri), safe="")
    got = _call(
        settings,
        "POST",
        f"/queues/{vhost}/{quote(queue, safe='')}/get",
        json={"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 2000},
    )
    return got[0] if got else None


def _exact_counts(amqp_uri: str, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """{queue: (ready, consumers)} asked of each queue with a passive declare."""
    from kombu.connection import Connection

    out: dict[str, tuple[int, int]] = {}
    try:
        from shared import config

        with Connection(amqp_uri, connect_timeout=5, ssl=config.amqp_ssl(amqp_uri)) as conn:
            for name in names:
                channel = conn.channel()
                try:
                    _, ready, consumers = channel.queue_declare(queue=name, passive=True)
                    out[name] = (ready, consumers)
                except Exception:  # gone meanwhile: keep the API's figures
                    pass
                finally:
                    try:
                        channel.close()
                    except Exception:  # the broker closed it already
                        pass
    except Exception:  # the broker is not reachable over AMQP: the API's figures will do
        return {}
    return out


def queues(settings: config.Settings, peek: bool = True) -> list[dict[str, Any]]:
    """Every ``ztc.*`` queue: depth, ready, unacked, consumers, age of the oldest message, and how
    many dead letters came from it."""
    vhost = quote(vhost_of(settings.amqp_uri), safe="")
    rows = _call(settings, "GET", f"/queues/{vhost}")
    now = clock.now()
    out = []
    rows = [q for q in sorted(rows, key=lambda r: r["name"]) if q["name"].startswith("ztc.")]
    exact = _exact_counts(identity.operator_uri(settings), [q["name"] for q in rows])
    for q in rows:
        # The management API's figures are sampled every few seconds; ready and consumers are
        # asked of the queue itself (a passive declare), unacked only the API knows.
        ready, consumers = exact.get(q["name"], (q.get("messages_ready", 0) or 0, q.get("consumers", 0) or 0))
        q = dict(q, messages=ready + (q.get("messages_unacknowledged", 0) or 0), consumers=consumers)
        age, age_from = _age_seconds(q.get("head_message_timestamp"), now), "head_message_timestamp"
        if age is None and peek and ready:
            head = peek_head(settings, q["name"])
            props = (head or {}).get("properties") or {}
            stamp = props.get("timestamp") or (props.get("headers") or {}).get("x-ztc-dead-at")
            age, age_from = _age_seconds(stamp, now), "peek"
        out.append(
            {
                "name": q["name"],
                "messages": q.get("messages", 0) or 0,
                "ready": ready,
                "unacked": q.get("messages_unacknowledged", 0) or 0,
                "consumers": q.get("consumers", 0) or 0,
                "oldest_age_seconds": age,
                "oldest_age_from": age_from if age is not None else None,
                "dead_letters": 0,
            }
        )
    dead = next((q for q in out if q["name"] == contracts.DEAD_QUEUE), None)
    if dead and dead["messages"]:
        from .deadletter import box

        counts = box(settings).counts_by_queue() if dead["ready"] <= 5000 else {}
        for q in out:
            q["dead_letters"] = counts.get(q["name"], 0)
    return out


def overview(settings: config.Settings) -> dict[str, Any]:
    rows = queues(settings)
    dead = next((q for q in rows if q["name"] == contracts.DEAD_QUEUE), None)
    return {"vhost": vhost_of(settings.amqp_uri), "queues": rows, "dead_letters_total": dead["messages"] if dead else 0}


__all__ = ["ManagementUnavailable", "overview", "peek_head", "queues", "vhost_of"]
