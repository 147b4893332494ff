"""Staff decisions on what units asked for, recorded back on the unit's own records.

Staff decide in the diagram (``bpmn/proposal.bpmn``), not here; this module writes the outcome
where the unit looks for it:

- **An objection** (异议) is decided at the ``reassign`` user task, whose form is carried out by
  the ``assignment.assign`` job: :func:`objection_decided` is called by
  :func:`~services.assignment.operations.assign` for each objected assignment it replaces.
  Outcome ``reassigned`` (the unit is not among the new units) or ``kept`` (staff assigned it
  to the unit again).
- **An extension** (延期) approved is carried out by the ``supervision.extend`` job, which
  publishes the domain event ``deadline.extended`` in its transaction; this service hears it
  (:func:`hear_extension`) and marks the open request ``approved``, with the date granted.
  One refused goes down the diagram's ``extension_refused`` branch, whose job
  ``assignment.record_extension_refusal`` (:func:`record_extension_refusal`) marks it ``refused``
  while the proposal goes on waiting for the reply.

- **A cancelled process** (``process.cancelled``, the engine's event when an operator cancels an
  instance): :func:`hear_cancellation` cancels what is still open of the proposal's assignments
  (each unit hears ``assignment.cancelled`` with the reason ``process_cancelled``; the objections
  and extension requests waiting on them are closed as ``cancelled``; a reply staff accepted is
  kept, its assignment stays ``replied`` with ``cancelled_at`` set, ``reply_kept: true``), or the micro-consultation
  case (:func:`~services.assignment.consultation.steps.cancel_case`). Another process's instance,
  one without a business key or with a number nothing is kept for changes nothing.

Each decision is an entry of the assignment event log (``objection_decided``,
``extension_decided``: who, when, outcome), and the request's status changes with it; the
queries show both. A redelivered event changes nothing (its event id is kept in the entry).
"""

from __future__ import annotations

import logging

from datetime import datetime

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock
from shared import contracts as shared_contracts
from shared.contracts.jobs.assignment import RecordExtensionRefusal as RefusalParams
from shared.errors import BusinessError, InvalidInput
from shared.validation import load
from shared.principal import acting_user

from .models import Assignment
from . import contracts
from .consultation.steps import cancel_case
from .records import is_cancelled, iso, record, referred_assignment, tell_unit
from .unit_of_work import AssignmentUnitOfWork

log = logging.getLogger(__name__)


def objection_decided(
    uow: AssignmentUnitOfWork, row: Assignment, outcome: str, by: str, at: datetime, units: list[str]
) -> None:
    record(
        uow,
        row,
        by,
        "objection_decided",
        {"outcome": outcome, "decided_by": by, "decided_at": iso(at), "assigned_to": list(units)},
    )


