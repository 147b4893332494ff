"""Dead letters with reasons.

RabbitMQ's own dead-lettering records where a message died, not why. We publish a copy to the
dead-letter exchange ourselves, with the reason in a header, and ack the original only after the
broker confirmed the copy: a message is never dropped without a trace.
"""

from __future__ import annotations

import builtins
import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from nameko.extensions import SharedExtension

from shared import clock, contracts

from . import identity, poison
from .topology import DEAD, connect

if TYPE_CHECKING:
    from kombu.message import Message
    from kombu.messaging import Producer

    from shared.config import Settings

from kombu.connection import Connection

log = logging.getLogger(__name__)


def publish_dead_letter(
    producer: Producer,
    message: Message,
    reason: str,
    source_queue: str,
    kind: str = poison.REFUSED,
    attempts: int | None = None,
    sender: str | None = None,
) -> None:
    """``sender``: the broker user that first sent ``message`` (kept in ``x-ztc-sender``, so a
    replay by the operator still acts for it)."""
    exchange, routing_key = poison.origin(message)
    headers = dict(message.headers) if isinstance(message.headers, dict) else {}
    headers.pop(poison.DELIVERY_COUNT_HEADER, None)
    headers.pop(identity.SENDER_HEADER, None)
    if sender:
        headers[identity.SENDER_HEADER] = sender
    headers.update(
        {
            contracts.REASON_HEADER: reason[:2000],
            poison.REASON_KIND_HEADER: kind,
            "x-ztc-original-exchange": exchange,
            "x-ztc-original-routing-key": routing_key,
            "x-ztc-original-queue": source_queue,
            "x-ztc-dead-at": clock.now().isoformat(),
            DEAD_ID_HEADER: uuid.uuid4().hex[:12],
        }
    )
    if attempts is not None:
        headers[poison.ATTEMPTS_HEADER] = attempts
    producer.publish(
        _raw(message),
        exchange=DEAD,
        routing_key=routing_key or "unknown",
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=2,
        retry=False,
        **kept_properties(message),
    )


def _raw(message: Message) -> bytes:
    body = message.body
    return body if isinstance(body, bytes) else str(body).encode("utf-8", "surrogateescape")


# The properties a message sent back to its queue, dead-lettered or replayed keeps (user_id is left
# out: the broker checks it against the connection's user, and ours is not the publisher's; the
# first sender goes into the x-ztc-sender header instead, see identity.py).
_KEPT_PROPERTIES = ("correlation_id", "reply_to", "message_id", "timestamp", "type", "app_id", "priority")


def kept_properties(message: Message, expiration: bool = False) -> dict[str, Any]:
    """``message``'s own AMQP properties to publish a copy with (``expiration`` only for a copy sent
    back to its queue: a dead letter does not expire)."""
    props = message.properties if isinstance(message.properties, dict) else {}
    kept = {name: props[name] for name in _KEPT_PROPERTIES if props.get(name) is not None}
    if expiration and props.get("expiration") is not None:
        try:  # milliseconds on the wire; kombu takes seconds
            kept["expiration"] = int(props["expiration"]) / 1000
        except (TypeError, ValueError):
            pass
    return kept


def publish_again(
    producer: Producer,
    message: Message,
    source_queue: str,
    attempts: int,
    sender: str | None = None,
    own_user: str | None = None,
) -> None:
    """``message`` again at the tail of ``source_queue`` (through the default exchange), unchanged but
    for ``x-ztc-attempts`` = ``attempts`` and, the first time, where it was first published. Sent as
    ``own_user`` (the consuming service) with its first ``sender`` in ``x-ztc-sender``, so the
    service still knows who sent it."""
    exchange, routing_key = poison.origin(message)
    headers = dict(message.headers) if isinstance(message.headers, dict) else {}
    headers.pop(poison.DELIVERY_COUNT_HEADER, None)
    headers.pop(identity.SENDER_HEADER, None)
    headers.update(
        {
            poison.ATTEMPTS_HEADER: attempts,
            poison.ORIGINAL_EXCHANGE_HEADER: exchange,
            poison.ORIGINAL_ROUTING_KEY_HEADER: routing_key,
        }
    )
    properties = kept_properties(message, expiration=True)
    if sender:
        headers[identity.SENDER_HEADER] = sender
    if own_user:
        properties["user_id"] = own_user
    producer.publish(
        _raw(message),
        exchange="",
        routing_key=source_queue,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=2,
        retry=False,
        **properties,
    )


