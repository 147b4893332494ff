"""Errors every service raises and every client understands.

They cross nameko RPC as themselves (``deserialize_to_instance``), so the gateway can map each to
an HTTP status without parsing messages. Arguments stay JSON-friendly: a message and a dict, which
crosses as JSON so its numbers and booleans arrive as they were raised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from nameko.exceptions import deserialize_to_instance


# Over nameko RPC an exception travels as its ``args``, each made "safe for serialization": every
# number, boolean and null in them becomes a string ("False" reads as true). The details therefore
# cross as one JSON text with this prefix and are decoded on the other side, as they were raised.
_DETAILS_JSON = "ztc-details:"


class ZtcError(Exception):
    status = 500
    code = "error"

    def __init__(self, message: str = "", details: Mapping[str, object] | Sequence[object] | str | None = None) -> None:
        if isinstance(details, str) and details.startswith(_DETAILS_JSON):
            details = json.loads(details[len(_DETAILS_JSON) :])
        kept: Mapping[str, object] | Sequence[object] = details or {}
        super().__init__(message, _DETAILS_JSON + json.dumps(kept, ensure_ascii=False, default=str))
        self.message = message
        self.details = kept

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "details": self.details}


@deserialize_to_instance
class InvalidInput(ZtcError):
    """Input that does not fit its schema; ``details`` maps each field to its messages."""

    status, code = 400, "invalid_input"


@deserialize_to_instance
class Unauthenticated(ZtcError):
    status, code = 401, "unauthenticated"


@deserialize_to_instance
class Forbidden(ZtcError):
    status, code = 403, "forbidden"


@deserialize_to_instance
class NotFound(ZtcError):
    status, code = 404, "not_found"


@deserialize_to_instance
class Conflict(ZtcError):
    status, code = 409, "conflict"


@deserialize_to_instance
class TooLate(ZtcError):
    """A request that had to come before a deadline and came after it (an extension asked after the
    reply was due, an appeal after its window): 422, ``details`` name the deadline and when it ended."""

    status, code = 422, "too_late"


class KeyReused(ZtcError):
    """An ``Idempotency-Key`` a caller already used for another request (another path or body):
    422, naming when it was first used. Raised by the gateway only: it never crosses the bus."""

    status, code = 422, "idempotency_key_reused"


class TooManyRequests(ZtcError):
    """A client or a venue over its limit of public submissions; ``details['retry_after_seconds']``
    says when the next one is taken. Raised by the gateway only: it never crosses the bus."""

    status, code = 429, "too_many_requests"


@deserialize_to_instance
class DiagramRefused(ZtcError):
    """A diagram was refused; ``details['problems']`` lists each problem."""

    status, code = 422, "diagram_refused"


class BusinessError(Exception):
    """Raised by a job operation for an outcome the diagram can catch on an error boundary event."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


# The refusals: what a caller is answered with (or a message is dead-lettered for) because of what it
# asked, the service working as it should. Entrypoints expect them, so a log has one line for each,
# not the traceback of a failure (shared.logs.ExpectedRefusals).
REFUSALS: tuple[type[ZtcError], ...] = (
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    TooLate,
    TooManyRequests,
    DiagramRefused,
)
