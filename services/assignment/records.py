"""What every assignment operation shares: who is acting, the audit log, and what leaves the service.

Messages leave through the service's outbox, in the transaction of the change they describe:
unit events to exchange ``ztc.units`` (routing key ``<unit>.<event>``), BPMN messages to the engine.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from shared import clock
from shared.errors import Conflict, Forbidden, NotFound
from shared.principal import principal_of  # noqa: F401 - the one reading of a principal

from . import contracts
from .models import Assignment, AssignmentEvent
from .unit_of_work import AssignmentUnitOfWork

OVERSEER_ROLES = ("staff", "committee", "leader", "operator")


def oversees(principal: dict) -> bool:
    """Staff (and committee, leaders, operators) see every assignment; units see their own."""
    return bool(set(principal["roles"]) & set(OVERSEER_ROLES))


def acting_unit(principal: dict) -> str:
    if "unit" not in principal["roles"] or not principal["unit"]:
        raise Forbidden(
            "only a unit's handler or system acts on an assignment",
            {"principal": [f"{principal['user']} acts for no unit"]},
        )
    return principal["unit"]


def own_assignment(uow: AssignmentUnitOfWork, assignment_id: int, principal: dict) -> Assignment:
    """The assignment, if the principal's unit holds it; Forbidden for another unit's."""
    unit = acting_unit(principal)
    row = uow.assignments.assignment(assignment_id)
    if row is None:
        raise NotFound(f"there is no assignment {assignment_id}")
    if row.unit != unit:
        raise Forbidden(f"assignment {assignment_id} belongs to another unit; {unit} acts on its own assignments only")
    return row


def referred_assignment(uow: AssignmentUnitOfWork, assignment_id: int) -> Assignment:
    """The assignment another row (a request, an input, a co-signature) refers to; never deleted."""
    row = uow.assignments.assignment(assignment_id)
    if row is None:
        raise LookupError(f"a row refers to assignment {assignment_id}, which is missing")
    return row


def is_cancelled(row: Assignment) -> bool:
    """The assignment takes no more commands: it was cancelled (staff reassigned the proposal, or
    an operator cancelled its handling), or its reply was accepted and the handling cancelled
    afterwards (status stays ``replied``, ``cancelled_at`` says when)."""
    return row.status == "cancelled" or row.cancelled_at is not None


def cancellation_of(
    uow: AssignmentUnitOfWork, row: Assignment, log: list[AssignmentEvent] | None = None
) -> dict | None:
    """The operator's cancellation of the proposal's handling as the assignment's view shows it
    (``handling_cancelled``: reason, note, by, at, whether the reply was kept), from its log's
    last ``cancelled`` entry (``log``: the assignment's log, if read already); None when the
    handling was not cancelled (a reassignment is not)."""
    if log is None:
        entries = uow.assignments.history(row.id, "cancelled")
    else:
        entries = [e for e in log if e.action == "cancelled"]
    data = (entries[-1].data or {}) if entries else {}
    if data.get("reason") != contracts.PROCESS_CANCELLED:
        return None
    return {
        "reason": contracts.PROCESS_CANCELLED,
        "note": data.get("note"),
        "by": data.get("by"),
        "at": data.get("at") or iso(row.cancelled_at),
        "reply_kept": bool(data.get("reply_kept")),
    }


def why_cancelled(uow: AssignmentUnitOfWork, row: Assignment) -> str:
    """Why a cancelled assignment takes no more commands, in words (its log's last ``cancelled``):
    staff reassigned the proposal, or an operator cancelled the proposal's handling (who, when,
    why; after staff accepted its reply, the reply stays on record and nothing more is owed)."""
    shown = cancellation_of(uow, row)
    if shown is not None:
        kept = (
            f"; its reply accepted in round {row.round} stays on record and no follow-up or milestone "
            "report is owed any more"
            if shown["reply_kept"]
            else ""
        )
        return (
            f"assignment {row.id} was cancelled when the handling of proposal {row.number} was cancelled "
            f"by {shown['by']} at {shown['at']} ({shown['note']}){kept}; it takes no more commands"
        )
    return f"assignment {row.id} was cancelled when staff reassigned proposal {row.number}"


def refused_cancelled(uow: AssignmentUnitOfWork, row: Assignment) -> Conflict:
    """The refusal of a command on a cancelled assignment: :func:`why_cancelled` in words, and in
    ``details`` what a department's system can act on without reading them: ``cancelled`` with the
    ``reason`` (``process_cancelled`` or ``reassigned``) and, for an operator's cancellation, the
    note, who, when and whether the reply was kept (``command.refused`` carries the details)."""
    shown = cancellation_of(uow, row)
    details = {"cancelled": shown if shown is not None else {"reason": contracts.REASSIGNED}}
    return Conflict(why_cancelled(uow, row), details)


def not_closed(uow: AssignmentUnitOfWork, row: Assignment) -> None:
    """The assignment takes the unit's commands: it is not cancelled, and no objection of the unit
    waits for staff's decision (docs/unit-integration.md, step 3). A Conflict saying which."""
    if is_cancelled(row):
        raise refused_cancelled(uow, row)
    if row.status == "objected":
        raise Conflict(f"{row.unit} objected to assignment {row.id}; staff decide on the objection first")


def visible_assignment(uow: AssignmentUnitOfWork, assignment_id: int, principal: dict) -> Assignment:
    if oversees(principal):
        row = uow.assignments.assignment(assignment_id)
        if row is None:
            raise NotFound(f"there is no assignment {assignment_id}")
        return row
    return own_assignment(uow, assignment_id, principal)


def record(
    uow: AssignmentUnitOfWork, assignment: Assignment, actor: str, action: str, data: dict | None = None
) -> AssignmentEvent:
    """An entry of the audit log, its id assigned (messages it causes carry it)."""
    row = AssignmentEvent(
        assignment_id=assignment.id,
        number=assignment.number,
        at=clock.now(),
        actor=actor,
        action=action,
        data=data or {},
        uid=uuid.uuid4().hex,
    )
    uow.assignments.log(row)
    uow.flush()
    return row


def event_key(entry: AssignmentEvent) -> str:
    """What names the messages ``entry`` causes: its random key (the same for a message sent again,
    another for every entry, whatever becomes of the database), or its id for an older entry."""
    return entry.uid or str(entry.id)


def notify_unit(
    uow: AssignmentUnitOfWork, assignment: Assignment, event: str, because: AssignmentEvent, data: dict
) -> None:
    """Publish ``event`` to the assignment's unit (after commit, through the outbox)."""
    now = clock.now()
    payload = {
        "event": event,
        "event_id": f"assignment-event-{event_key(because)}",
        "at": iso(now),
        "unit": assignment.unit,
        "assignment": describe(assignment),
        **data,
    }
    uow.publish_to_unit(assignment.unit, event, payload)


def tell_unit(
    uow: AssignmentUnitOfWork,
    assignment: Assignment,
    event: str,
    because: AssignmentEvent,
    data: dict,
    wording: dict | None = None,
) -> None:
    """A decision about the unit's work: the event on its own queue (``notify_unit``) and a notice
    in its handlers' inbox (``notify.<event>`` to ``unit:<code>``), in the same transaction.
    ``wording``: values the notice's text uses that the event does not carry."""
    notify_unit(uow, assignment, event, because, data)
    text = contracts.NOTICE_TEXT[event].format_map(
        {
            "number": assignment.number,
            "id": assignment.id,
            "round": assignment.round,
            "reason": "",
            "note": "",
            "comment": "",
            "until": "",
            **{k: v if v is not None else "" for k, v in data.items()},
            **(wording or {}),
        }
    )
    uow.notify(
        event,
        f"{event}:{event_key(because)}",
        assignment.number,
        [f"unit:{assignment.unit}"],
        title=f"提案 {assignment.number}（交办号 {assignment.id}）",
        text=text,
    )


def unit_acted(
    uow: AssignmentUnitOfWork,
    name: str,
    assignment: Assignment,
    because: AssignmentEvent,
    at: datetime,
    by: str,
    **extra,
) -> None:
    """A domain event (``ztc.events``) saying the unit did something others keep time on:
    ``assignment.signed``, ``assignment.input_sent`` or ``assignment.milestone_done`` (with
    ``milestone``): supervision fulfils the unit's deadline."""
    uow.publish_event(
        name,
        f"{name}:{event_key(because)}",
        assignment.number,
        payload={
            "unit": assignment.unit,
            "assignment_id": assignment.id,
            "at": iso(at),
            "by": by,
            "round": assignment.round,
            **extra,
        },
    )


def tell_engine(uow: AssignmentUnitOfWork, name: str, number: str, because: AssignmentEvent, payload: dict) -> None:
    """A BPMN message for the proposal's instance; its id is the event's, so it is sent once.
    A reply or a follow-up the units sent is also a ``handling.*`` event (intake keeps the
    proposal's status and tells its proposers)."""
    uow.send_message(name, number, f"assignment-event-{event_key(because)}", payload)
    progress = HANDLING_ON_MESSAGE.get(name)
    if progress is not None:
        handling_event(
            uow,
            progress,
            number,
            because,
            {
                key: payload.get(key)
                for key in ("round", "category", "unit", "text", "submitted_at")
                if payload.get(key) is not None
            },
        )


HANDLING_ON_MESSAGE = {
    contracts.REPLY_SUBMITTED: "handling.reply_submitted",
    contracts.FOLLOWUP_REPLY: "handling.followup_received",
}


def handling_event(uow: AssignmentUnitOfWork, name: str, number: str, because: AssignmentEvent, payload: dict) -> None:
    """A ``handling.*`` domain event on ``ztc.events``: how the proposal's handling moved on
    (assigned, reply submitted, sent back, re-handling, follow-up). Intake hears it."""
    uow.publish_event(name, f"{name}:{event_key(because)}", number, payload={"number": number, **payload})


def iso(value) -> str | None:
    """A stored date or time in ISO form (a time aware UTC, as every ``UtcDateTime`` column gives it), or None."""
    return None if value is None else value.isoformat()


def describe(row: Assignment) -> dict:
    return {
        "id": row.id,
        "number": row.number,
        "proposal_id": row.proposal_id,
        "round": row.round,
        "unit": row.unit,
        "role": row.role,
        "status": row.status,
        "assigned_at": iso(row.created_at),
        "assigned_by": row.assigned_by,
        "signed_at": iso(row.signed_at),
        "objection": (
            {"reason": row.objection_reason, "at": iso(row.objected_at)} if row.objected_at is not None else None
        ),
        "cancelled_at": iso(row.cancelled_at),
    }