def _unknown(ids: Collection[str] | None, chosen: builtins.list[tuple[Any, dict[str, Any]]]) -> builtins.list[str]:
    """The ``ids`` asked for that no chosen letter has, in the order given."""
    found = {letter["id"] for _, letter in chosen}
    return [letter_id for letter_id in dict.fromkeys(ids or ()) if letter_id not in found]


class DeadLetters(SharedExtension):  # type: ignore[misc]  # nameko ships no types
    """Publishes dead letters for every consumer of a container, on a connection of its own."""

    def setup(self) -> None:
        from shared import config

        self.amqp_uri = self.container.config["AMQP_URI"]
        self.own_user = identity.user_of(self.amqp_uri)
        self.settings = self.container.config.get("ZTC_SETTINGS") or config.load()
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def _get_producer(self) -> Producer:
        if self._producer is None:
            self._connection = connect(self.amqp_uri)
            self._producer = self._connection.Producer()
        return self._producer

    def _sender(self, message: Message) -> str | None:
        try:
            return identity.first_sender_user(message, self.settings, self.own_user)
        except Exception:  # never let the bookkeeping stop a dead letter
            log.exception("could not tell who sent a message")
            return None

    def _reset(self) -> None:
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # already gone
            pass
        self._connection = self._producer = None

    def stop(self) -> None:
        self._reset()

    kill = stop

    def _publish(self, what: str, publish: Callable[[Producer], None]) -> bool:
        with self._lock:
            try:
                publish(self._get_producer())
                return True
            except Exception as exc:  # the broker went away, or refused: the caller keeps the message
                log.error("could not %s: %s", what, exc)
                self._reset()
                return False

    def dead_letter(
        self, message: Message, reason: str, source_queue: str, kind: str = poison.REFUSED, attempts: int | None = None
    ) -> bool:
        """Dead-letter ``message`` and ack it. False (message left unacked) if the copy failed."""
        if not self._publish(
            f"dead-letter a message from {source_queue} ({reason})",
            lambda producer: publish_dead_letter(
                producer, message, reason, source_queue, kind, attempts, self._sender(message)
            ),
        ):
            return False
        log.warning(
            "dead-lettered a message from %s (%s%s): %s",
            source_queue,
            kind,
            f", {attempts} attempt(s)" if attempts else "",
            reason,
        )
        from shared import metrics

        metrics.DEAD_LETTERED.labels(self.container.service_name, source_queue, kind).inc()
        try:
            message.ack()
        except Exception:  # the channel closed: the broker redelivers and we dead-letter again
            pass
        return True

    def send_back(self, message: Message, source_queue: str, attempts: int) -> bool:
        """Put ``message`` back at the tail of ``source_queue`` with its attempts counted, then ack
        this delivery. False (message left unacked) if the copy failed."""
        if not self._publish(
            f"send a message back to {source_queue}",
            lambda producer: publish_again(
                producer, message, source_queue, attempts, self._sender(message), self.own_user
            ),
        ):
            return False
        try:
            message.ack()
        except Exception:  # the channel closed: the broker redelivers this one too (a second copy)
            pass
        return True


