"""Assignment's jobs for the engine, as plain functions of a unit of work and validated input.

Staff decide (user tasks in the diagram); these functions carry the decision out: assign the
proposal to units (交办), re-open their work for a new round (重新办理), send a reply back.
What units do with their assignments is in :mod:`.commands`.
"""

from __future__ import annotations


from shared import clock
from shared.errors import BusinessError, InvalidInput
from shared.validation import load

from shared.contracts.jobs.assignment import AssignUnit as AssignUnitParams
from shared.principal import acting_user

from . import contracts, decisions
from .contracts import ANSWERING_ROLES, AssignParams, RecategoriseParams, RehandlingParams, SendBackParams
from .models import Assignment, Unit
from .records import describe, handling_event, iso, notify_unit, record, tell_unit
from .unit_of_work import AssignmentUnitOfWork


def _actor(principal) -> str:
    return acting_user(principal)


def assign_unit(uow: AssignmentUnitOfWork, params: dict, principal: dict | None, number: str | None = None) -> dict:
    """The smoke diagram's one-unit assignment (no unit queue, no reassignment)."""
    data = load(AssignUnitParams, params, "assignment.assign_unit parameters")
    if uow.assignments.unit(data["unit"]) is None:
        raise BusinessError("no_unit", f"there is no unit '{data['unit']}' in the directory")
    row = Assignment(
        number=number or f"submission-{data['submission_id']}",
        proposal_id=data["submission_id"],
        round=1,
        unit=data["unit"],
        role="single",
        status="assigned",
        assigned_by=_actor(principal),
        created_at=clock.now(),
    )
    uow.assignments.add_assignment(row)
    uow.flush()
    record(uow, row, _actor(principal), "assigned", {"mode": "single", "round": 1})
    return {"assignment_id": row.id, "unit": row.unit}


def ensure_units(uow: AssignmentUnitOfWork, units: dict) -> int:
    """Add the units in ``{code: name}`` that the directory lacks; returns how many were added."""
    added = 0
    for code, name in units.items():
        if uow.assignments.unit(code) is None:
            uow.assignments.add_unit(Unit(code=code, name=name))
            added += 1
    return added


def _roles(data: dict) -> list[tuple[str, str]]:
    if data["mode"] == "lead_co":
        return [(data["lead"], "lead"), *((code, "co") for code in data["co_units"])]
    return [(code, data["mode"]) for code in data["units"]]


