"""Poison messages: what a consumer does with a message it could not handle.

The pure part of the consumers' failure handling (``entrypoints.py`` does the acking, dead-lettering
and republishing):

- :func:`classify` sorts an exception into a **refusal** (the message itself can never succeed: a
  4xx ``ZtcError``, input that fails its schema, a value the database cannot hold — numeric
  overflow, a string too long, a lone surrogate, a constraint it breaks), a **conflict** (an
  ``IntegrityError``: most often a second delivery racing the first, which the next attempt sees as
  done; if it happens again it is a refusal) or a **failure** worth another attempt (a lost database
  connection, a broker hiccup, or anything unexpected).
- :func:`attempt_of` counts the attempts a message has had: our ``x-ztc-attempts`` header (set when
  a failed message is sent back to its queue) plus, on a quorum queue, the broker's
  ``x-delivery-count`` (deliveries that ended without our counting them: a process killed mid-way).
- :func:`decide` says whether to try again or dead-letter; :func:`retry_pause` how long to wait.

A dead letter says why (``x-ztc-reason``), what kind of death it was (``x-ztc-reason-kind``, one of
:data:`KINDS`) and after how many attempts (``x-ztc-attempts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kombu.message import Message

ATTEMPTS_HEADER = "x-ztc-attempts"
REASON_KIND_HEADER = "x-ztc-reason-kind"
DELIVERY_COUNT_HEADER = "x-delivery-count"  # set by RabbitMQ on a quorum queue's redeliveries
ORIGINAL_EXCHANGE_HEADER = "x-ztc-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-ztc-original-routing-key"
# A quorum queue's own limit (the ``delivery-limit`` policy): a message delivered this often without being
# settled — one that kills the process before it can be counted — goes to ztc.dead by the broker's
# hand. Above any sensible ZTC_MESSAGE_MAX_ATTEMPTS, so our counted, reasoned dead letter comes first.
QUORUM_DELIVERY_LIMIT = 20

# Why a message died.
UNDECODABLE = "undecodable"  # not readable in its content type (not JSON, a type we do not accept)
TOO_LARGE = "too_large"  # over ZTC_MESSAGE_MAX_BYTES, dead-lettered unread
MALFORMED = "malformed"  # readable, but not a message this queue takes (no reply_to, not a job...)
REFUSED = "refused"  # its handler refused it (invalid input, not found, a value the database cannot hold)
EXHAUSTED = "exhausted"  # failed every attempt
KINDS = (UNDECODABLE, TOO_LARGE, MALFORMED, REFUSED, EXHAUSTED)

# What a failure is.
REFUSAL = "refusal"
CONFLICT = "conflict"
FAILURE = "failure"

# What to do about it.
DEAD_LETTER = "dead_letter"
RETRY = "retry"


@dataclass(frozen=True)
class Verdict:
    kind: str  # REFUSAL, CONFLICT or FAILURE
    reason: str  # for the dead letter's x-ztc-reason and the log


def describe_exception(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _unwrap(exc: BaseException) -> BaseException:
    """SQLAlchemy wraps the driver's error (``StatementError.orig``); the driver's may be the cause."""
    from sqlalchemy.exc import DBAPIError, StatementError

    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig
    return exc


def classify(exc: BaseException) -> Verdict:
    """Sort ``exc`` (raised handling a message) into a refusal, a conflict or a failure."""
    from kombu.exceptions import OperationalError as KombuOperationalError
    from marshmallow import ValidationError
    from sqlalchemy import exc as sa

    from shared.errors import ZtcError

    inner = _unwrap(exc)
    if isinstance(inner, ZtcError):
        if inner.status < 500:
            reason = f"{inner.code}: {inner.message}" + (f": {inner.details}" if inner.details else "")
            return Verdict(REFUSAL, reason)
        return Verdict(FAILURE, describe_exception(inner))
    if isinstance(inner, ValidationError):
        return Verdict(REFUSAL, f"invalid_input: {inner.messages}")
    if isinstance(inner, sa.IntegrityError):
        return Verdict(CONFLICT, f"the database refused it: {describe_exception(inner.orig or inner)}")
    if isinstance(inner, sa.DataError):
        return Verdict(REFUSAL, f"the database cannot hold it: {describe_exception(inner.orig or inner)}")
    if isinstance(inner, (UnicodeError, OverflowError)):
        # A lone surrogate no database encoding takes; an integer past the column's (SQLite's) range.
        return Verdict(REFUSAL, f"the database cannot hold it: {describe_exception(inner)}")
    if isinstance(
        inner,
        (
            sa.OperationalError,
            sa.InterfaceError,
            sa.DisconnectionError,
            sa.TimeoutError,
            KombuOperationalError,
            OSError,
        ),
    ):
        return Verdict(FAILURE, f"transient: {describe_exception(inner)}")
    return Verdict(FAILURE, describe_exception(inner))


def _count(value: Any) -> int:  # a header's value: whatever its sender put there
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return min(max(number, 0), 1_000_000)


def attempt_of(headers: object) -> int:
    """Which attempt this delivery is (1 for the first): the attempts counted in ``x-ztc-attempts``
    plus the broker's ``x-delivery-count`` (quorum queues), plus this one. Garbage counts as 0."""
    headers = headers if isinstance(headers, dict) else {}
    return _count(headers.get(ATTEMPTS_HEADER)) + _count(headers.get(DELIVERY_COUNT_HEADER)) + 1


