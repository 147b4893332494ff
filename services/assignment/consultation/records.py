"""What every case operation shares: loading a case, its audit log, domain events and notifications.

Events and notifications go to the assignment outbox in the caller's transaction (publish after
commit); each has a stable ``event_id`` so a job run twice never tells anyone twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from shared import clock
from shared.errors import NotFound
from shared.messaging.outbox import notify, publish_event
from shared.principal import acting_user

from ..models import Outbox
from .models import Case, CaseEvent


def iso(value: datetime | None) -> str | None:
    """A stored time in ISO form (aware UTC, as every ``UtcDateTime`` column gives it), or None."""
    return None if value is None else value.isoformat()


def actor_of(principal: dict | None, given: str | None = None) -> str:
    return given or acting_user(principal)


def case_by_id(session, case_id: int, lock: bool = True) -> Case:
    query = select(Case).where(Case.id == case_id)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None:
        raise NotFound(f"there is no micro-consultation case {case_id}")
    return case


def case_by_number(session, number: str, lock: bool = False) -> Case:
    query = select(Case).where(Case.number == number)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None:
        raise NotFound(f"there is no micro-consultation case {number}")
    return case


def record(session, case: Case, actor: str, action: str, data: dict | None = None) -> CaseEvent:
    row = CaseEvent(case_id=case.id, at=clock.now(), actor=actor, action=action, data=data or {})
    session.add(row)
    return row


def events_of(session, case: Case) -> list[dict]:
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    return [{"at": iso(r.at), "actor": r.actor, "action": r.action, "data": r.data} for r in rows]


def event(session, case: Case, name: str, key: str, payload: dict, members: list[dict] | None = None) -> None:
    """A domain event ``consultation.<...>`` (docs/events.md), carrying the case's thread."""
    publish_event(
        session,
        Outbox,
        name,
        f"{name}:{case.number}{':' + key if key else ''}",
        case.number,
        thread=case.thread,
        members=members or [],
        payload={"number": case.number, "venue": case.venue, "town": case.town, **payload},
    )


def tell(session, case: Case, kind: str, key: str, recipients: list[str], title: str, text: str = "") -> None:
    """``notify.consultation.<kind>`` to users, ``unit:<code>`` or ``role:<role>``."""
    notify(
        session,
        Outbox,
        f"consultation.{kind}",
        f"notify.consultation.{kind}:{case.number}:{key}",
        case.number,
        recipients=recipients,
        title=title,
        text=text,
        thread=case.thread,
    )