def assign(uow: AssignmentUnitOfWork, params: dict, principal: dict | None) -> dict:
    """``assignment.assign``: give the proposal to its units, cancelling any earlier assignment.

    Business error ``no_unit`` names every unit the directory lacks; a mode that does not fit the
    units is invalid input. Each unit hears of its assignment on its own queue.
    """
    data = load(AssignParams, params, "assignment.assign parameters")
    roles = _roles(data)
    unknown = [code for code, _ in roles if uow.assignments.unit(code) is None]
    if unknown:
        raise BusinessError("no_unit", f"there is no unit {', '.join(repr(c) for c in unknown)} in the directory")
    actor, now = _actor(principal), clock.now()
    new_units = [code for code, _ in roles]
    kept = []
    for old in uow.assignments.active_assignments(data["number"], lock=True):
        stays = (old.unit, old.role) in roles and old.round == data["round"]
        if old.status == "objected":  # staff decided on the objection with this assignment
            decisions.objection_decided(
                uow, old, "kept" if old.unit in new_units else "reassigned", actor, now, new_units
            )
        if stays:  # the same unit in the same role: its assignment (and id) goes on
            kept.append(old)
            continue
        old.status, old.cancelled_at = "cancelled", now
        because = record(uow, old, actor, "cancelled", {"reason": contracts.REASSIGNED})
        tell_unit(
            uow,
            old,
            contracts.CANCELLED,
            because,
            {"reason": contracts.REASSIGNED, "reason_zh": contracts.CANCEL_REASONS_ZH[contracts.REASSIGNED]},
            contracts.cancel_wording(None),
        )
    created = []
    for row in kept:
        objected = row.status == "objected"
        if objected:
            row.status = "signed" if row.signed_at is not None else "assigned"
        because = record(
            uow, row, actor, "kept", {"mode": data["mode"], "round": data["round"], "objection_overruled": objected}
        )
        created.append((row, because))
        if objected:
            tell_unit(uow, row, contracts.OBJECTION_OVERRULED, because, {"decided_by": actor, "decided_at": iso(now)})
    for code, role in roles:
        if any(row.unit == code and row.role == role for row in kept):
            continue
        row = Assignment(
            number=data["number"],
            proposal_id=data["proposal_id"],
            round=data["round"],
            unit=code,
            role=role,
            status="assigned",
            assigned_by=actor,
            created_at=now,
        )
        uow.assignments.add_assignment(row)
        uow.flush()
        created.append((row, record(uow, row, actor, "assigned", {"mode": data["mode"], "round": data["round"]})))
    together = [{"id": row.id, "unit": row.unit, "role": row.role} for row, _ in created]
    for row, because in created:
        if row not in kept:
            notify_unit(uow, row, contracts.CREATED, because, {"mode": data["mode"], "assignments": together})
    handling_event(
        uow,
        "handling.assigned",
        data["number"],
        created[0][1],
        # The directory's names ride along, so intake names the units to the proposers.
        {
            "round": data["round"],
            "mode": data["mode"],
            "units": new_units,
            "unit_names": {unit.code: unit.name for unit in uow.assignments.units(new_units)},
        },
    )
    return {
        "number": data["number"],
        "round": data["round"],
        "assignments": together,
        "answering_units": [row.unit for row, _ in created if row.role in ANSWERING_ROLES],
        # Their assignment goes on (same unit, role and round): supervision keeps their clocks.
        "kept_units": [row.unit for row in kept],
    }


def request_rehandling(uow: AssignmentUnitOfWork, params: dict, principal: dict | None) -> dict:
    """``assignment.request_rehandling``: the proposer was not satisfied; the units answer again
    in round ``round`` (the earlier replies stay, under their own round)."""
    data = load(RehandlingParams, params, "assignment.request_rehandling parameters")
    rows = uow.assignments.active_assignments(data["number"], lock=True)
    if not rows:
        raise BusinessError("no_assignment", f"proposal {data['number']} has no active assignment")
    current = max(row.round for row in rows)
    if data["round"] <= current:
        raise InvalidInput(
            "a re-handling round comes after the current one",
            {"round": [f"must be greater than the current round {current}"]},
        )
    actor = _actor(principal)
    for row in rows:
        previous, row.round = row.round, data["round"]
        if row.status == "replied":
            row.status = "signed"
        because = record(uow, row, actor, "rehandling", {"round": row.round, "previous_round": previous})
        notify_unit(uow, row, contracts.REHANDLING, because, {"round": row.round, "previous_round": previous})
    handling_event(
        uow,
        "handling.rehandling",
        data["number"],
        because,
        {"round": data["round"], "units": [row.unit for row in rows]},
    )
    return {"number": data["number"], "round": data["round"], "units": [row.unit for row in rows]}


