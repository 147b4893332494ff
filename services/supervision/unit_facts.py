"""What units did, as the assignment service tells it, recorded against their deadlines.

The assignment service publishes ``assignment.signed`` when a unit signs for its assignment (签收),
``assignment.input_sent`` when a co-unit sends its input to the lead (协办意见) and
``assignment.milestone_done`` when a unit reports a milestone of its B reply done, each in the
transaction of the change. Supervision hears them on its events queue and fulfils the unit's live
``sign_for_limit``, ``co_unit_input`` or ``followup_milestone`` deadline: ``met`` if the unit acted before the end of the
due day, ``missed`` if after. So ``supervision.close`` answers ``signed_on_time`` on facts.

Each event is kept once (:class:`~services.supervision.models.UnitFact`, by event id): a redelivery
changes nothing. An event can outrun the job that opens the clocks (a department's system may sign
the moment its assignment arrives); such a fact waits, unapplied, and ``open_deadlines`` applies it. The two take the proposal's lock
(``uow.lock``), so neither can miss the other's uncommitted work.
"""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock
from shared import contracts
from shared.errors import InvalidInput
from shared.validation import load

from . import cancellation
from .models import Deadline, UnitFact
from .records import live_deadlines
from . import reply_clock, reply_review
from .rules import CO_INPUT_RULE, MILESTONE_RULE, SIGN_FOR_RULE, SupervisionRules, ends_at
from .unit_of_work import SupervisionUnitOfWork

FULFILS = {
    contracts.ASSIGNMENT_SIGNED: SIGN_FOR_RULE,
    contracts.ASSIGNMENT_INPUT_SENT: CO_INPUT_RULE,
    contracts.ASSIGNMENT_MILESTONE_DONE: MILESTONE_RULE,
}
# Every event supervision's events queue brings (subscriptions.SUPERVISION_HEARS): the units' facts,
# and an operator's cancellation of a process (``cancellation``).
HEARD = (*FULFILS, *reply_review.HEARD, contracts.PROCESS_CANCELLED)


class UnitActedPayload(Schema):
    """The payload of ``assignment.signed`` and ``assignment.input_sent``."""

    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))
    assignment_id = fields.Integer(required=True)
    at = fields.AwareDateTime(required=True)
    by = fields.String(required=True, validate=validate.Length(min=1, max=100))
    round = fields.Integer(load_default=1)
    milestone = fields.Integer(load_default=None, allow_none=True)  # assignment.milestone_done only


def hear(uow: SupervisionUnitOfWork, body: dict, rules: SupervisionRules) -> dict:
    """Record one event; returns ``{event_id, deadline_id, status}`` (``status`` of the deadline it
    fulfilled, ``None`` while no deadline is open for it). A malformed event is refused
    (InvalidInput: the listener dead-letters it) and nothing is kept. ``process.cancelled`` goes
    to :func:`~services.supervision.cancellation.hear` (its answer: ``{event_id, number, closed}``)."""
    event = load(contracts.EventSchema, body, "the event")
    if event["name"] not in HEARD:
        raise InvalidInput("supervision hears no such event", {"name": [f"expected one of: {', '.join(HEARD)}"]})
    if event["name"] == contracts.PROCESS_CANCELLED:
        return cancellation.hear(uow, body)
    if event["name"] in reply_review.HEARD:
        return reply_review.hear(uow, event)
    payload = load(UnitActedPayload, event["payload"], f"the payload of {event['name']}")
    uow.lock(f"supervision:{event['subject']}")  # not beside an open_deadlines of it
    fact = uow.deadlines.fact(event["event_id"])
    if fact is None:
        fact = UnitFact(
            event_id=event["event_id"],
            name=event["name"],
            number=event["subject"],
            unit=payload["unit"],
            rule=FULFILS[event["name"]],
            at=clock.as_utc(payload["at"]),
            by=payload["by"],
            heard_at=clock.now(),
            milestone=payload["milestone"],
        )
        uow.deadlines.add_fact(fact)
        uow.flush()
        apply(uow, fact, rules)
    row = uow.deadlines.get(fact.deadline_id) if fact.deadline_id else None
    return {"event_id": fact.event_id, "deadline_id": fact.deadline_id, "status": row.status if row else None}


def apply(uow: SupervisionUnitOfWork, fact: UnitFact, rules: SupervisionRules) -> Deadline | None:
    """Fulfil the unit's live deadline of the fact's rule, if one is open; a signing starts the
    reply clock again from it (:mod:`~services.supervision.reply_clock`)."""
    if fact.deadline_id is not None:
        return None
    row = next(
        (
            d
            for d in live_deadlines(uow, fact.number)
            if d.rule == fact.rule and d.unit == fact.unit and d.milestone == fact.milestone
        ),
        None,
    )
    if row is None:
        return None
    at = fact.at
    row.fulfilled_at, row.fulfilled_by = at, fact.by
    row.status = "met" if at < ends_at(row.due) else "missed"
    row.closed_at = clock.now()
    fact.deadline_id = row.id
    uow.flush()
    if row.rule == SIGN_FOR_RULE:
        reply_clock.restart_from_signing(uow, rules, fact.number, fact.by)
    return row


def apply_pending(uow: SupervisionUnitOfWork, number: str, rules: SupervisionRules) -> None:
    """Apply facts heard before their deadlines were opened (see the module docstring)."""
    for fact in uow.deadlines.pending_facts(number):
        apply(uow, fact, rules)
