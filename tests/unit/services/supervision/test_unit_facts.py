"""Supervision hears what units did (``assignment.signed``, ``assignment.input_sent``) and keeps
time on it: sign-for limits met or missed on facts, co-units' input deadlines opened with the
assignment, reminded, escalated and closed by the input; reminders and escalations are published
as ``notify.<kind>`` for the gateway's inbox. All on the fakes of supervision's ports (no database). The clock starts on 2026-03-02 (a Monday), 17:00 in
Beijing."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from services.supervision import operations, queries, unit_facts
from services.supervision.models import Escalation, Reminder, UnitFact
from services.supervision.rules import RulebookRules
from shared import clock, contracts
from shared.calendar import CHINA_TZ
from shared.errors import InvalidInput

from .fakes import FakeSupervisionUnitOfWork

NUMBER = "2026-0001"
STAFF = {"user": "staff.wang", "roles": ["staff"]}


def china(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.fixture
def uow(skipping_clock):
    return FakeSupervisionUnitOfWork()


@pytest.fixture(scope="module")
def rules():
    return RulebookRules()


def lead_co(uow, rules, number=NUMBER):
    """Lead + co-unit, both signing at once (the co-unit tests are about what follows)."""
    opened = operations.open_deadlines(
        uow, rules, {"number": number, "units": ["transport", "education"], "answering_units": ["transport"]}, STAFF
    )
    for unit in ("transport", "education"):
        unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, unit, number=number), rules)
    return operations.check(uow, rules, {"number": number}, None) | {"deadlines": opened["deadlines"]}


def single(uow, rules, number=NUMBER, unit="transport", signed=False):
    opened = operations.open_deadlines(uow, rules, {"number": number, "units": [unit]}, STAFF)
    if signed:
        unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, unit, number=number), rules)
    return opened


def event(name, unit, at=None, number=NUMBER, event_id=None, by="handler.zhao"):
    return {
        "event_id": event_id or f"{name}:{uuid.uuid4().hex}",
        "name": name,
        "occurred_at": clock.now().isoformat(),
        "subject": number,
        "thread": None,
        "members": [],
        "payload": {"unit": unit, "assignment_id": 7, "at": (at or clock.now()).isoformat(), "by": by, "round": 1},
    }


def deadline(uow, rule, unit, number=NUMBER):
    return [row for row in uow.deadlines.of_proposal(number) if row.rule == rule and row.unit == unit][-1]


def notify_events(uow):
    return [e for e in uow.events() if e["name"].startswith(contracts.NOTIFY_PREFIX)]


def close(uow, rules, number=NUMBER):
    return operations.close(uow, rules, {"number": number}, None)


# -- signing -------------------------------------------------------------------------------------


def test_signing_within_the_limit_is_met_and_signed_on_time(uow, rules, skipping_clock):
    single(uow, rules)
    skipping_clock.set(china(2026, 3, 4, 10))
    heard = unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "transport"), rules)

    row = deadline(uow, "sign_for_limit", "transport")
    assert heard["status"] == "met" and (row.status, row.fulfilled_by) == ("met", "handler.zhao")
    assert row.closed_at is not None
    skipping_clock.set(china(2026, 5, 20, 10))
    closed = close(uow, rules)
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (True, True)
    assert closed["units"] == {"transport": {"replied_on_time": True, "signed_on_time": True}}


def test_signing_after_the_limit_is_missed_and_not_signed_on_time(uow, rules, skipping_clock):
    single(uow, rules)
    skipping_clock.set(china(2026, 3, 6, 0, 1))  # the limit (3 working days) ended with 2026-03-05
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "transport"), rules)

    assert deadline(uow, "sign_for_limit", "transport").status == "missed"
    skipping_clock.set(china(2026, 5, 20, 10))
    closed = close(uow, rules)
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (True, False)
    assert closed["units"] == {"transport": {"replied_on_time": True, "signed_on_time": False}}
    explained = queries.deadlines(uow, rules, NUMBER, STAFF)["deadlines"]
    signing = next(d for d in explained if d["rule"] == "sign_for_limit")
    assert signing["fulfilled"]["by"] == "handler.zhao" and signing["status"] == "missed"


def test_the_time_of_signing_counts_not_the_time_the_event_is_heard(uow, rules, skipping_clock):
    single(uow, rules)
    signed = china(2026, 3, 5, 23, 0)
    skipping_clock.set(china(2026, 3, 6, 9))
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "transport", at=signed), rules)
    assert deadline(uow, "sign_for_limit", "transport").status == "met"


def test_a_redelivered_event_changes_nothing(uow, rules, skipping_clock):
    single(uow, rules)
    body = event(contracts.ASSIGNMENT_SIGNED, "transport")
    first = unit_facts.hear(uow, body, rules)
    skipping_clock.advance(days=10)
    again = unit_facts.hear(uow, body, rules)
    assert first == again
    assert len(uow.rows(UnitFact)) == 1
    assert deadline(uow, "sign_for_limit", "transport").status == "met"


def test_a_signing_heard_before_the_clocks_open_is_applied_when_they_do(uow, rules, skipping_clock):
    heard = unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "transport"), rules)
    assert heard["deadline_id"] is None
    skipping_clock.advance(seconds=2)
    single(uow, rules)
    row = deadline(uow, "sign_for_limit", "transport")
    assert row.status == "met" and uow.deadlines.fact(heard["event_id"]).deadline_id == row.id


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda e: e.update(name="assignment.created"), "name"),
        (lambda e: e["payload"].pop("unit"), "unit"),
        (lambda e: e["payload"].update(at="yesterday"), "at"),
    ],
    ids=["unknown_event", "no_unit", "bad_time"],
)
def test_a_malformed_event_is_refused_and_nothing_kept(uow, rules, change, field):
    single(uow, rules)
    body = event(contracts.ASSIGNMENT_SIGNED, "transport")
    change(body)
    with pytest.raises(InvalidInput) as refused:
        unit_facts.hear(uow, body, rules)
    assert field in refused.value.details
    assert uow.rows(UnitFact) == []
    assert deadline(uow, "sign_for_limit", "transport").status == "open"


# -- co-units' input ----------------------------------------------------------------------------------


def test_a_co_unit_gets_an_input_deadline_with_its_provenance_the_lead_does_not(uow, rules):
    opened = lead_co(uow, rules)["deadlines"]
    inputs = [(d["unit"], d["due"]) for d in opened if d["rule"] == "co_unit_input"]
    assert inputs == [("education", "2026-04-02")]  # one month from the assignment
    row = deadline(uow, "co_unit_input", "education")
    assert (row.start_event, row.amount, row.amount_unit, row.rulebook) == ("assigned", 1, "months", "proposal")
    # The first check comes for the co-unit's first reminder, 15 days before its end.
    assert datetime.fromisoformat(lead_co(uow, rules, "2026-0002")["next_check"]) == china(2026, 3, 19)


def test_the_co_units_input_closes_its_deadline(uow, rules, skipping_clock):
    lead_co(uow, rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_INPUT_SENT, "education", by="handler.qian"), rules)
    row = deadline(uow, "co_unit_input", "education")
    assert (row.status, row.fulfilled_by) == ("met", "handler.qian") and row.closed_at is not None
    # No more checks for it: the next one is the reply deadline's first reminder.
    assert datetime.fromisoformat(operations.check(uow, rules, {"number": NUMBER}, None)["next_check"]) == china(
        2026, 5, 19
    )


def test_a_co_units_input_deadline_is_reminded_then_escalated_and_people_are_told(uow, rules, skipping_clock):
    lead_co(uow, rules)
    skipping_clock.set(china(2026, 3, 19, 0, 5))
    reminded = operations.check(uow, rules, {"number": NUMBER}, None)
    assert (reminded["action"], reminded["co_units"]) == ("none", {"education": "remind"})
    row = deadline(uow, "co_unit_input", "education")
    assert [r.for_due for r in uow.rows(Reminder, deadline_id=row.id)] == [date(2026, 4, 2)]

    skipping_clock.set(china(2026, 4, 3, 0, 5))
    escalated = operations.check(uow, rules, {"number": NUMBER}, None)
    assert escalated["co_units"] == {"education": "escalate"}
    assert [(e.unit, e.due) for e in uow.rows(Escalation, deadline_id=row.id)] == [("education", date(2026, 4, 2))]
    assert operations.check(uow, rules, {"number": NUMBER}, None)["co_units"] == {"education": "none"}

    told = notify_events(uow)
    assert [(e["name"], e["payload"]["recipients"]) for e in told] == [
        ("notify.deadline_reminder", ["unit:education"]),
        ("notify.deadline_escalation", ["unit:education", "role:staff"]),
    ]
    assert all(e["subject"] == NUMBER for e in told)


def test_reply_reminders_and_escalations_are_published_once_each(uow, rules, skipping_clock):
    operations.open_deadlines(
        uow,
        rules,
        {"number": NUMBER, "units": ["transport"], "key_proposal": True, "supervising_leader": "vice.chair.chen"},
        STAFF,
    )
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "transport"), rules)
    skipping_clock.set(china(2026, 5, 19, 8))
    assert operations.check(uow, rules, {"number": NUMBER}, None)["action"] == "remind"
    assert operations.check(uow, rules, {"number": NUMBER}, None)["action"] == "none"
    skipping_clock.set(china(2026, 6, 3, 8))
    assert operations.check(uow, rules, {"number": NUMBER}, None)["action"] == "escalate"
    assert operations.check(uow, rules, {"number": NUMBER}, None)["action"] == "none"

    told = notify_events(uow)
    assert [(e["name"], e["payload"]["recipients"]) for e in told] == [
        ("notify.deadline_reminder", ["unit:transport"]),
        ("notify.deadline_escalation", ["unit:transport", "role:staff", "vice.chair.chen"]),
    ]
    assert len({e["event_id"] for e in told}) == 2


def test_an_approved_extension_is_published_for_the_units_record(uow, rules, skipping_clock):
    single(uow, rules, signed=True)
    operations.extend(
        uow,
        rules,
        {"number": NUMBER, "until": "2026-08-31", "reason": "budget"},
        {"user": "staff.li", "roles": ["staff"]},
    )
    [event] = uow.events(contracts.DEADLINE_EXTENDED)
    assert event["subject"] == NUMBER
    assert event["payload"] == {
        "number": NUMBER,
        "until": "2026-08-31",
        "previous_due": "2026-06-02",
        "by": "staff.li",
        "reason": "budget",
        "request_id": None,  # staff extended without a unit's request
    }


# -- each unit's facts for its handling score -------------------------------------------------------


def test_closing_judges_each_answering_unit_at_its_own_submission_and_signing(uow, rules, skipping_clock):
    # 分办: both units answer; health signs after its limit and replies after the deadline.
    operations.open_deadlines(uow, rules, {"number": NUMBER, "units": ["transport", "health"]}, STAFF)
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "transport"), rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, "health", by="handler.qian"), rules)
    due = deadline(uow, "reply_deadline", None).due
    early = china(due.year, due.month, due.day, 10) - timedelta(days=5)
    late = china(due.year, due.month, due.day, 10) + timedelta(days=3)
    skipping_clock.set(late)
    replies = [
        {"unit": "transport", "submitted_at": early.isoformat()},
        {"unit": "health", "submitted_at": late.isoformat()},
    ]
    closed = operations.close(uow, rules, {"number": NUMBER, "replied_at": late.isoformat(), "replies": replies}, None)
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (False, False)  # the proposal's, as before
    assert closed["units"] == {
        "transport": {"replied_on_time": True, "signed_on_time": True},
        "health": {"replied_on_time": False, "signed_on_time": False},
    }
    assert closed["co_units"] == {}


def test_closing_says_whether_each_co_units_input_came_on_time_late_or_not_at_all(uow, rules, skipping_clock):
    units = ["transport", "education", "health", "water"]
    operations.open_deadlines(uow, rules, {"number": NUMBER, "units": units, "answering_units": ["transport"]}, STAFF)
    for unit in units:
        unit_facts.hear(uow, event(contracts.ASSIGNMENT_SIGNED, unit), rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_INPUT_SENT, "education"), rules)
    skipping_clock.set(china(2026, 4, 10, 10))  # the input was due 2026-04-02
    unit_facts.hear(uow, event(contracts.ASSIGNMENT_INPUT_SENT, "health"), rules)
    skipping_clock.set(china(2026, 5, 20, 10))
    closed = close(uow, rules)
    assert closed["units"] == {"transport": {"replied_on_time": True, "signed_on_time": True}}
    assert closed["co_units"] == {
        "education": {"signed_on_time": True, "input": "on_time"},
        "health": {"signed_on_time": True, "input": "late"},
        "water": {"signed_on_time": True, "input": "not_sent"},
    }
