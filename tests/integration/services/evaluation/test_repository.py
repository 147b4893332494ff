"""Evaluation's SQL adapters and the unit tier's fakes answer alike: one proposal's evaluation (a
merge heard, two rating rounds, a window closing on a silent proposer, an appeal and its decision,
the units scored and graded, the assessment) and one quarter of members' points (events booked,
attendance recorded, the period published, corrected and closed) run through the domain functions
on :class:`SqlEvaluationUnitOfWork` over a fresh database and on
:class:`FakeEvaluationUnitOfWork` give the same answers and send the same messages. So the unit
tests on the fakes say something about the service."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from services.evaluation import appeals, assessment, merged, operations, ratings
from services.evaluation.base import Base
from services.evaluation.models import Outbox
from services.evaluation.points import attendance, directory, files, ledger, periods
from services.evaluation.unit_of_work import SqlEvaluationUnitOfWork
from tests.unit.services.evaluation.fakes import FakeEvaluationUnitOfWork, FakePointsRules, FakeRules, points_book

NUMBER = "2026-0042"
LI = {"user": "member.li", "roles": ["member"]}
ZHOU = {"user": "member.zhou", "roles": ["member"]}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": "office"}
FACTS = {
    "signed_on_time": True,
    "face_to_face": False,
    "replied_on_time": True,
    "extensions": 1,
    "rehandling_rounds": 1,
    "category": "A",
    "satisfaction": ["unsatisfied"],
}


def utc(month, day, hour=9):
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


def event(event_id, name, member, role=None, subject="X-1", thread=None, **payload):
    return {
        "event_id": event_id,
        "name": name,
        "occurred_at": utc(2, 2).isoformat(),
        "subject": subject,
        "thread": thread,
        "members": [{"member": member, "role": role}],
        "payload": payload,
    }


def rating_life(uow, skipping_clock) -> list:
    """Everything the rating, appeal and scoring rules answer along one proposal's evaluation."""
    rules = FakeRules(rating_days=10, appeal_days=15)
    skipping_clock.set(utc(3, 1))
    merge = event("proposal.filed:2026-0043", "proposal.filed", "member.zhou", "lead", "2026-0043", merged_into=NUMBER)
    answers = [merged.hear(uow, merge)]
    answers.append(ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]}))
    answers.append(ratings.rate(uow, rules, NUMBER, "satisfied", "unsatisfied", "not yet", LI))
    answers.append(ratings.rate(uow, rules, "2026-0043", "unsatisfied", "unsatisfied", None, ZHOU))
    skipping_clock.set(utc(4, 1))
    answers.append(ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]}))
    answers.append(ratings.rate(uow, rules, NUMBER, "unsatisfied", "unsatisfied", "still not", LI))
    skipping_clock.set(utc(4, 12))
    answers.append(ratings.close_window(uow, rules, {"number": NUMBER, "round": 2}))
    answers.append(appeals.appeal(uow, NUMBER, "the crossing is still unsafe", LI))
    decision = {"number": NUMBER, "round": 2, "decision": "upheld", "reason": "handled", "decided_by": "c.liu"}
    answers.append(appeals.decide(uow, decision, None))
    answers.append(ratings.ratings_of(uow, NUMBER, STAFF))
    units = [
        {"unit": "transport", "role": "answering", "facts": FACTS},
        {"unit": "police", "role": "co", "facts": {"signed_on_time": False, "input": "on_time"}},
    ]
    answers.append(operations.score_handling(uow, rules, {"number": NUMBER, "units": units}, None))
    answers.append(operations.score_handling(uow, rules, {"number": NUMBER, "units": units[:1]}, None))
    answers.append(operations.grade_quality(uow, rules, {"number": NUMBER, "grade": "good", "graded_by": "c"}, None))
    answers.append(assessment.ranking(uow, rules, 2026, STAFF))
    return answers


def points_life(uow, skipping_clock) -> list:
    """Everything the points rules answer along one quarter."""
    rules = FakePointsRules([points_book()])
    skipping_clock.set(utc(3, 2))
    seed = [
        {"user": "member.li", "name": "李", "sector": "民盟"},
        {"user": "member.zhou", "name": "周", "sector": "教育"},
    ]
    answers: list = [directory.ensure_members(uow, rules, seed)]
    answers.append(ledger.book_event(uow, rules, event("e1", "opinion.submitted", "member.li", subject="a")))
    answers.append(ledger.book_event(uow, rules, event("e2", "opinion.submitted", "member.li", subject="b")))
    answers.append(ledger.book_event(uow, rules, event("e3", "consultation.case_taken", "member.zhou", thread="C")))
    answers.append(ledger.book_event(uow, rules, event("e4", "proposal.filed", "member.zhou", "lead", thread="C")))
    answers.append(ledger.book_event(uow, rules, event("e4", "proposal.filed", "member.zhou", "lead", thread="C")))
    data = {"kind": "plenary", "title": "全体会议", "held_on": "2026-03-01", "half_days": 2, "present": ["member.li"]}
    answers.append(attendance.record(uow, rules, data, STAFF, key="k-1"))
    answers.append(attendance.record(uow, rules, data, STAFF, key="k-1"))
    answers.append(files.statistics(uow, rules, STAFF, period="2026-Q1"))
    skipping_clock.set(utc(4, 2))
    answers.append(periods.publish(uow, rules, {"period": "2026-Q1"}, STAFF))
    asked = periods.ask_correction(uow, rules, "2026-Q1", {"reason": "漏记", "points": 2}, LI)
    answers.append(asked)
    answers.append(periods.decide(uow, rules, asked["id"], {"action": "apply", "points": 2, "reason": "补记"}, STAFF))
    answers.append(periods.corrections(uow, "2026-Q1", LI))
    answers.append(files.member_file(uow, rules, "member.li", LI, period="2026-Q1"))
    skipping_clock.set(utc(4, 30))
    answers.append(periods.close(uow, rules, "2026-Q1", STAFF))
    answers.append(ledger.book_event(uow, rules, event("e5", "opinion.submitted", "member.zhou", subject="c")))
    answers.append(periods.list_periods(uow, rules, STAFF))
    return answers


@pytest.fixture
def sessions(tables_of):
    return tables_of("evaluation", Base)


@pytest.mark.both_databases
@pytest.mark.parametrize("life", [rating_life, points_life], ids=["ratings", "points"])
def test_the_sql_adapter_and_the_fakes_answer_alike(sessions, skipping_clock, life):
    fake = FakeEvaluationUnitOfWork()
    expected = life(fake, skipping_clock)
    with sessions() as session:
        answers = life(SqlEvaluationUnitOfWork(session), skipping_clock)
        session.commit()
        sent = [(row.payload["name"], row.payload) for row in session.scalars(select(Outbox).order_by(Outbox.id))]

    assert answers == expected
    kept = [
        (m["name"], {k: v for k, v in m.items() if k in ("event_id", "message_id", "subject", "payload", "members")})
        for m in fake.sent
    ]
    assert [name for name, _ in kept] == [name for name, _ in sent]
    for (_, mine), (_, theirs) in zip(kept, sent, strict=True):
        assert {k: theirs.get(k) for k in mine} == mine
    assert [name for name, _ in sent] == SENT[life.__name__]


SENT = {
    "rating_life": [
        "handling.rating_opened",
        "handling.rated",
        "ratings_complete",
        "handling.rating_opened",
        "handling.rated",
        "ratings_complete",
        "appeal_lodged",
        "handling.appealed",
        "notify.appeal_lodged",
        "handling.appeal_decided",
    ],
    "points_life": ["attendance.recorded", "notify.performance.published"],
}
