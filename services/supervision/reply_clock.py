"""The reply clock counts from signing (签收), as the domain says.

A proposal's ``reply_deadline`` is opened with the assignment, counted from the end of the answering
units' sign-for limit (``sign_for_limit_end``): an assignment not signed within its limit counts as
signed when the limit runs out, and the lateness stays on its ``sign_for_limit`` deadline. When
supervision hears that the answering units signed (``assignment.signed``), the clock starts again
from the signing: from the latest answering unit's signing (each counted no later than the end of
its own limit), recorded as a ``clock_start`` change that says which unit signed when. A due date
already moved by an extension is kept. Re-handling (``rehandling_reply``) counts from its request.
"""

from __future__ import annotations

from datetime import datetime

from shared import clock
from shared.calendar import local_date

from .models import SET_ASIDE, Deadline
from .records import SIGN_LIMIT_END, SIGNED, deadlines_of, live_reply, record_change
from .rules import SIGN_FOR_RULE, SupervisionRules, ends_at
from .unit_of_work import SupervisionUnitOfWork

COUNTS_FROM_SIGNING = (SIGNED, SIGN_LIMIT_END)


def signing_start(uow: SupervisionUnitOfWork, number: str, units: list[str]) -> tuple[datetime, str, list[str]] | None:
    """``(moment, start_event, account)``: when the reply clock of ``units`` starts, or None when
    no sign-for limit is open for them. ``account`` says, per unit, what counted."""
    current: dict[str, Deadline] = {}
    for row in deadlines_of(uow, number):
        if row.rule == SIGN_FOR_RULE and row.unit in units and row.status not in SET_ASIDE:
            current[row.unit] = row  # the newest of each unit
    if not current:
        return None
    moments, all_in_time, account = [], True, []
    for unit in units:
        row = current.get(unit)
        if row is None:
            continue
        limit_end = ends_at(row.due)
        if row.fulfilled_at is not None and row.fulfilled_at < limit_end:
            at = row.fulfilled_at
            account.append(f"{unit} signed on {local_date(at).isoformat()}")
        else:
            at, all_in_time = limit_end, False
            late = (
                f"signed late on {local_date(row.fulfilled_at).isoformat()}"
                if row.fulfilled_at is not None
                else "not signed yet"
            )
            account.append(f"{unit} {late}: counted as signed when its limit ran out on {row.due.isoformat()}")
        moments.append(at)
    return max(moments), (SIGNED if all_in_time else SIGN_LIMIT_END), account


def restart_from_signing(uow: SupervisionUnitOfWork, rules: SupervisionRules, number: str, by: str) -> Deadline | None:
    """Count the live reply deadline again from the answering units' signing; returns it if it moved."""
    row = live_reply(uow, number)
    if row is None or row.rule != "reply_deadline" or row.start_event not in COUNTS_FROM_SIGNING:
        return None
    found = signing_start(uow, number, list(row.units or []))
    if found is None:
        return None
    start, event, account = found
    if event == row.start_event and local_date(start) == row.start_date:
        return None
    computed = rules.deadline(row.rule, start)
    old_due, extended = row.due, row.due != row.original_due
    row.start_event, row.started_at, row.start_date = event, clock.as_utc(start), computed.start
    row.original_due, row.calendar = computed.due, computed.explanation
    if not extended:
        row.due = computed.due
    reason = (
        "the reply clock counts from signing: "
        + "; ".join(account)
        + (f"; the due date {old_due.isoformat()} set by an extension is kept" if extended else "")
    )
    record_change(uow, row, "clock_start", clock.now(), by, reason, old_due, row.due)
    if row.status == "missed" and clock.now() < ends_at(row.due):
        row.status = "open"
    uow.flush()
    return row