# -- the operators' view: inspect, replay, discard ------------------------------------------------
DEAD_ID_HEADER = "x-ztc-dead-id"
_OURS = (
    contracts.REASON_HEADER,
    poison.REASON_KIND_HEADER,
    poison.ATTEMPTS_HEADER,
    "x-ztc-original-exchange",
    "x-ztc-original-routing-key",
    "x-ztc-original-queue",
    "x-ztc-dead-at",
    DEAD_ID_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)
BROWSE_LIMIT = 10000


def _text(value: object) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def describe(message: Message) -> dict[str, Any]:
    """What an operator needs to know about a dead letter, from the message's own headers.

    A letter we dead-lettered carries ``x-ztc-*`` headers (where it came from, why); one that
    RabbitMQ dead-lettered (rejected, expired) carries ``x-death``, and the reason is RabbitMQ's."""
    headers = _text(dict(message.headers or {}))
    delivery = message.delivery_info or {}
    deaths = headers.get("x-death") or []
    first = deaths[-1] if deaths else {}
    routing_keys = first.get("routing-keys") or []
    raw = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    stable = {k: v for k, v in headers.items() if k != "x-delivery-count"}
    ident = (
        headers.get(DEAD_ID_HEADER)
        or hashlib.sha1(raw + json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:12]
    )
    try:
        body = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return {
        "id": ident,
        "reason": headers.get(contracts.REASON_HEADER) or (f"rabbitmq: {first.get('reason')}" if first else "unknown"),
        "reason_kind": headers.get(poison.REASON_KIND_HEADER) or ("rabbitmq" if first else "unknown"),
        "attempts": headers.get(poison.ATTEMPTS_HEADER),
        "original_exchange": headers.get("x-ztc-original-exchange", first.get("exchange", "")),
        "original_routing_key": headers.get(
            "x-ztc-original-routing-key", routing_keys[0] if routing_keys else delivery.get("routing_key", "")
        ),
        "original_queue": headers.get("x-ztc-original-queue", first.get("queue", "")),
        "dead_at": headers.get("x-ztc-dead-at") or _text(first.get("time")),
        "x_death": deaths,
        "headers": {k: v for k, v in headers.items() if k not in _OURS},
        "content_type": message.content_type,
        "body": body,
        "size": len(raw),
    }


def _matches(letter: dict[str, Any], ids: Collection[str] | None, queue: str | None, routing_key: str | None) -> bool:
    if ids and letter["id"] not in ids:
        return False
    if queue and letter["original_queue"] != queue:
        return False
    if routing_key and not fnmatch.fnmatchcase(letter["original_routing_key"], routing_key):
        return False
    return True


