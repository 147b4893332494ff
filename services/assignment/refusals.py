"""A department's refused command, told back to the unit that sent it.

The dead letter (``ztc.dead``, with its reason) is the operators' copy; departments cannot read it.
So a refusal is also published, through the outbox, on the sending unit's own queue as
``<unit>.command.refused`` (:class:`shared.contracts.UnitRefusalSchema`), carrying the command's
``correlation_id`` and ``message_id``, the kind of refusal and why in words.

Only the unit the broker vouches for hears it (the AMQP ``user_id``'s unit, never the routing key's
or the body's): a command sent under another unit's key is refused, and told to its sender, not to
the unit it named. A message from no unit's user (or none) has nobody to tell; the dead letter is all.
"""

from __future__ import annotations

import uuid

from shared import clock, contracts
from shared.errors import ZtcError
from shared.validation import made
from shared.messaging import poison

from .unit_of_work import AssignmentUnitOfWork

# A 4xx code outside the refusal kinds a unit is told about, as the nearest one.
_NEAREST_KIND = {"unauthenticated": "forbidden"}


def refusal_of(exc: BaseException, routing_key: str, sender, ids: dict | None) -> dict | None:
    """The refusal to tell the sending unit about ``exc``, or None: when ``exc`` is not a refusal (a
    failure worth another attempt) or the sender is no unit's broker user."""
    if getattr(sender, "kind", None) != "unit" or not sender.name:
        return None
    if poison.classify(exc).kind != poison.REFUSAL:
        return None
    kind, message, details = _explain(exc)
    ids = ids or {}
    return contracts.UnitRefusalSchema().load(
        {
            "event": contracts.UNIT_COMMAND_REFUSED,
            "event_id": f"refused-{uuid.uuid4()}",
            "at": clock.now().isoformat(),
            "unit": sender.name,
            "command": routing_key or "",
            "correlation_id": ids.get("correlation_id"),
            "message_id": ids.get("message_id"),
            "kind": kind,
            "message": message,
            "details": details,
        }
    )


def _explain(exc: BaseException) -> tuple[str, str, dict]:
    from marshmallow import ValidationError

    inner = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps what the driver raised
    if isinstance(inner, ZtcError):
        kind = inner.code if inner.code in contracts.REFUSAL_KINDS else _NEAREST_KIND.get(inner.code, "invalid_input")
        return kind, inner.message, _jsonable(inner.details)
    if isinstance(inner, ValidationError):
        return "invalid_input", "the command is not valid", _jsonable(inner.messages)
    # A value the database can never hold (too long, out of range, a lone surrogate).
    return "invalid_input", f"the command holds a value that cannot be stored: {type(inner).__name__}", {}


def _jsonable(details) -> dict:
    import json

    if not isinstance(details, dict):
        return {"errors": str(details)}
    return json.loads(json.dumps(details, default=str))


def tell(uow: AssignmentUnitOfWork, refusal: dict) -> bool:
    """Publish ``refusal`` to its unit's queue once the caller's transaction commits. False, and
    nothing published, when the unit is not in the directory: it has no queue (the refusal would only
    become a second dead letter)."""
    if uow.assignments.unit(refusal["unit"]) is None:
        return False
    body = made(contracts.UnitRefusalSchema).dump(refusal)
    uow.publish_to_unit(refusal["unit"], contracts.UNIT_COMMAND_REFUSED, body)
    return True