def send_back(uow: AssignmentUnitOfWork, params: dict, principal: dict | None) -> dict:
    """``assignment.send_back``: staff send the submitted reply back with a comment; the answering
    unit (and its co-units) must submit again. ``units`` picks answering units (default: all)."""
    data = load(SendBackParams, params, "assignment.send_back parameters")
    rows = uow.assignments.active_assignments(data["number"], lock=True)
    answering = [row for row in rows if row.role in ANSWERING_ROLES]
    strangers = sorted(set(data["units"]) - {row.unit for row in answering})
    if strangers:
        raise InvalidInput(
            "only an answering unit's reply can be sent back",
            {"units": [f"not answering proposal {data['number']}: {', '.join(strangers)}"]},
        )
    chosen = [row for row in answering if not data["units"] or row.unit in data["units"]]
    replies = [(row, uow.assignments.current_reply(row)) for row in chosen]
    replies = [(row, reply) for row, reply in replies if reply is not None and reply.status == "submitted"]
    if not replies:
        raise BusinessError("no_submitted_reply", f"proposal {data['number']} has no submitted reply to send back")
    actor, now = _actor(principal), clock.now()
    reopened = []
    for row, reply in replies:
        reply.status, reply.sent_back_at, reply.sent_back_comment = "sent_back", now, data["comment"]
        reopened.append(row)
        if row.role == "lead":
            reopened += [other for other in rows if other.role == "co" and other.status == "replied"]
    for row in reopened:
        if row.status == "replied":
            row.status = "signed"
        because = record(uow, row, actor, "sent_back", {"comment": data["comment"], "round": row.round})
        tell_unit(
            uow,
            row,
            contracts.SENT_BACK,
            because,
            {"comment": data["comment"], "round": row.round, "sent_back_at": iso(now)},
        )
    handling_event(
        uow,
        "handling.sent_back",
        data["number"],
        because,
        {"round": max(row.round for row, _ in replies), "units": [row.unit for row, _ in replies]},
    )
    return {
        "number": data["number"],
        "round": max(row.round for row, _ in replies),
        "sent_back": [row.unit for row, _ in replies],
    }


def recategorise_reply(uow: AssignmentUnitOfWork, params: dict, principal: dict | None) -> dict:
    """``assignment.recategorise_reply``: staff accepted the submitted reply in another category
    (``review_reply``). Each answering unit's submitted reply takes that category; recategorised to
    B (正在解决或列入计划), a reply that promised no milestones takes the ones staff settled with the
    unit at review, numbered from 1, which the unit then reports done and follows up as if it had
    drafted them (a reply drafted B keeps its own). Kept in each assignment's history
    (``reply_recategorised``: from, to, milestones, who); the unit hears the category with the
    acceptance (``assignment.reply_accepted``, ``assignment.followup_expected`` with the
    milestones). Doing it again changes nothing. Returns ``{replies: [{unit, category, milestones}]}``."""
    data = load(RecategoriseParams, params, "assignment.recategorise_reply parameters")
    rows = [row for row in uow.assignments.active_assignments(data["number"], lock=True) if row.role in ANSWERING_ROLES]
    replies = [(row, uow.assignments.current_reply(row)) for row in rows]
    replies = [(row, reply) for row, reply in replies if reply is not None and reply.status == "submitted"]
    if not replies:
        raise BusinessError("no_submitted_reply", f"proposal {data['number']} has no submitted reply to recategorise")
    actor, category = data["by"] or _actor(principal), data["category"]
    promised = (
        [
            {
                "milestone": m["milestone"],
                "what": m["what"],
                "due": m["due"].isoformat(),
                "done_at": None,
                "done_by": None,
                "note": None,
            }
            for m in data["milestones"]
        ]
        if category == "B"
        else []
    )
    answer = []
    for row, reply in replies:
        if reply.category != category:
            was = reply.category
            reply.category = category
            if category == "B" and not reply.milestones:
                reply.milestones = [dict(m) for m in promised]
            elif category != "B":
                reply.milestones = None
            record(
                uow,
                row,
                actor,
                "reply_recategorised",
                {"round": row.round, "from": was, "to": category, "milestones": reply.milestones or []},
            )
        answer.append({"unit": row.unit, "category": reply.category, "milestones": list(reply.milestones or [])})
    uow.flush()
    return {"replies": answer}


__all__ = ["assign", "assign_unit", "ensure_units", "recategorise_reply", "request_rehandling", "send_back", "describe"]