class ExtendedPayload(Schema):
    """The payload of ``deadline.extended`` (published by supervision)."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    until = fields.Date(required=True)
    previous_due = fields.Date(load_default=None, allow_none=True)
    by = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(load_default="")
    # the request staff approved; absent from events of diagrams deployed before it was passed on
    request_id = fields.Integer(load_default=None, allow_none=True, strict=True)


def hear_extension(uow: AssignmentUnitOfWork, body) -> dict | None:
    """``deadline.extended``: the extension request staff approved (the payload's ``request_id``)
    shows ``approved`` and its unit is told. Two units, or one unit twice, may have asked before
    staff decided the first: each decision goes to its own request. An event without
    ``request_id`` (from a diagram deployed before it was passed on) approves the newest open
    request, as before. Returns the request's view, or None when that request is not open (decided
    already, or another proposal's), when there is none (an extension staff granted without a unit
    asking) or when the event was heard before."""
    event = load(shared_contracts.EventSchema, body, "the event")
    if event["name"] != shared_contracts.DEADLINE_EXTENDED:
        raise InvalidInput(
            "the assignment service hears no such event", {"name": [f"expected {shared_contracts.DEADLINE_EXTENDED}"]}
        )
    data = load(ExtendedPayload, event["payload"], f"the payload of {event['name']}")
    for entry in uow.assignments.proposal_history(data["number"], "extension_decided"):
        if (entry.data or {}).get("event_id") == event["event_id"]:
            return None
    if data["request_id"] is None:
        request = uow.assignments.open_extension_request(data["number"])
    else:
        request = uow.assignments.extension_request(data["request_id"])
        owner = uow.assignments.assignment(request.assignment_id) if request is not None else None
        if owner is None or owner.number != data["number"] or request.status != "requested":
            log.warning(
                "deadline.extended for %s names extension request %s, which is not an open request of "
                "that proposal (%s); the deadline moved, no request was marked approved",
                data["number"],
                data["request_id"],
                "none such" if owner is None else f"proposal {owner.number}, {request.status}",
            )
            return None
    if request is None:
        return None
    request.status = "approved"
    row = referred_assignment(uow, request.assignment_id)
    decided_at = clock.as_utc(event["occurred_at"])
    because = record(
        uow,
        row,
        data["by"],
        "extension_decided",
        {
            "request_id": request.id,
            "outcome": "approved",
            "decided_by": data["by"],
            "decided_at": iso(decided_at),
            "until": data["until"].isoformat(),
            "previous_due": data["previous_due"].isoformat() if data["previous_due"] else None,
            "event_id": event["event_id"],
        },
    )
    tell_unit(
        uow,
        row,
        contracts.EXTENSION_APPROVED,
        because,
        {
            "request_id": request.id,
            "until": data["until"].isoformat(),
            "decided_by": data["by"],
            "decided_at": iso(decided_at),
        },
    )
    return {"request_id": request.id, "status": request.status}


def decisions_of(uow: AssignmentUnitOfWork, assignment_id: int, action: str) -> list[dict]:
    """The data of the assignment's log entries of ``action``, in order."""
    return [e.data for e in uow.assignments.history(assignment_id, action)]


def record_extension_refusal(uow: AssignmentUnitOfWork, params: dict, principal: dict | None) -> dict:
    """Staff refused the extension: the request shows ``refused``, who and when (the job's
    principal: whoever completed the ``approve_extension`` task). Done twice, it changes nothing.
    Business error ``no_extension_request`` if the request is not the proposal's."""
    data = load(RefusalParams, params, "assignment.record_extension_refusal parameters")
    request = uow.assignments.extension_request(data["request_id"])
    row = uow.assignments.assignment(request.assignment_id) if request is not None else None
    if row is None or row.number != data["number"]:
        raise BusinessError(
            "no_extension_request", f"proposal {data['number']} has no extension request {data['request_id']}"
        )
    if request.status == "requested":
        request.status = "refused"
        by, now = acting_user(principal), clock.now()
        because = record(
            uow,
            row,
            by,
            "extension_decided",
            {
                "request_id": request.id,
                "outcome": "refused",
                "decided_by": by,
                "decided_at": iso(now),
                "comment": data["comment"] or "",
            },
        )
        tell_unit(
            uow,
            row,
            contracts.EXTENSION_REFUSED,
            because,
            {"request_id": request.id, "comment": data["comment"] or "", "decided_by": by, "decided_at": iso(now)},
        )
    return {"request_id": request.id, "status": request.status}


RATING_OPENED = shared_contracts.subscriptions.RATING_OPENED


def hear_acceptance(uow: AssignmentUnitOfWork, body) -> list[int]:
    """``handling.rating_opened`` (evaluation): staff accepted the round's reply and the proposers
    rate it. Each answering unit hears ``assignment.reply_accepted``; one whose reply is category B
    (as drafted, or as staff recategorised it) also ``assignment.followup_expected`` with the
    milestones it owes (report each done, and again when the matter is solved). Heard twice,
    it tells nothing twice. Returns the assignments told."""
    event = load(shared_contracts.EventSchema, body, "the event")
    if event["name"] != RATING_OPENED:
        raise InvalidInput("the assignment service hears no such event", {"name": [f"expected {RATING_OPENED}"]})
    number, round_ = event["subject"], int(event["payload"].get("round") or 0)
    told = []
    for row in uow.assignments.active_assignments(number, lock=True):
        reply = uow.assignments.current_reply(row)
        if (
            row.role not in contracts.ANSWERING_ROLES
            or is_cancelled(row)
            or reply is None
            or reply.status != "submitted"
            or row.round != round_
        ):
            continue
        if any((e or {}).get("event_id") == event["event_id"] for e in decisions_of(uow, row.id, "reply_accepted")):
            continue
        because = record(
            uow,
            row,
            "system",
            "reply_accepted",
            {"round": row.round, "category": reply.category, "event_id": event["event_id"]},
        )
        tell_unit(uow, row, contracts.REPLY_ACCEPTED, because, {"round": row.round, "category": reply.category})
        if reply.category == "B":
            expected = record(uow, row, "system", "followup_expected", {"round": row.round})
            owed = [{"milestone": m["milestone"], "what": m["what"], "due": m["due"]} for m in reply.milestones or []]
            tell_unit(
                uow,
                row,
                contracts.FOLLOWUP_EXPECTED,
                expected,
                {"round": row.round, "category": "B", "milestones": owed},
            )
        told.append(row.id)
    return told


