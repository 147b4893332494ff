"""Supervision hears what units did (``assignment.signed``, ``assignment.input_sent``) and keeps
time on it: sign-for limits met or missed on facts, co-units' input deadlines opened with the
assignment, reminded, escalated and closed by the input; reminders and escalations are published
as ``notify.<kind>`` for the gateway's inbox. The clock starts on 2026-03-02 (a Monday), 17:00 in
Beijing."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from services.supervision import operations, queries, unit_facts
from services.supervision.models import Base, Deadline, Escalation, Outbox, Reminder, UnitFact
from services.supervision.rules import RulebookRules
from shared import clock, contracts
from shared.calendar import CHINA_TZ
from shared.errors import InvalidInput

NUMBER = "2026-0001"
STAFF = {"user": "staff.wang", "roles": ["staff"]}


def china(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.fixture
def session(tmp_path, skipping_clock):
    engine = create_engine(f"sqlite:///{tmp_path}/supervision.db")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        yield s
    engine.dispose()


@pytest.fixture(scope="module")
def rules():
    return RulebookRules()


def lead_co(session, rules, number=NUMBER):
    """Lead + co-unit, both signing at once (the co-unit tests are about what follows)."""
    opened = operations.open_deadlines(
        session, rules, {"number": number, "units": ["transport", "education"], "answering_units": ["transport"]}, STAFF
    )
    for unit in ("transport", "education"):
        unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, unit, number=number))
    return operations.check(session, rules, {"number": number}, None) | {"deadlines": opened["deadlines"]}


def single(session, rules, number=NUMBER, unit="transport", signed=False):
    opened = operations.open_deadlines(session, rules, {"number": number, "units": [unit]}, STAFF)
    if signed:
        unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, unit, number=number))
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


def deadline(session, rule, unit, number=NUMBER):
    return session.scalars(
        select(Deadline)
        .where(Deadline.number == number, Deadline.rule == rule, Deadline.unit == unit)
        .order_by(Deadline.id)
    ).all()[-1]


def notify_events(session):
    return [
        row.payload
        for row in session.scalars(select(Outbox).order_by(Outbox.id))
        if row.routing_key.startswith(contracts.NOTIFY_PREFIX)
    ]


def close(session, rules, number=NUMBER):
    return operations.close(session, rules, {"number": number}, None)


# -- signing -------------------------------------------------------------------------------------


def test_signing_within_the_limit_is_met_and_signed_on_time(session, rules, skipping_clock):
    single(session, rules)
    skipping_clock.set(china(2026, 3, 4, 10))
    heard = unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "transport"))

    row = deadline(session, "sign_for_limit", "transport")
    assert heard["status"] == "met" and (row.status, row.fulfilled_by) == ("met", "handler.zhao")
    assert row.closed_at is not None
    skipping_clock.set(china(2026, 5, 20, 10))
    closed = close(session, rules)
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (True, True)
    assert closed["units"] == {"transport": {"replied_on_time": True, "signed_on_time": True}}


def test_signing_after_the_limit_is_missed_and_not_signed_on_time(session, rules, skipping_clock):
    single(session, rules)
    skipping_clock.set(china(2026, 3, 6, 0, 1))  # the limit (3 working days) ended with 2026-03-05
    unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "transport"))

    assert deadline(session, "sign_for_limit", "transport").status == "missed"
    skipping_clock.set(china(2026, 5, 20, 10))
    closed = close(session, rules)
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (True, False)
    assert closed["units"] == {"transport": {"replied_on_time": True, "signed_on_time": False}}
    explained = queries.deadlines(session, rules, NUMBER, STAFF)["deadlines"]
    signing = next(d for d in explained if d["rule"] == "sign_for_limit")
    assert signing["fulfilled"]["by"] == "handler.zhao" and signing["status"] == "missed"


def test_the_time_of_signing_counts_not_the_time_the_event_is_heard(session, rules, skipping_clock):
    single(session, rules)
    signed = china(2026, 3, 5, 23, 0)
    skipping_clock.set(china(2026, 3, 6, 9))
    unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "transport", at=signed))
    assert deadline(session, "sign_for_limit", "transport").status == "met"


def test_a_redelivered_event_changes_nothing(session, rules, skipping_clock):
    single(session, rules)
    body = event(contracts.ASSIGNMENT_SIGNED, "transport")
    first = unit_facts.hear(session, body)
    skipping_clock.advance(days=10)
    again = unit_facts.hear(session, body)
    assert first == again
    assert len(session.scalars(select(UnitFact)).all()) == 1
    assert deadline(session, "sign_for_limit", "transport").status == "met"


def test_a_signing_heard_before_the_clocks_open_is_applied_when_they_do(session, rules, skipping_clock):
    heard = unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "transport"))
    assert heard["deadline_id"] is None
    skipping_clock.advance(seconds=2)
    single(session, rules)
    row = deadline(session, "sign_for_limit", "transport")
    assert row.status == "met" and session.get(UnitFact, heard["event_id"]).deadline_id == row.id


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda e: e.update(name="assignment.created"), "name"),
        (lambda e: e["payload"].pop("unit"), "unit"),
        (lambda e: e["payload"].update(at="yesterday"), "at"),
    ],
    ids=["unknown_event", "no_unit", "bad_time"],
)
def test_a_malformed_event_is_refused_and_nothing_kept(session, rules, change, field):
    single(session, rules)
    body = event(contracts.ASSIGNMENT_SIGNED, "transport")
    change(body)
    with pytest.raises(InvalidInput) as refused:
        unit_facts.hear(session, body)
    assert field in refused.value.details
    assert session.scalars(select(UnitFact)).all() == []
    assert deadline(session, "sign_for_limit", "transport").status == "open"


# -- co-units' input ----------------------------------------------------------------------------------


def test_a_co_unit_gets_an_input_deadline_with_its_provenance_the_lead_does_not(session, rules):
    opened = lead_co(session, rules)["deadlines"]
    inputs = [(d["unit"], d["due"]) for d in opened if d["rule"] == "co_unit_input"]
    assert inputs == [("education", "2026-04-02")]  # one month from the assignment
    row = deadline(session, "co_unit_input", "education")
    assert (row.start_event, row.amount, row.amount_unit, row.rulebook) == ("assigned", 1, "months", "proposal")
    # The first check comes for the co-unit's first reminder, 15 days before its end.
    assert datetime.fromisoformat(lead_co(session, rules, "2026-0002")["next_check"]) == china(2026, 3, 19)


def test_the_co_units_input_closes_its_deadline(session, rules, skipping_clock):
    lead_co(session, rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    unit_facts.hear(session, event(contracts.ASSIGNMENT_INPUT_SENT, "education", by="handler.qian"))
    row = deadline(session, "co_unit_input", "education")
    assert (row.status, row.fulfilled_by) == ("met", "handler.qian") and row.closed_at is not None
    # No more checks for it: the next one is the reply deadline's first reminder.
    assert datetime.fromisoformat(operations.check(session, rules, {"number": NUMBER}, None)["next_check"]) == china(
        2026, 5, 19
    )


def test_a_co_units_input_deadline_is_reminded_then_escalated_and_people_are_told(session, rules, skipping_clock):
    lead_co(session, rules)
    skipping_clock.set(china(2026, 3, 19, 0, 5))
    reminded = operations.check(session, rules, {"number": NUMBER}, None)
    assert (reminded["action"], reminded["co_units"]) == ("none", {"education": "remind"})
    row = deadline(session, "co_unit_input", "education")
    assert [r.for_due for r in session.scalars(select(Reminder).where(Reminder.deadline_id == row.id))] == [
        date(2026, 4, 2)
    ]

    skipping_clock.set(china(2026, 4, 3, 0, 5))
    escalated = operations.check(session, rules, {"number": NUMBER}, None)
    assert escalated["co_units"] == {"education": "escalate"}
    assert [(e.unit, e.due) for e in session.scalars(select(Escalation).where(Escalation.deadline_id == row.id))] == [
        ("education", date(2026, 4, 2))
    ]
    assert operations.check(session, rules, {"number": NUMBER}, None)["co_units"] == {"education": "none"}

    told = [contracts.EventSchema().load(e) for e in notify_events(session)]
    assert [(e["name"], e["payload"]["recipients"]) for e in told] == [
        ("notify.deadline_reminder", ["unit:education"]),
        ("notify.deadline_escalation", ["unit:education", "role:staff"]),
    ]
    assert all(e["subject"] == NUMBER for e in told)


def test_reply_reminders_and_escalations_are_published_once_each(session, rules, skipping_clock):
    operations.open_deadlines(
        session,
        rules,
        {"number": NUMBER, "units": ["transport"], "key_proposal": True, "supervising_leader": "vice.chair.chen"},
        STAFF,
    )
    unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "transport"))
    skipping_clock.set(china(2026, 5, 19, 8))
    assert operations.check(session, rules, {"number": NUMBER}, None)["action"] == "remind"
    assert operations.check(session, rules, {"number": NUMBER}, None)["action"] == "none"
    skipping_clock.set(china(2026, 6, 3, 8))
    assert operations.check(session, rules, {"number": NUMBER}, None)["action"] == "escalate"
    assert operations.check(session, rules, {"number": NUMBER}, None)["action"] == "none"

    told = [contracts.EventSchema().load(e) for e in notify_events(session)]
    assert [(e["name"], e["payload"]["recipients"]) for e in told] == [
        ("notify.deadline_reminder", ["unit:transport"]),
        ("notify.deadline_escalation", ["unit:transport", "role:staff", "vice.chair.chen"]),
    ]
    assert len({e["event_id"] for e in told}) == 2


def test_an_approved_extension_is_published_for_the_units_record(session, rules, skipping_clock):
    single(session, rules, signed=True)
    operations.extend(
        session,
        rules,
        {"number": NUMBER, "until": "2026-08-31", "reason": "budget"},
        {"user": "staff.li", "roles": ["staff"]},
    )
    [event] = [
        contracts.EventSchema().load(row.payload)
        for row in session.scalars(select(Outbox))
        if row.routing_key == contracts.DEADLINE_EXTENDED
    ]
    assert event["subject"] == NUMBER
    assert event["payload"] == {
        "number": NUMBER,
        "until": "2026-08-31",
        "previous_due": "2026-06-02",
        "by": "staff.li",
        "reason": "budget",
    }


# -- each unit's facts for its handling score -------------------------------------------------------


def test_closing_judges_each_answering_unit_at_its_own_submission_and_signing(session, rules, skipping_clock):
    # 分办: both units answer; health signs after its limit and replies after the deadline.
    operations.open_deadlines(session, rules, {"number": NUMBER, "units": ["transport", "health"]}, STAFF)
    unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "transport"))
    skipping_clock.set(china(2026, 3, 20, 10))
    unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, "health", by="handler.qian"))
    due = deadline(session, "reply_deadline", None).due
    early = china(due.year, due.month, due.day, 10) - timedelta(days=5)
    late = china(due.year, due.month, due.day, 10) + timedelta(days=3)
    skipping_clock.set(late)
    replies = [
        {"unit": "transport", "submitted_at": early.isoformat()},
        {"unit": "health", "submitted_at": late.isoformat()},
    ]
    closed = operations.close(
        session, rules, {"number": NUMBER, "replied_at": late.isoformat(), "replies": replies}, None
    )
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (False, False)  # the proposal's, as before
    assert closed["units"] == {
        "transport": {"replied_on_time": True, "signed_on_time": True},
        "health": {"replied_on_time": False, "signed_on_time": False},
    }
    assert closed["co_units"] == {}


def test_closing_says_whether_each_co_units_input_came_on_time_late_or_not_at_all(session, rules, skipping_clock):
    units = ["transport", "education", "health", "water"]
    operations.open_deadlines(
        session, rules, {"number": NUMBER, "units": units, "answering_units": ["transport"]}, STAFF
    )
    for unit in units:
        unit_facts.hear(session, event(contracts.ASSIGNMENT_SIGNED, unit))
    skipping_clock.set(china(2026, 3, 20, 10))
    unit_facts.hear(session, event(contracts.ASSIGNMENT_INPUT_SENT, "education"))
    skipping_clock.set(china(2026, 4, 10, 10))  # the input was due 2026-04-02
    unit_facts.hear(session, event(contracts.ASSIGNMENT_INPUT_SENT, "health"))
    skipping_clock.set(china(2026, 5, 20, 10))
    closed = close(session, rules)
    assert closed["units"] == {"transport": {"replied_on_time": True, "signed_on_time": True}}
    assert closed["co_units"] == {
        "education": {"signed_on_time": True, "input": "on_time"},
        "health": {"signed_on_time": True, "input": "late"},
        "water": {"signed_on_time": True, "input": "not_sent"},
    }
