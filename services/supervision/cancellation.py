"""A proposal's process cancelled by an operator: its clocks stop.

The engine publishes ``process.cancelled`` when an operator cancels a process instance (payload
:class:`~shared.contracts.ProcessCancelledSchema`); it comes on supervision's events queue with the
units' facts, and ``unit_facts.hear`` hands it here. Supervision keeps deadlines for proposals only
(the ``proposal`` diagram's ``supervision.*`` jobs; the opinion and micro-consultation diagrams open
none), so only a cancelled ``proposal`` instance with a business key (the proposal's number) changes
anything: every live deadline of that proposal opened before the cancellation closes ``cancelled``,
with a ``cancellation`` change that says who cancelled it and why (``queries.deadlines`` explains it).
A closed deadline is off the overdue board, gets no more reminders and is never escalated (the
reminders and escalations already recorded stay as history); a unit's extension request, a pause or
a resume finds no live reply deadline and is refused as for any proposal without one.

Another process, an instance without a business key, a number supervision keeps no deadlines for or
deadlines already closed: nothing changes. Heard again, the event finds nothing live that it
predates and changes nothing more; a deadline opened after the cancellation (a new instance of the
same proposal) is never closed by it. A malformed event is refused (``InvalidInput``: the listener
dead-letters it, as it does a malformed unit fact) and nothing is kept.

Key proposals (the chair's meeting's designation and the supervising leader's log) have nothing
open to close: the designation is the meeting's decision and the log is history, both kept; the
supervising leader is told (``notify.key_proposal_cancelled``). Heard again, the notice has the same
id, so nobody is told twice.
"""

from __future__ import annotations

from typing import Any

from shared import clock, contracts
from shared.errors import InvalidInput
from shared.validation import load

from .models import CANCELLED_KIND, Deadline, SupervisionLogEntry
from .records import live_deadlines, record_change
from .unit_of_work import SupervisionUnitOfWork

# The process whose instances' business keys are the proposal numbers supervision keeps deadlines for.
PROPOSAL_PROCESS = "proposal"
CANCELLED = "cancelled"  # a deadline's status once its process was cancelled
CANCELLATION = "cancellation"  # the change recorded on it


def hear(uow: SupervisionUnitOfWork, body: dict[str, Any]) -> dict[str, Any]:
    """Close the live deadlines of the cancelled proposal; returns ``{event_id, number, closed}``
    (``number`` None when the event concerns no proposal, ``closed`` the ids of the deadlines it
    closed)."""
    event = load(contracts.EventSchema, body, "the event")
    if event["name"] != contracts.PROCESS_CANCELLED:
        raise InvalidInput("not a process.cancelled event", {"name": [f"expected {contracts.PROCESS_CANCELLED}"]})
    payload = load(contracts.ProcessCancelledSchema, event["payload"], f"the payload of {event['name']}")
    number = payload["business_key"]
    if payload["process_id"] != PROPOSAL_PROCESS or not number:
        return {"event_id": event["event_id"], "number": None, "closed": []}
    uow.lock(f"supervision:{number}")  # not beside an open_deadlines or a unit's fact of it
    cancelled_at, now = clock.as_utc(event["occurred_at"]), clock.now()
    reason = f"process {payload['process_id']} instance {payload['instance_id']} cancelled: {payload['reason']}"
    closed: list[Deadline] = []
    for row in live_deadlines(uow, number):
        if row.created_at > cancelled_at:  # opened after the cancellation: a new instance's clock
            continue
        row.status, row.closed_at = CANCELLED, now
        record_change(uow, row, CANCELLATION, now, payload["by"], reason, row.due, None)
        closed.append(row)
    key = uow.key_proposals.get(number)
    if key is not None and not any(
        row.kind == CANCELLED_KIND and row.text == payload["reason"] for row in uow.key_proposals.log_of(number)
    ):
        # Its log says so (who, why) and takes no more entries (key_proposals.log_key_supervision).
        uow.key_proposals.add_log_entry(
            SupervisionLogEntry(
                number=number, leader=payload["by"], at=now, kind=CANCELLED_KIND, text=payload["reason"]
            )
        )
    if key is not None and key.supervising_leader:
        # A key proposal's supervising leader is told: the designation and the log stay as history.
        uow.notify(
            "key_proposal_cancelled",
            f"{event['event_id']}:key",
            number,
            [key.supervising_leader],
            f"重点提案 {number} 的办理流程已撤销",
            f"您督办的重点提案 {number} 的办理流程已由 {payload['by']} 撤销，不再继续办理；督办记录予以保留。"
            f"原因：{payload['reason']}",
        )
    uow.flush()
    return {"event_id": event["event_id"], "number": number, "closed": [row.id for row in closed]}
