"""What the deadline jobs and queries share: reading deadlines back, opening, replacing and timing them.

Reads and writes go through the unit of work's ``deadlines`` repository (``repository.py``)."""

from __future__ import annotations

from datetime import datetime

from shared import rulebook as rulebooks

from .models import SET_ASIDE, Deadline, DeadlineChange
from .rules import REPLY_RULES, SupervisionRules, ends_at
from .unit_of_work import SupervisionUnitOfWork

# Start events: what the clock of a deadline counts from. A reply deadline counts from signing
# (签收): ``signed`` once every answering unit signed within its limit, else ``sign_for_limit_end``
# (an assignment not signed in time counts as signed when its limit runs out).
ASSIGNED, REASSIGNED, REHANDLING = "assigned", "reassigned", "rehandling_requested"
SIGNED, SIGN_LIMIT_END = "signed", "sign_for_limit_end"


def iso(value) -> str | None:
    """A stored date or time in ISO form (a time aware UTC, as every ``UtcDateTime`` column gives it), or None."""
    return None if value is None else value.isoformat()


def deadlines_of(uow: SupervisionUnitOfWork, number: str) -> list[Deadline]:
    return uow.deadlines.of_proposal(number)


def live_deadlines(uow: SupervisionUnitOfWork, number: str) -> list[Deadline]:
    return [row for row in deadlines_of(uow, number) if row.closed_at is None]


def live_reply(uow: SupervisionUnitOfWork, number: str) -> Deadline | None:
    """The reply deadline the units are working to now (open, or missed and not yet closed)."""
    rows = [row for row in live_deadlines(uow, number) if row.rule in REPLY_RULES]
    return rows[-1] if rows else None


def latest_reply(uow: SupervisionUnitOfWork, number: str) -> Deadline | None:
    """The newest reply deadline not set aside (superseded, or cancelled with its process): the live
    one, or the one the last reply closed."""
    rows = [row for row in deadlines_of(uow, number) if row.rule in REPLY_RULES and row.status not in SET_ASIDE]
    return rows[-1] if rows else None


def clock_started_at(uow: SupervisionUnitOfWork, number: str) -> datetime | None:
    """When the reply clock of the current assignment started: the start of its ``reply_deadline``
    (the answering units' signing, or the end of their sign-for limit), from which the extension
    cap counts."""
    rows = [row for row in deadlines_of(uow, number) if row.rule == "reply_deadline" and row.status not in SET_ASIDE]
    return rows[-1].started_at if rows else None


def paused_since(uow: SupervisionUnitOfWork, row: Deadline) -> datetime | None:
    """When a paused deadline was paused (its last ``pause`` not followed by a ``resume``), or None."""
    changes = [change for change in uow.deadlines.changes_of(row) if change.kind in ("pause", "resume")]
    return changes[-1].at if changes and changes[-1].kind == "pause" else None


def new_deadline(
    number: str,
    computed: rulebooks.Deadline,
    *,
    unit: str | None,
    units: list[str],
    start_event: str,
    started_at: datetime,
    by: str,
) -> Deadline:
    return Deadline(
        number=number,
        rule=computed.rule,
        unit=unit,
        units=list(units),
        start_event=start_event,
        started_at=started_at,
        start_date=computed.start,
        rulebook=computed.rulebook,
        rulebook_version=computed.rulebook_version,
        rulebook_hash=computed.rulebook_hash,
        amount=computed.amount,
        amount_unit=computed.unit,
        original_due=computed.due,
        due=computed.due,
        calendar=computed.explanation,
        status="open",
        opened_by=by,
        created_at=started_at,
    )


def record_change(
    uow: SupervisionUnitOfWork, row: Deadline, kind: str, at: datetime, by: str, reason: str, old_due, new_due
) -> DeadlineChange:
    change = DeadlineChange(
        deadline_id=row.id, kind=kind, at=at, by=by, reason=reason, old_due=old_due, new_due=new_due
    )
    uow.deadlines.add_change(change)
    return change


def replace(
    uow: SupervisionUnitOfWork, old: Deadline, new: Deadline | None, at: datetime, by: str, reason: str
) -> None:
    """``new`` restarts ``old``'s clock (or, with no ``new``, ``old`` simply stops counting).

    A live ``old`` is superseded; both sides record the restart, so each deadline explains itself.
    """
    new_due = new.due if new is not None else None
    if old.closed_at is None:
        old.status, old.closed_at = "superseded", at
        record_change(uow, old, "restart", at, by, reason, old.due, new_due)
    if new is not None:
        new.replaces_id = old.id
        record_change(uow, new, "restart", at, by, reason, old.due, new.due)


# -- timing of the reply deadline ------------------------------------------------------------------


def pending_reminders(uow: SupervisionUnitOfWork, rules: SupervisionRules, row: Deadline) -> list[tuple]:
    """``(lead, moment)`` of each reminder still to come for the current due date, earliest first.

    A reminder counts as given when one was recorded for this due date at the same moment or a
    later one: after a late check has given the 5-day reminder, the 15-day one is not sent too.
    """
    given = [r.due_at for r in uow.deadlines.reminders_for(row)]
    moments = [(lead, rules.before(row.due, lead)) for lead in rules.reminder_lead_times(row.rule)]
    return sorted(
        ((lead, moment) for lead, moment in moments if not any(at >= moment for at in given)), key=lambda pair: pair[1]
    )


def escalated(uow: SupervisionUnitOfWork, row: Deadline) -> bool:
    """Whether the deadline's current due date has been escalated."""
    return uow.deadlines.escalated(row)


def next_check(uow: SupervisionUnitOfWork, rules: SupervisionRules, row: Deadline, now: datetime) -> datetime:
    """When ``supervision.check`` next has work for the reply deadline ``row``.

    The earliest reminder still to come or the end of the deadline; ``now`` if one of them is
    already due; after an escalation, the next working-day morning (see ``operations.check``).
    """
    end = ends_at(row.due)
    if paused_since(uow, row) is not None:
        return rules.next_working_morning(now)
    if now >= end:
        return rules.next_working_morning(now) if escalated(uow, row) else now
    moments = [moment for _, moment in pending_reminders(uow, rules, row)] + [end]
    return max(min(moments), now)
