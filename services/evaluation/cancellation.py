"""A proposal's process cancelled by an operator: its rating round stops taking ratings, its appeal ends.

The engine publishes ``process.cancelled`` when an operator cancels a process instance (payload
:class:`~shared.contracts.ProcessCancelledSchema`). Evaluation keeps rating rounds and appeals for
proposals only (the ``proposal`` diagram's ``evaluation.*`` jobs), so only a cancelled ``proposal``
instance with a business key (the proposal's number) changes anything, and only in the proposal's
latest round (an older one is closed already: a newer round closes the one before it), and only if
that round was opened before the cancellation (a round of a new instance of the same proposal is not
this cancellation's):

- a round still open closes with outcome ``cancelled``: no ``not_given`` is recorded for the silent,
  no ``ratings_complete`` goes to the engine (the instance is gone) and no ``handling.rated`` is
  published; a later rating is refused (Conflict, naming the cancellation). The ratings given stay,
  but the round is not final, so the unit assessment does not count them;
- an ``appealable`` round whose appeal window is still open and not appealed: the window ends at
  the cancellation (``appeal_due`` moves to it; the original stays in ``cancelled``) and a later
  appeal is refused (Conflict, naming the cancellation). The round stays ``appealable``: its ratings
  were complete and still count in the unit assessment;
- an appeal lodged and not decided: its decision is ``cancelled`` (reason and who, as the operator
  gave them), since the committee's decision task is gone.

The round keeps the cancellation in ``cancelled``. Points already booked (authorship, an excellent
proposal, ...) are not revoked: the ledger is fed by events of what happened, and the cancellation
books nothing (the listener does not hand it to the ledger). Another process, an instance without
a business key, a number with no rating round, or a round already closed, decided or past its
window: nothing changes. Heard again, the event finds what it did and changes nothing more. A
malformed event is refused (``InvalidInput``: the listener dead-letters it, as it does any
malformed event on its queue) and nothing is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import clock, contracts
from shared.errors import InvalidInput
from shared.validation import load

from .models import RatingRound
from .unit_of_work import EvaluationUnitOfWork

PROPOSAL_PROCESS = "proposal"  # the process whose business keys are the numbers rated here
CANCELLED = "cancelled"  # a round's outcome, or an appeal's decision, once the process was cancelled


def concerns(body: object) -> bool:
    """Whether ``body`` is a ``process.cancelled`` event (which earns and costs no points)."""
    return isinstance(body, dict) and body.get("name") == contracts.PROCESS_CANCELLED


def hear(uow: EvaluationUnitOfWork, body: dict[str, Any]) -> dict[str, Any]:
    """Close what the cancelled proposal's latest round keeps open (see the module docstring).
    Returns ``{event_id, number, round, closed}``: ``closed`` is ``round`` (the open round closed),
    ``appeal_window`` or ``appeal`` (what ended), or None when nothing changed."""
    event = load(contracts.EventSchema, body, "the event")
    if event["name"] != contracts.PROCESS_CANCELLED:
        raise InvalidInput("not a process.cancelled event", {"name": [f"expected {contracts.PROCESS_CANCELLED}"]})
    payload = load(contracts.ProcessCancelledSchema, event["payload"], f"the payload of {event['name']}")
    number = payload["business_key"]
    said: dict[str, Any] = {"event_id": event["event_id"], "number": None, "round": None, "closed": None}
    if payload["process_id"] != PROPOSAL_PROCESS or not number:
        return said
    said["number"] = number
    rating_round = uow.ratings.latest_round(number, lock=True)  # not beside a rating or an appeal of it
    cancelled_at = clock.as_utc(event["occurred_at"])
    if rating_round is None or rating_round.cancelled is not None or rating_round.opened_at > cancelled_at:
        return said
    said["round"] = rating_round.round
    now = clock.now()
    record = {
        "at": now.isoformat(),
        "by": payload["by"],
        "reason": payload["reason"],
        "process_id": payload["process_id"],
        "instance_id": payload["instance_id"],
        "event_id": event["event_id"],
    }
    closed = _close(uow, rating_round, record, now)
    if closed is not None:
        rating_round.cancelled = record
        uow.flush()
    return {**said, "closed": closed}


def _close(uow: EvaluationUnitOfWork, rating_round: RatingRound, record: dict[str, Any], now: datetime) -> str | None:
    if rating_round.closed_at is None and uow.ratings.close_round(rating_round, CANCELLED, now):
        return "round"
    if rating_round.outcome != "appealable" or rating_round.appeal_due is None:
        return None
    appeal = uow.ratings.appeal_of(rating_round.number, rating_round.round, lock=True)
    if appeal is not None:
        if appeal.decision is not None:
            return None
        appeal.decision, appeal.decision_reason = CANCELLED, record["reason"]
        appeal.decided_by, appeal.decided_at = record["by"], now
        return "appeal"
    if now >= rating_round.appeal_due:  # the window had ended by itself
        return None
    record["appeal_due"] = rating_round.appeal_due.isoformat()
    rating_round.appeal_due = now
    return "appeal_window"


def refusal_details(rating_round: RatingRound) -> dict:
    """The ``details`` of that refusal (``contracts.cancelled_details``, and the round)."""
    cancelled = rating_round.cancelled or {}
    return {
        "round": rating_round.round,
        **contracts.cancelled_details(cancelled.get("by"), cancelled.get("at"), cancelled.get("reason")),
    }


def refusal(rating_round: RatingRound) -> str | None:
    """Why nothing more is taken for ``rating_round`` because its process was cancelled, or None."""
    cancelled = rating_round.cancelled
    if not cancelled:
        return None
    at = clock.in_words(str(cancelled.get("at") or ""))
    return (
        f"the process of {rating_round.number} was cancelled by {cancelled.get('by')} on "
        f"{at} ({cancelled.get('reason')}); round {rating_round.round} takes no more ratings or appeals"
    )
