"""The deadline rules as the domain states them: the reply clock starts at signing (签收), and an
assignment not signed within its limit counts as signed when the limit runs out (reminded and
escalated first); on time is judged at the unit's submission, not at staff's acceptance; pauses are
recorded with a reason and shown in the explanation. The clock starts on 2026-03-02 (a Monday)."""

from __future__ import annotations

from datetime import date

import pytest

from services.supervision import operations, queries
from services.supervision.models import Deadline, DeadlineChange, Escalation, Reminder
from shared.errors import Conflict, Forbidden

from .test_operations import (
    NUMBER,
    STAFF,
    TRANSPORT,
    assign,
    check,
    china,
    reply_deadline,  # noqa: F401
    rows,
    rules,  # noqa: F401
    uow,  # noqa: F401
    sign,
)


def test_the_reply_clock_counts_from_the_signing_not_the_assignment(uow, rules, skipping_clock):
    assign(uow, rules, signed=False)
    # Unsigned: counted from the end of the sign-for limit (2026-03-05), so due 2026-06-06.
    assert (reply_deadline(uow).start_event, reply_deadline(uow).due) == (
        "sign_for_limit_end",
        date(2026, 6, 6),
    )
    skipping_clock.set(china(2026, 3, 4, 10))
    sign(uow, "transport")
    reply = reply_deadline(uow)
    assert (reply.start_event, reply.start_date, reply.due) == ("signed", date(2026, 3, 4), date(2026, 6, 4))
    [change] = rows(uow, DeadlineChange, deadline_id=reply.id)
    assert (change.kind, change.old_due, change.new_due) == ("clock_start", date(2026, 6, 6), date(2026, 6, 4))
    explained = next(d for d in queries.deadlines(uow, rules, NUMBER, STAFF)["deadlines"] if d["unit"] is None)
    assert "3 months from signed on 2026-03-04" in explained["explanation"]
    assert "transport signed on 2026-03-04" in explained["explanation"]


def test_several_units_start_the_clock_when_the_last_one_signs(uow, rules, skipping_clock):
    assign(uow, rules, units=["transport", "education"], signed=False)
    sign(uow, "transport")
    assert reply_deadline(uow).start_event == "sign_for_limit_end"  # education has not signed
    skipping_clock.set(china(2026, 3, 3, 9))
    sign(uow, "education")
    assert (reply_deadline(uow).start_event, reply_deadline(uow).due) == ("signed", date(2026, 6, 3))


def test_the_sign_for_limit_is_reminded_escalated_and_then_counts_as_signed(uow, rules, skipping_clock):
    assign(uow, rules, signed=False)
    skipping_clock.set(china(2026, 3, 5, 8))  # the last working day of the limit
    assert check(uow, rules)["signing"] == {"transport": "remind"}
    sign_for = rows(uow, Deadline, rule="sign_for_limit")[0]
    assert [r.for_due for r in rows(uow, Reminder, deadline_id=sign_for.id)] == [date(2026, 3, 5)]
    skipping_clock.set(china(2026, 3, 6, 0, 5))
    assert check(uow, rules)["signing"] == {"transport": "escalate"}
    assert [(e.unit, e.due) for e in rows(uow, Escalation, deadline_id=sign_for.id)] == [
        ("transport", date(2026, 3, 5))
    ]
    assert "signing" not in check(uow, rules)  # escalated once; nothing more to do for it
    # It counts as signed when the limit ran out: the reply is due 3 months from 2026-03-06.
    assert reply_deadline(uow).due == date(2026, 6, 6)
    skipping_clock.set(china(2026, 3, 10, 10))
    sign(uow, "transport")  # a late signing does not move the clock later
    reply = reply_deadline(uow)
    assert (reply.start_event, reply.due) == ("sign_for_limit_end", date(2026, 6, 6))
    assert sign_for.status == "missed"
    skipping_clock.set(china(2026, 5, 20, 10))
    assert operations.close(uow, rules, {"number": NUMBER}, None)["signed_on_time"] is False


def test_on_time_is_judged_at_the_submission_not_the_acceptance(uow, rules, skipping_clock):
    assign(uow, rules)
    skipping_clock.set(china(2026, 6, 5, 10))  # staff accept three days after the due date
    result = operations.close(uow, rules, {"number": NUMBER, "replied_at": "2026-06-02T16:00:00+08:00"}, None)
    assert result["replied_on_time"] is True
    assert reply_deadline(uow).status == "met"


def test_a_submission_after_the_due_day_is_late_even_if_accepted_at_once(uow, rules, skipping_clock):
    assign(uow, rules)
    skipping_clock.set(china(2026, 6, 3, 0, 30))
    result = operations.close(uow, rules, {"number": NUMBER, "replied_at": "2026-06-03T00:10:00+08:00"}, None)
    assert result["replied_on_time"] is False


def test_the_extension_cap_counts_from_signing(uow, rules, skipping_clock):
    assign(uow, rules, signed=False)
    skipping_clock.set(china(2026, 3, 4, 10))
    sign(uow, "transport")
    # 6 months from signing on 2026-03-04: 2026-09-04 is allowed (from the assignment it would not be).
    assert operations.extend(uow, rules, {"number": NUMBER, "until": "2026-09-04"}, STAFF)["reply_due"] == "2026-09-04"


def test_a_pause_is_recorded_with_its_reason_stops_checks_and_moves_the_due_date_on_resume(uow, rules, skipping_clock):
    assign(uow, rules)
    skipping_clock.set(china(2026, 5, 10, 10))
    operations.pause(uow, rules, {"number": NUMBER, "reason": "the proposer asked to wait for the court ruling"}, STAFF)
    with pytest.raises(Conflict):
        operations.pause(uow, rules, {"number": NUMBER, "reason": "again"}, STAFF)
    skipping_clock.set(china(2026, 6, 5, 10))  # past the old due date: no escalation while paused
    assert check(uow, rules)["action"] == "paused"
    assert rows(uow, Escalation) == []
    view = next(d for d in queries.deadlines(uow, rules, NUMBER, STAFF)["deadlines"] if d["unit"] is None)
    assert view["paused"] is True and "PAUSED since 2026-05-10 (the proposer asked to wait" in view["explanation"]

    result = operations.resume(uow, rules, {"number": NUMBER, "reason": "the ruling is out"}, STAFF)
    assert result == {"number": NUMBER, "due": "2026-06-28", "paused_days": 26}
    changes = [
        (c.kind, c.old_due, c.new_due)
        for c in rows(uow, DeadlineChange, deadline_id=reply_deadline(uow).id)
        if c.kind in ("pause", "resume")
    ]
    assert changes == [("pause", date(2026, 6, 2), date(2026, 6, 2)), ("resume", date(2026, 6, 2), date(2026, 6, 28))]
    view = next(d for d in queries.deadlines(uow, rules, NUMBER, STAFF)["deadlines"] if d["unit"] is None)
    assert view["paused"] is False and "Pause on 2026-05-10 by staff.wang" in view["explanation"]
    assert "the ruling is out; paused 26 day(s) since 2026-05-10" in view["explanation"]
    assert view["status"] == "open" and check(uow, rules)["action"] == "none"


def test_only_staff_pause_and_a_deadline_not_paused_cannot_resume(uow, rules):
    assign(uow, rules)
    with pytest.raises(Forbidden):
        operations.pause(uow, rules, {"number": NUMBER, "reason": "x"}, TRANSPORT)
    with pytest.raises(Conflict):
        operations.resume(uow, rules, {"number": NUMBER, "reason": "x"}, STAFF)
