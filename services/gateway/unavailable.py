"""Failures of what the gateway stands on, not of the request: the bus refused or reset the
connection an RPC call went out on, the gateway's own database was locked, out of pooled
connections or away, a service did not answer in time, or answered that its own database was.
They pass (a restart, a load peak), so the caller is told to try again — 503, or 504 for a reply
that did not come — with ``Retry-After`` and the request id, and the gateway logs them as such,
never as an internal error.

Nothing is half-done by such an answer: the gateway's own transaction is rolled back with its
worker, and a service commits a request's effects in one transaction or not at all. Only a request
the service may have received before its reply was lost (a reset after the publish, a 504) may
have been done; the creating routes take an ``Idempotency-Key``, with which a repeat answers what
the first made and creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from amqp.exceptions import AccessRefused, ConnectionError as AmqpConnectionError, RecoverableConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from sqlalchemy import exc as sa

# Seconds the answer's Retry-After asks a client to wait: a broker or database restart, or a
# load peak, is usually over by then.
RETRY_AFTER_SECONDS = 5

# A socket reset, refused or timed out under kombu (builtin ConnectionError and TimeoutError: not
# every OSError, a missing file is a bug).
# AccessRefused: the broker refused the login (a password changed under the gateway): it is not
# the request's fault, and the log line names it for the operator.
_BUS = (
    KombuOperationalError,
    AmqpConnectionError,
    RecoverableConnectionError,
    AccessRefused,
    ConnectionError,
    TimeoutError,
)
_DATABASE = (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, sa.TimeoutError)
# What a service's transient failure is called in the RemoteError it answers with.
_REMOTE_TRANSIENT = frozenset(
    {
        "OperationalError",
        "InterfaceError",
        "DisconnectionError",
        "TimeoutError",
        "ConnectionError",
        "ConnectionResetError",
        "BrokenPipeError",
        "RecoverableConnectionError",
    }
)
AGAIN = "try again; a creating request repeated with the same Idempotency-Key creates nothing twice"


@dataclass(frozen=True)
class Unavailable:
    status: int
    code: str
    message: str
    cause: str  # for the log line

    def body(self, request_id: str | None) -> dict:
        details = {"retry_after_seconds": RETRY_AFTER_SECONDS}
        if request_id:
            details["request_id"] = request_id
        return {"error": self.code, "message": self.message, "details": details}

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip()[:300]}"


def _remote_type(exc: RemoteError) -> str | None:
    """The failure's type name, through a service that passed on another's failure (intake's
    RemoteError of evaluation's OperationalError: ``RemoteError("RemoteError", "OperationalError ...")``)."""
    kind, value = exc.exc_type, exc.value
    while kind == "RemoteError" and isinstance(value, str) and value:
        kind, _, value = value.partition(" ")
    return kind


def classify(exc: BaseException) -> Unavailable | None:
    """The answer to ``exc`` if it is a transient failure of the bus, a database or a reply; None
    for anything else (a bug: 500; a service's own failure: 502)."""
    if isinstance(exc, RpcTimeout):
        return Unavailable(504, "gateway_timeout", f"a service did not answer in time; {AGAIN}", _cause(exc))
    if isinstance(exc, UnknownService):
        return Unavailable(503, "service_unavailable", "a service is not running; try again", _cause(exc))
    if isinstance(exc, RemoteError):
        if _remote_type(exc) in _REMOTE_TRANSIENT:
            return Unavailable(
                503, "service_unavailable", f"a service's database or bus is busy or away; {AGAIN}", _cause(exc)
            )
        return None
    if isinstance(exc, _DATABASE):
        return Unavailable(503, "service_unavailable", "the gateway's database is busy or away; try again", _cause(exc))
    if isinstance(exc, _BUS):
        return Unavailable(503, "service_unavailable", f"the message bus could not be reached; {AGAIN}", _cause(exc))
    return None