APPEAL_DECIDED = shared_contracts.subscriptions.APPEAL_DECIDED
DECISION_ZH = {"upheld": "维持办理结果", "rehandle": "再次重新办理"}


def hear_appeal_decision(uow: AssignmentUnitOfWork, body) -> list[int]:
    """``handling.appeal_decided`` (evaluation): the committee decided a proposer's appeal of the
    round's reply. Each answering unit of that round hears ``assignment.appeal_decided`` on its
    queue, with the decision and its reasons (a ``rehandle`` decision is followed by
    ``assignment.rehandling`` when the diagram sends the proposal back). Heard twice, it tells
    nothing twice. Returns the assignments told."""
    event = load(shared_contracts.EventSchema, body, "the event")
    if event["name"] != APPEAL_DECIDED:
        raise InvalidInput("the assignment service hears no such event", {"name": [f"expected {APPEAL_DECIDED}"]})
    payload = event["payload"]
    number, round_ = event["subject"], int(payload.get("round") or 0)
    told = []
    for row in uow.assignments.active_assignments(number, lock=True):
        if row.role not in contracts.ANSWERING_ROLES or row.round != round_ or is_cancelled(row):
            continue
        if any((e or {}).get("event_id") == event["event_id"] for e in decisions_of(uow, row.id, "appeal_decided")):
            continue
        decision = payload.get("decision")
        because = record(
            uow,
            row,
            "system",
            "appeal_decided",
            {
                "round": round_,
                "decision": decision,
                "reason": payload.get("reason"),
                "decided_by": payload.get("decided_by"),
                "event_id": event["event_id"],
            },
        )
        tell_unit(
            uow,
            row,
            contracts.APPEAL_DECIDED,
            because,
            {
                "round": round_,
                "decision": decision,
                "decision_zh": DECISION_ZH.get(decision, decision),
                "reason": payload.get("reason") or "",
            },
        )
        told.append(row.id)
    return told


PROCESS_CANCELLED = shared_contracts.PROCESS_CANCELLED
# The events the service's events queue hears (``subscriptions.ASSIGNMENT_HEARS``), each with its handler.
HEARD = (shared_contracts.DEADLINE_EXTENDED, RATING_OPENED, APPEAL_DECIDED, PROCESS_CANCELLED)


