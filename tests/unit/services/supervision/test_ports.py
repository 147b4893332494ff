"""Supervision's rules need nothing but its ports: on an in-memory unit of work and a rulebook of
calendar days (``tests/unit/services/supervision/fakes.py``), a reply deadline is opened, reminded, escalated,
listed overdue, extended and closed, with what people are told sent through the unit of work. No
database, no rulebook file, no calendar. The clock starts on 2026-03-02 10:00 in Beijing."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest

from services.supervision import operations, queries, unit_facts
from services.supervision.models import Escalation, Reminder
from services.supervision.repository import DeadlineRepository, KeyProposalRepository
from services.supervision.rules import SupervisionRules
from services.supervision.unit_of_work import SupervisionUnitOfWork
from shared import clock, contracts
from shared.calendar import CHINA_TZ
from shared.errors import BusinessError

from .fakes import (
    DuplicateRow,
    FakeDeadlineRepository,
    FakeKeyProposalRepository,
    FakeRules,
    FakeSupervisionUnitOfWork,
)

NUMBER = "2026-0007"
STAFF = {"user": "staff.wang", "roles": ["staff"]}
LEADER = "vice.chair.chen"
DAYS = {
    "sign_for_limit": 3,
    "objection_window": 5,
    "co_unit_input": 10,
    "reply_deadline": 30,
    "rehandling_reply": 30,
    "max_extension": 60,
}


def china(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.fixture
def uow(skipping_clock):
    skipping_clock.set(china(2026, 3, 2, 10))
    return FakeSupervisionUnitOfWork()


@pytest.fixture
def rules():
    return FakeRules(DAYS, remind_days_before=2)


def open_and_sign(uow, rules):
    """A key proposal given to transport, which signs at once: the reply clock counts from now."""
    operations.open_deadlines(
        uow,
        rules,
        {"number": NUMBER, "units": ["transport"], "key_proposal": True, "supervising_leader": LEADER},
        STAFF,
    )
    signed = {
        "event_id": f"{contracts.ASSIGNMENT_SIGNED}:{uuid.uuid4().hex}",
        "name": contracts.ASSIGNMENT_SIGNED,
        "occurred_at": clock.now().isoformat(),
        "subject": NUMBER,
        "payload": {"unit": "transport", "assignment_id": 1, "at": clock.now().isoformat(), "by": "handler.sun"},
    }
    return unit_facts.hear(uow, signed, rules)


def check(uow, rules):
    return operations.check(uow, rules, {"number": NUMBER}, None)


def test_the_fakes_are_the_ports():
    assert issubclass(FakeSupervisionUnitOfWork, SupervisionUnitOfWork)
    assert issubclass(FakeDeadlineRepository, DeadlineRepository)
    assert issubclass(FakeKeyProposalRepository, KeyProposalRepository)
    assert issubclass(FakeRules, SupervisionRules)


def test_a_reply_deadline_is_reminded_then_escalated_once_and_people_are_told(uow, rules, skipping_clock):
    assert open_and_sign(uow, rules)["status"] == "met"  # the sign-for limit, met on the fact
    assert uow.locked == [f"supervision:{NUMBER}", f"supervision:{NUMBER}"]  # opening, then hearing
    reply = [row for row in uow.deadlines.of_proposal(NUMBER) if row.rule == "reply_deadline"][-1]
    assert (reply.start_event, reply.due, reply.rulebook) == ("signed", date(2026, 4, 1), "fake")

    skipping_clock.set(china(2026, 3, 31, 8))  # two days before the end of 04-01
    assert check(uow, rules)["action"] == "remind"
    assert check(uow, rules)["action"] == "none"  # each lead time reminds once
    [reminder] = uow.rows(Reminder)
    assert (reminder.deadline_id, reminder.for_due, reminder.lead_amount) == (reply.id, date(2026, 4, 1), 2)

    skipping_clock.set(china(2026, 4, 2, 0, 1))
    escalated = check(uow, rules)
    assert escalated == {"action": "escalate", "next_check": "2026-04-02T09:00:00+08:00"}
    assert check(uow, rules)["action"] == "none"  # once per due date
    assert [(e.deadline_id, e.unit, e.due) for e in uow.rows(Escalation)] == [(reply.id, "transport", reply.due)]
    assert reply.status == "missed"

    told = [(e["name"], e["payload"]["recipients"]) for e in uow.events() if e["name"].startswith("notify.")]
    assert told == [
        ("notify.deadline_reminder", ["unit:transport"]),
        ("notify.deadline_escalation", ["unit:transport", "role:staff", LEADER]),
    ]
    # Said in Chinese, the deadline by its name, the lead time in words (not reply_deadline, working_days).
    texts = [e["payload"]["text"] for e in uow.events() if e["name"].startswith("notify.")]
    assert texts[0].startswith(f"提案 {NUMBER} 的答复期限将于 2026-04-01 到期") and "提前 2" in texts[0]
    assert texts[1] == f"提案 {NUMBER} 的答复期限已于 2026-04-01 届满，尚未答复，已转督办。"
    assert not any(code in text for text in texts for code in ("reply_deadline", "working_days", "days"))
    [overdue] = queries.overdue(uow, STAFF)["units"]
    assert (overdue["unit"], [item["kind"] for item in overdue["overdue"]]) == ("transport", ["reply"])


def test_an_extension_moves_the_due_date_and_tells_the_units_record(uow, rules, skipping_clock):
    open_and_sign(uow, rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    params = {"number": NUMBER, "until": "2026-04-20", "reason": "survey", "request_id": 7}
    extended = operations.extend(uow, rules, params, STAFF)
    assert extended["reply_due"] == "2026-04-20"
    [event] = uow.events(contracts.DEADLINE_EXTENDED)
    assert event["payload"] == {
        "number": NUMBER,
        "until": "2026-04-20",
        "previous_due": "2026-04-01",
        "by": "staff.wang",
        "reason": "survey",
        "request_id": 7,  # the unit's request staff approved: the assignment service marks that one
    }
    with pytest.raises(BusinessError) as refused:  # the cap: 60 days from signing on 03-02
        operations.extend(uow, rules, {"number": NUMBER, "until": "2026-05-02", "reason": ""}, STAFF)
    assert refused.value.code == "extension_too_long" and "2026-05-01" in refused.value.message

    skipping_clock.set(china(2026, 4, 10, 10))
    assert operations.close(uow, rules, {"number": NUMBER}, None) == {
        "replied_on_time": True,
        "signed_on_time": True,
        "units": {"transport": {"replied_on_time": True, "signed_on_time": True}},
        "co_units": {},
    }
    assert queries.overdue(uow, STAFF)["units"] == []


def test_the_key_proposal_is_registered_and_announced_once(uow, rules):
    open_and_sign(uow, rules)
    assert uow.key_proposals.get(NUMBER).supervising_leader == LEADER
    [selected] = uow.events("proposal.key_selected")
    assert (selected["event_id"], selected["payload"]) == (
        f"proposal.key_selected:{NUMBER}",
        {"supervising_leader": LEADER},
    )


def test_the_fake_refuses_what_the_tables_refuse(uow, rules):
    open_and_sign(uow, rules)
    reply = [row for row in uow.deadlines.of_proposal(NUMBER) if row.rule == "reply_deadline"][-1]
    twice = dict(number=NUMBER, deadline_id=reply.id, due=reply.due, unit="transport", escalated_at=clock.now())
    uow.deadlines.add_escalation(Escalation(**twice))
    with pytest.raises(DuplicateRow):
        uow.deadlines.add_escalation(Escalation(**twice))