def decide(verdict: Verdict, attempt: int, max_attempts: int) -> str:
    """DEAD_LETTER or RETRY for a message that failed on its ``attempt``-th attempt."""
    if verdict.kind == REFUSAL:
        return DEAD_LETTER
    if verdict.kind == CONFLICT:
        return DEAD_LETTER if attempt >= min(2, max_attempts) else RETRY
    return DEAD_LETTER if attempt >= max_attempts else RETRY


def dead_reason(verdict: Verdict, attempt: int) -> tuple[str, str]:
    """The dead letter's kind and reason for a failure ``decide`` gave up on."""
    if verdict.kind == FAILURE:
        return EXHAUSTED, f"failed {attempt} attempt(s); last: {verdict.reason}"
    return REFUSED, verdict.reason


def retry_pause(attempt: int, first: float, longest: float) -> float:
    """The pause after the ``attempt``-th failed attempt: ``first``, doubling, at most ``longest``
    (long enough for a database restart to pass, never unbounded)."""
    if first <= 0:
        return 0.0
    return min(longest, first * 2.0 ** min(max(attempt - 1, 0), 30))


def origin(message: Message) -> tuple[str, str]:
    """The exchange and routing key ``message`` was first published with. A message we sent back to
    its queue (through the default exchange) carries them in headers; only those are trusted (the
    departments' users may not publish to the default exchange, see docs/unit-integration.md)."""
    delivery = message.delivery_info or {}
    exchange, key = delivery.get("exchange", "") or "", delivery.get("routing_key", "") or ""
    headers = message.headers if isinstance(message.headers, dict) else {}
    if exchange == "" and ATTEMPTS_HEADER in headers and ORIGINAL_ROUTING_KEY_HEADER in headers:
        return str(headers.get(ORIGINAL_EXCHANGE_HEADER) or ""), str(headers[ORIGINAL_ROUTING_KEY_HEADER])
    return exchange, key


def rpc_request_problem(
    body: object, properties: Mapping[str, Any] | None, headers: Mapping[str, Any] | None
) -> str | None:
    """Why a decoded message on an ``rpc-<service>`` queue is not a nameko RPC request that can be
    answered, or None. nameko 2.14 itself reads ``properties['reply_to']`` and
    ``properties['content_type']`` unguarded (a KeyError that kills the service) and ``body['args']``."""
    import kombu.serialization

    properties = properties or {}
    if not properties.get("reply_to"):
        return "an RPC request without reply_to: there is nobody to answer"
    if not properties.get("correlation_id"):
        return "an RPC request without correlation_id: its answer could not be matched"
    if properties.get("content_type") not in kombu.serialization.registry.type_to_name:
        return f"an RPC request in content type {properties.get('content_type')!r} cannot be answered"
    problem = rpc_payload_problem(body)
    if problem:
        return problem
    stack = (headers or {}).get("nameko.call_id_stack")
    if stack is not None and not (isinstance(stack, list) and all(isinstance(c, str) for c in stack)):
        return "an RPC request whose nameko.call_id_stack header is not a list of strings"
    return None


def rpc_payload_problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return f"not a nameko RPC payload: a JSON {type(body).__name__}, not an object with args and kwargs"
    if "args" not in body or "kwargs" not in body:
        return "not a nameko RPC payload: args or kwargs missing"
    if not isinstance(body["args"], list) or not isinstance(body["kwargs"], dict):
        return "not a nameko RPC payload: args must be a list and kwargs an object"
    return None