def hear_cancellation(uow: AssignmentUnitOfWork, body) -> dict:
    """``process.cancelled`` (the engine): an operator cancelled a process instance. For process
    ``proposal``, every assignment of the proposal not cancelled yet becomes ``cancelled`` with the
    operator's reason in its log (``cancelled``: reason ``process_cancelled``, note, by, at,
    previous status, ``reply_kept``, instance, event id) and ``cancelled_at``; one whose reply staff
    accepted in its round keeps its reply and stays ``replied`` (``reply_kept``: true, its
    ``cancelled_at`` set: no follow-up or milestone is owed, and every later command on it is a
    Conflict naming the cancellation). An objection waiting for staff's decision is decided
    ``cancelled`` and an extension request waiting for one becomes ``cancelled`` (each with its log
    entry); each unit hears ``assignment.cancelled`` (``reply_kept`` says which of the two;
    ``objection_closed`` and ``extension_requests_closed``, the ids, say what was closed with it) and its
    handlers get the inbox notice, the operator's reason labelled ``原因：``.
    For ``micro_consultation``, the case of that number is cancelled (see
    :func:`~services.assignment.consultation.steps.cancel_case`). Any other process, an instance
    without a business key, a number nothing is kept for, records already final: nothing changes.
    Heard twice, the second finds nothing open and tells nobody again. A malformed event or payload
    is InvalidInput (the listener dead-letters it with the reason). Returns what it closed:
    ``{assignments: [ids], case: number or None}``."""
    event = load(shared_contracts.EventSchema, body, "the event")
    if event["name"] != PROCESS_CANCELLED:
        raise InvalidInput("the assignment service hears no such event", {"name": [f"expected {PROCESS_CANCELLED}"]})
    data = load(shared_contracts.ProcessCancelledSchema, event["payload"], f"the payload of {PROCESS_CANCELLED}")
    closed: dict = {"assignments": [], "case": None}
    number = data["business_key"]
    if not number:
        return closed
    at = clock.as_utc(event["occurred_at"])
    if data["process_id"] == "proposal":
        closed["assignments"] = _cancel_assignments(uow, number, event["event_id"], data, at)
    elif data["process_id"] == "micro_consultation":
        closed["case"] = cancel_case(
            uow,
            number,
            data["reason"],
            data["by"],
            at,
            {"event_id": event["event_id"], "instance_id": data["instance_id"]},
        )
    return closed


def _kept_reply(row: Assignment, accepted_rounds: set[int]) -> bool:
    """Staff accepted the assignment's reply in its round: the reply is kept (status ``replied``)."""
    return row.status == "replied" and row.round in accepted_rounds


def _cancel_assignments(uow: AssignmentUnitOfWork, number: str, event_id: str, data: dict, at: datetime) -> list[int]:
    accepted = {
        int((e.data or {}).get("round") or 0) for e in uow.assignments.proposal_history(number, "reply_accepted")
    }
    by, note = data["by"], data["reason"]
    cancelled = []
    for row in uow.assignments.active_assignments(number, lock=True):
        if is_cancelled(row):  # cancelled already (an earlier delivery): nobody is told twice
            continue
        kept = _kept_reply(row, accepted)
        objection_closed, extensions_closed = row.status == "objected", []
        if row.status == "objected":  # staff will not decide on it now
            record(
                uow,
                row,
                by,
                "objection_decided",
                {
                    "outcome": "cancelled",
                    "decided_by": by,
                    "decided_at": iso(at),
                    "assigned_to": [],
                    "comment": note,
                },
            )
        for request in uow.assignments.extension_requests(row.id):
            if request.status != "requested":
                continue
            request.status = "cancelled"
            extensions_closed.append(request.id)
            record(
                uow,
                row,
                by,
                "extension_decided",
                {
                    "request_id": request.id,
                    "outcome": "cancelled",
                    "decided_by": by,
                    "decided_at": iso(at),
                    "comment": note,
                    "event_id": event_id,
                },
            )
        previous = row.status
        # An accepted reply stays on record (``replied``); ``cancelled_at`` says the handling ended.
        row.status, row.cancelled_at = (previous if kept else "cancelled"), at
        because = record(
            uow,
            row,
            by,
            "cancelled",
            {
                "reason": contracts.PROCESS_CANCELLED,
                "note": note,
                "by": by,
                "at": iso(at),
                "previous_status": previous,
                "reply_kept": kept,
                "instance_id": data["instance_id"],
                "event_id": event_id,
            },
        )
        tell_unit(
            uow,
            row,
            contracts.CANCELLED,
            because,
            {
                "reason": contracts.PROCESS_CANCELLED,
                "reason_zh": contracts.CANCEL_REASONS_ZH[contracts.PROCESS_CANCELLED],
                "note": note,
                "cancelled_by": by,
                "cancelled_at": iso(at),
                "reply_kept": kept,
                # what the unit had waiting for staff's decision, closed with it (decided cancelled)
                "objection_closed": objection_closed,
                "extension_requests_closed": extensions_closed,
            },
            contracts.cancel_wording(note, kept),
        )
        cancelled.append(row.id)
    return cancelled
