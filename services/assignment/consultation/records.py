"""What every case operation shares: loading a case, its audit log, domain events and notifications.

Events and notifications go out through the unit of work, in the caller's transaction (publish after
commit); each has a stable ``event_id`` so a job run twice never tells anyone twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared import clock
from shared import contracts as shared_contracts
from shared.errors import Conflict, NotFound
from shared.masking import mask_text
from shared.principal import acting_user

from .models import Case, CaseEvent

if TYPE_CHECKING:
    from ..unit_of_work import AssignmentUnitOfWork


def without_resident(case: Case, text: str | None) -> str | None:
    """``text`` as those who may not know who raised ``case`` read it (the public, a department):
    masked of phone and identity numbers, e-mail addresses and the resident's name."""
    return None if text is None else mask_text(text, [case.resident_name])


def iso(value: datetime | None) -> str | None:
    """A stored time in ISO form (aware UTC, as every ``UtcDateTime`` column gives it), or None."""
    return None if value is None else value.isoformat()


def actor_of(principal: dict | None, given: str | None = None) -> str:
    return given or acting_user(principal)


def case_by_id(uow: AssignmentUnitOfWork, case_id: int, lock: bool = True) -> Case:
    case = uow.cases.case(case_id, lock=lock)
    if case is None:
        raise NotFound(f"there is no micro-consultation case {case_id}")
    return case


def case_by_number(uow: AssignmentUnitOfWork, number: str, lock: bool = False) -> Case:
    case = uow.cases.case_numbered(number, lock=lock)
    if case is None:
        raise NotFound(f"there is no micro-consultation case {number}")
    return case


CANCELLED = "cancelled"  # the case's status when an operator cancelled its process


def refused_case_cancelled(uow: AssignmentUnitOfWork, case: Case, masked: bool = False) -> Conflict:
    """The refusal of a command on a cancelled case: who cancelled its process, when and why (its
    log's last ``cancelled``), in words and in ``details`` as every refusal for a cancellation says
    it (``contracts.cancelled_details``). ``masked``: for a department, the reason without the
    resident's name or phone."""
    entries = uow.cases.history(case.id, CANCELLED)
    data = (entries[-1].data or {}) if entries else {}
    reason = data.get("reason") or case.close_note or ""
    if masked:
        reason = without_resident(case, reason)
    by, at = data.get("by") or "an operator", iso(case.closed_at)
    return Conflict(
        f"case {case.number} was cancelled by {by} on {clock.in_words(at or '?')} ({reason}); it takes no more commands",
        shared_contracts.cancelled_details(data.get("by"), at, reason),
    )


def record(uow: AssignmentUnitOfWork, case: Case, actor: str, action: str, data: dict | None = None) -> CaseEvent:
    row = CaseEvent(case_id=case.id, at=clock.now(), actor=actor, action=action, data=data or {})
    uow.cases.log(row)
    return row


def events_of(uow: AssignmentUnitOfWork, case: Case) -> list[dict]:
    return as_events(uow.cases.history(case.id))


def as_events(rows) -> list[dict]:
    """A case's log entries as its history shows them."""
    return [{"at": iso(r.at), "actor": r.actor, "action": r.action, "data": r.data} for r in rows]


def event(
    uow: AssignmentUnitOfWork, case: Case, name: str, key: str, payload: dict, members: list[dict] | None = None
) -> None:
    """A domain event ``consultation.<...>`` (docs/events.md), carrying the case's thread."""
    uow.publish_event(
        name,
        f"{name}:{case.number}{':' + key if key else ''}",
        case.number,
        thread=case.thread,
        members=members or [],
        payload={"number": case.number, "venue": case.venue, "town": case.town, **payload},
    )


def tell(
    uow: AssignmentUnitOfWork, case: Case, kind: str, key: str, recipients: list[str], title: str, text: str = ""
) -> None:
    """``notify.consultation.<kind>`` to users, ``unit:<code>`` or ``role:<role>``."""
    uow.notify(
        f"consultation.{kind}",
        f"notify.consultation.{kind}:{case.number}:{key}",
        case.number,
        recipients=recipients,
        title=title,
        text=text,
        thread=case.thread,
    )