class DeadLetterBox:
    """The dead-letter queue ``ztc.dead`` as operators see it.

    Reading takes every message off the queue *unacknowledged* and gives back all it did not act
    on when it closes its channel, so inspecting loses nothing (while one operator reads, the
    letters are invisible to another for that moment). Replaying publishes a letter, with
    confirms, back to the exchange and routing key it was first sent to, and only then acks it.
    Discarding acks it and first appends the whole letter with the operator's reason to
    ``record_file`` (JSON lines), so even a discarded letter can be read again.

    On a quorum queue a message given back counts as a delivery, and a broker with a delivery
    limit (RabbitMQ 4 sets 20 by default) would drop a letter read that many times. There each
    letter read and not acted on is put back as a fresh copy (published with confirms, then the
    read one acked): reading any number of times loses nothing; a crash in between leaves a
    second copy rather than none."""

    def __init__(
        self, amqp_uri: str, record_file: str | os.PathLike[str] | None = None, queue_type: str = "classic"
    ) -> None:
        self.amqp_uri = amqp_uri
        self.record_file = record_file
        self.queue_type = queue_type

    @contextlib.contextmanager
    def _browse(
        self, limit: int = BROWSE_LIMIT
    ) -> Iterator[tuple[Connection, builtins.list[tuple[Message, dict[str, Any]]]]]:

        from .topology import dead_letter_queue

        from shared import config

        with Connection(self.amqp_uri, connect_timeout=5, ssl=config.amqp_ssl(self.amqp_uri)) as conn:
            channel = conn.channel()
            queue = dead_letter_queue(self.queue_type)(channel)
            queue.declare()
            # Only the letters there now: on a quorum queue the copies put back join the tail.
            _, present, _ = channel.queue_declare(queue=queue.name, passive=True)
            limit = min(limit, present)
            held: builtins.list[tuple[Message, dict[str, Any]]] = []
            try:
                while len(held) < limit:
                    message = queue.get(
                        no_ack=False,
                        accept=["application/json", "text/plain", "application/octet-stream", "application/data"],
                    )
                    if message is None:
                        break
                    held.append((message, describe(message)))
                yield conn, held
            finally:
                left = [m for m, _ in held if not m.acknowledged]
                if self.queue_type == "quorum" and left:
                    self._put_back(left)
                for message in left:
                    if not message.acknowledged:
                        try:
                            message.requeue()
                        except Exception:  # closing the channel gives it back anyway
                            pass
                channel.close()

    def _put_back(self, messages: Iterable[Message]) -> None:
        """Quorum queue: a fresh copy of each letter to the dead-letter queue, then ack the read one."""
        publisher = connect(self.amqp_uri)
        try:
            producer = publisher.Producer()
            for message in messages:
                headers = {k: v for k, v in (message.headers or {}).items() if k != "x-delivery-count"}
                producer.publish(
                    message.body,
                    exchange="",
                    routing_key=contracts.DEAD_QUEUE,
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=2,
                    retry=False,
                    **kept_properties(message),
                )
                message.ack()
        except Exception as exc:  # the rest are requeued as usual
            log.warning("putting dead letters back as fresh copies failed; requeued instead: %s", exc)
        finally:
            publisher.release()

    def list(
        self, queue: str | None = None, routing_key: str | None = None, ids: Collection[str] | None = None
    ) -> builtins.list[dict[str, Any]]:
        with self._browse() as (_, held):
            return [letter for _, letter in held if _matches(letter, ids, queue, routing_key)]

    def show(self, letter_id: str) -> dict[str, Any]:
        from shared.errors import NotFound

        found = self.list(ids=[letter_id])
        if not found:
            raise NotFound(f"no dead letter {letter_id} in {contracts.DEAD_QUEUE}")
        return found[0]

    def replay(
        self,
        ids: Collection[str] | None = None,
        queue: str | None = None,
        routing_key: str | None = None,
        everything: bool = False,
        dry_run: bool = False,
        actor: str = "operator",
    ) -> dict[str, Any]:
        """Send matching letters back where they came from. Returns what was (or would be) sent,
        and ``unknown``: the ``ids`` no dead letter has (a mistyped id is not done)."""
        _require_selection(ids, queue, routing_key, everything)
        done, failed = [], []
        with self._browse() as (conn, held):
            chosen = [(m, letter) for m, letter in held if _matches(letter, ids, queue, routing_key)]
            unknown = _unknown(ids, chosen)
            if dry_run:
                matched = [_summary(l) for _, l in chosen]
                return {"dry_run": True, "matched": matched, "replayed": [], "failed": [], "unknown": unknown}
            publisher = connect(self.amqp_uri)
            try:
                producer = publisher.Producer()
                for message, letter in chosen:
                    exchange, key = letter["original_exchange"], letter["original_routing_key"]
                    if not exchange and letter["original_queue"]:
                        key = letter["original_queue"]  # sent straight to a queue: send it there again
                    headers = dict(letter["headers"])
                    first = (message.properties or {}).get("user_id")
                    if identity.SENDER_HEADER not in headers and first:
                        headers[identity.SENDER_HEADER] = first  # a letter the broker dead-lettered
                    headers.update(
                        {
                            "x-ztc-replayed-at": clock.now().isoformat(),
                            "x-ztc-replayed-by": actor,
                            "x-ztc-replayed-from": letter["id"],
                            "x-ztc-replay-count": int(headers.get("x-ztc-replay-count") or 0) + 1,
                        }
                    )
                    try:
                        producer.publish(
                            message.body,
                            exchange=exchange,
                            routing_key=key,
                            headers=headers,
                            content_type=message.content_type,
                            content_encoding=message.content_encoding,
                            delivery_mode=2,
                            retry=False,
                            user_id=identity.user_of(self.amqp_uri),
                            **kept_properties(message),
                        )
                    except Exception as exc:  # left in the dead-letter queue; say why
                        failed.append({**_summary(letter), "error": f"{type(exc).__name__}: {exc}"})
                        publisher.release()
                        publisher = connect(self.amqp_uri)
                        producer = publisher.Producer()
                        continue
                    message.ack()
                    log.warning(
                        "dead letter %s replayed to %s/%s by %s (it died: %s)",
                        letter["id"],
                        exchange or "(default)",
                        key,
                        actor,
                        letter["reason"],
                    )
                    done.append(_summary(letter))
            finally:
                publisher.release()
        return {"dry_run": False, "matched": done + failed, "replayed": done, "failed": failed, "unknown": unknown}

    def discard(
        self,
        reason: str,
        ids: Collection[str] | None = None,
        queue: str | None = None,
        routing_key: str | None = None,
        everything: bool = False,
        dry_run: bool = False,
        actor: str = "operator",
    ) -> dict[str, Any]:
        """Remove matching letters for good, recording each with ``reason`` first."""
        from shared.errors import InvalidInput

        if not (reason or "").strip():
            raise InvalidInput(
                "a reason is required to discard dead letters", {"reason": ["Missing data for required field."]}
            )
        _require_selection(ids, queue, routing_key, everything)
        with self._browse() as (_, held):
            chosen = [(m, letter) for m, letter in held if _matches(letter, ids, queue, routing_key)]
            unknown = _unknown(ids, chosen)
            if dry_run:
                return {
                    "dry_run": True,
                    "matched": [_summary(l) for _, l in chosen],
                    "discarded": [],
                    "unknown": unknown,
                }
            done = []
            for message, letter in chosen:
                self._record({"discarded_at": clock.now().isoformat(), "by": actor, "reason": reason, "letter": letter})
                message.ack()
                log.warning(
                    "dead letter %s discarded by %s: %s (it died: %s)", letter["id"], actor, reason, letter["reason"]
                )
                done.append(_summary(letter))
        return {"dry_run": False, "matched": done, "discarded": done, "reason": reason, "unknown": unknown}

    def _record(self, entry: Mapping[str, object]) -> None:
        if self.record_file is None:
            return
        from pathlib import Path

        path = Path(self.record_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def counts_by_queue(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for letter in self.list():
            counts[letter["original_queue"]] = counts.get(letter["original_queue"], 0) + 1
        return counts


def _summary(letter: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: letter[k] for k in ("id", "reason", "original_exchange", "original_routing_key", "original_queue", "dead_at")
    }


def _require_selection(
    ids: Collection[str] | None, queue: str | None, routing_key: str | None, everything: bool
) -> None:
    from shared.errors import InvalidInput

    if not (ids or queue or routing_key or everything):
        raise InvalidInput(
            "say which dead letters: ids, a queue, a routing key, or all",
            {"ids": ["Give ids, queue, routing_key or all."]},
        )


def box(settings: Settings) -> DeadLetterBox:
    """The dead-letter box of these settings, read and replayed as the operator's broker user
    (``ZTC_OPERATOR_AMQP_URI``); discards are recorded under the var directory."""
    return DeadLetterBox(
        identity.operator_uri(settings),
        settings.var_dir / "dead-letters-discarded.jsonl",
        getattr(settings, "queue_type", "classic"),
    )
