"""What people and department systems may read: a unit its own assignments, staff all of them."""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared.errors import Forbidden
from shared.principal import acting
from shared.validation import PageQuery, load, page_answer, page_window

from .commands import describe_reply
from .contacts import contacts_of
from .models import CoUnitInput
from .records import (
    acting_unit,
    cancellation_of,
    describe,
    iso,
    oversees,
    principal_of,
    referred_assignment,
    visible_assignment,
)
from .unit_of_work import AssignmentUnitOfWork


def _unit_seen(principal) -> str | None:
    """Whose assignments the caller sees: ``None`` for staff (committee, leaders, operators: every
    unit's), a unit's handler or system their unit's; anyone else is refused."""
    principal = principal_of(principal)
    if oversees(principal):
        return None
    try:
        return acting_unit(principal)
    except Forbidden:
        raise Forbidden("only staff and units see assignments") from None


def list_assignments(uow: AssignmentUnitOfWork, principal, number: str | None = None) -> list[dict]:
    """Staff (committee, leaders, operators) see every assignment; a unit sees its own only."""
    unit = _unit_seen(principal)
    return [describe(row) for row in uow.assignments.assignments(number=number or None, unit=unit)]


STATUSES = ("assigned", "signed", "replied", "objected", "cancelled")


class AssignmentQuery(PageQuery):
    """What a page of the assignments list asks: which page, how long, and its filters."""

    number = fields.String(load_default=None, validate=validate.Length(1, 50))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


def assignment_page(uow: AssignmentUnitOfWork, principal, query: dict | None = None) -> dict:
    """A page of the assignments the caller sees (a unit its own, staff every unit's), newest
    first, with how many there are in all: ``query`` holds ``page`` (from 1), ``per_page`` (1-200,
    default 50) and the filters ``number`` and ``status``. Every assignment a unit was ever given
    stays on its list, so the list is read a page at a time: the answer builds one page however many
    years of assignments there are."""
    unit = _unit_seen(principal)
    data = load(AssignmentQuery, dict(query or {}), "the assignments list's query")
    total, rows = uow.assignments.assignment_page(
        *page_window(data), unit=unit, number=data["number"], status=data["status"]
    )
    return page_answer(data, total, [describe(r) for r in rows])


def _input(item: CoUnitInput, uow: AssignmentUnitOfWork) -> dict:
    return {
        "id": item.id,
        "from_unit": referred_assignment(uow, item.assignment_id).unit,
        "round": item.round,
        "text": item.text,
        "sent_at": iso(item.sent_at),
    }


def _decision(data: dict | None) -> dict | None:
    """Staff's decision as the unit sees it: outcome, who, when (and the date granted)."""
    if data is None:
        return None
    view = {"outcome": data["outcome"], "by": data["decided_by"], "at": data["decided_at"]}
    if "until" in data:
        view["until"] = data["until"]
    if "assigned_to" in data:
        view["assigned_to"] = data["assigned_to"]
    if data.get("comment"):
        view["comment"] = data["comment"]
    return view


def get_assignment(uow: AssignmentUnitOfWork, assignment_id: int, principal) -> dict:
    """One assignment with its replies (every round), the co-unit inputs it sent or received, the
    lead's current draft (for a co-unit, to co-sign), extension requests, the unit's contacts with the
    proposer, the cancellation of the proposal's handling if an operator cancelled it
    (``handling_cancelled``: reason, note, by, at, reply_kept; None otherwise) and its event log."""
    row = visible_assignment(uow, assignment_id, principal_of(principal))
    others = [o for o in uow.assignments.active_assignments(row.number) if o.id != row.id]
    replies = uow.assignments.replies(row.id)
    inputs = uow.assignments.inputs(row.id)
    extensions = uow.assignments.extension_requests(row.id)
    events = uow.assignments.history(row.id)
    # The decisions are entries of the same log: read once, picked out here.
    decided = {e.data["request_id"]: e.data for e in events if e.action == "extension_decided"}
    objection_decisions = [e.data for e in events if e.action == "objection_decided"]
    lead = next((o for o in others if o.role == "lead"), None)
    lead_reply = uow.assignments.current_reply(lead) if row.role == "co" and lead is not None else None
    signed = uow.assignments.cosignatures_of([*replies, *([lead_reply] if lead_reply is not None else [])])
    shown = describe(row)
    if shown["objection"] is not None:
        shown["objection"]["decision"] = _decision(objection_decisions[-1] if objection_decisions else None)
    return {
        **shown,
        "partners": [{"id": o.id, "unit": o.unit, "role": o.role, "status": o.status} for o in others],
        "replies": [describe_reply(uow, reply, signed[reply.id]) for reply in replies],
        "lead_reply": describe_reply(uow, lead_reply, signed[lead_reply.id]) if lead_reply is not None else None,
        "inputs": [_input(item, uow) for item in inputs],
        "extension_requests": [
            {
                "id": e.id,
                "round": e.round,
                "until": iso(e.requested_until),
                "months": e.months,
                "reason": e.reason,
                "status": e.status,
                "requested_at": iso(e.requested_at),
                "decision": _decision(decided.get(e.id)),
            }
            for e in extensions
        ],
        "contacts": contacts_of(uow, row.id),
        # An operator cancelled the proposal's handling: who, when, why, and whether the reply was kept.
        "handling_cancelled": cancellation_of(uow, row, events),
        "events": [{"at": iso(e.at), "actor": e.actor, "action": e.action, "data": e.data} for e in events],
    }


def proposal_reply(uow: AssignmentUnitOfWork, access: dict) -> dict:
    """The answer to a proposal as its proposers read it (``access`` is intake's answer to
    ``reply_access``: which proposal answers, and which rounds staff accepted): each round's
    submitted replies (unit, role, category, text), the co-units' input to the lead, and the units
    the proposal was given to. Drafts and replies sent back are never shown."""
    number = access["answered_by"]
    rows = uow.assignments.assignments(number=number)
    by_id = {row.id: row for row in rows}
    replies = uow.assignments.submitted_replies(by_id)
    inputs = uow.assignments.inputs_sent(by_id)
    wanted = None if access.get("all_rounds") else set(access.get("rounds") or ())
    rounds = sorted({r.round for r in replies} if wanted is None else wanted & {r.round for r in replies})
    active = [row for row in rows if row.status != "cancelled"]
    return {
        "number": access["number"],
        "answered_by": number,
        "units": [{"unit": row.unit, "role": row.role} for row in active],
        "rounds": [
            {
                "round": n,
                "replies": [
                    {
                        "unit": by_id[r.assignment_id].unit,
                        "role": by_id[r.assignment_id].role,
                        "category": r.category,
                        "text": r.text,
                        "submitted_at": iso(r.submitted_at),
                    }
                    for r in replies
                    if r.round == n
                ],
                "co_unit_input": [
                    {"unit": by_id[i.assignment_id].unit, "text": i.text, "sent_at": iso(i.sent_at)}
                    for i in inputs
                    if i.round == n
                ],
            }
            for n in rounds
        ],
    }


class _Codes(Schema):
    codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), required=True, validate=validate.Length(max=200)
    )


def unit_names(uow: AssignmentUnitOfWork, codes, principal) -> dict[str, str]:
    """``{code: name}`` for the known ones of ``codes`` (at most 200): the departments that answer
    proposals are public bodies, named wherever a proposal is published (公开提办双方)."""
    acting(principal)
    wanted = load(_Codes, {"codes": list(codes or ())}, "the unit codes")["codes"]
    return {row.code: row.name for row in uow.assignments.units(wanted)}
