"""The points ledger, attendance and periods on their ports alone: the in-memory unit of work of
``tests/unit/services/evaluation/fakes.py`` and a points rulebook written here (no folder, no database)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from services.evaluation.points import attendance, directory, files, ledger, periods
from shared.errors import Conflict

from tests.unit.services.evaluation.fakes import FakeEvaluationUnitOfWork, FakePointsRules, points_book

LI = {"user": "member.li", "roles": ["member"]}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": "office"}


@pytest.fixture
def uow(skipping_clock):
    skipping_clock.set(datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
    uow = FakeEvaluationUnitOfWork()
    seed = [
        {"user": "member.li", "name": "李明华", "sector": "民盟"},
        {"user": "member.zhou", "name": "周", "sector": "教育"},
    ]
    assert directory.ensure_members(uow, RULES, seed) == 2
    return uow


RULES = FakePointsRules([points_book()])


def event(name, member="member.li", role=None, subject="X-1", thread=None, **payload):
    return {
        "event_id": uuid.uuid4().hex,
        "name": name,
        "occurred_at": "2026-03-02T09:00:00+00:00",
        "subject": subject,
        "thread": thread,
        "members": [{"member": member, "role": role}],
        "payload": payload,
    }


def test_an_event_books_once_and_a_member_outside_the_directory_earns_nothing(uow):
    body = event("opinion.submitted")
    booked = ledger.book_event(uow, RULES, body)
    assert (booked["term"], booked["outcome"][0]["points"]) == ("T", 5)
    assert ledger.book_event(uow, RULES, body)["duplicate"] is True
    assert [(e.points, e.rulebook_version) for e in uow.points.entries] == [(5, "T.1")]
    stranger = ledger.book_event(uow, RULES, event("opinion.submitted", member="informant.x"))
    assert stranger["outcome"][0]["why"] == "not in the members directory"
    assert uow.points.locked[0] == ["member.li"]  # the members' rows are held while booking


def test_a_cap_cuts_what_is_beyond_it_in_the_year(uow):
    ledger.book_event(uow, RULES, event("opinion.submitted", subject="a"))
    second = ledger.book_event(uow, RULES, event("opinion.submitted", subject="b"))
    assert second["outcome"][0]["points"] == 3
    assert "capped" in uow.points.entries[-1].reason


def test_a_thread_counts_its_authorship_once_at_its_highest_value(uow):
    ledger.book_event(uow, RULES, event("consultation.case_taken", thread="C-1"))
    filed = ledger.book_event(uow, RULES, event("proposal.filed", role="lead", thread="C-1"))
    assert filed["outcome"][0]["points"] == 12  # -3 for the case, +15 for the proposal
    taken, adjustment, proposal = uow.points.entries
    assert (adjustment.kind, adjustment.points, adjustment.replaces) == ("adjustment", -3, taken.id)
    assert taken.superseded_by == proposal.id
    assert files.member_file(uow, RULES, "member.li", LI, period="2026")["total"] == 15


def test_attendance_recorded_leaves_as_an_event_once_per_key(uow):
    data = {"kind": "plenary", "title": "全体会议", "held_on": "2026-03-01", "half_days": 2, "present": ["member.li"]}
    first = attendance.record(uow, RULES, data, STAFF, key="k-1")
    assert attendance.record(uow, RULES, data, STAFF, key="k-1") == first
    [sent] = uow.events(attendance.EVENT)
    assert (sent["members"], sent["payload"]["term"]) == ([{"member": "member.li", "role": "present"}], "T")
    heard = {key: value for key, value in sent.items() if key != "kind"}  # the event as the bus carries it
    assert ledger.book_event(uow, RULES, heard)["outcome"][0]["points"] == 10


def test_a_published_period_is_corrected_inside_its_window_and_closed_after(uow, skipping_clock):
    ledger.book_event(uow, RULES, event("opinion.submitted"))
    skipping_clock.set(datetime(2026, 4, 2, 9, tzinfo=timezone.utc))
    published = periods.publish(uow, RULES, {"period": "2026-Q1"}, STAFF)
    assert [m["member"] for m in published["standings"]][:1] == ["member.li"]
    [notice] = uow.events("notify.performance.published")
    assert set(notice["payload"]["recipients"]) == {"member.li", "member.zhou"}
    asked = periods.ask_correction(uow, RULES, "2026-Q1", {"reason": "漏记"}, LI)
    periods.decide(uow, RULES, asked["id"], {"action": "apply", "points": 2, "reason": "补记"}, STAFF)
    assert periods.period(uow, RULES, "2026-Q1", LI)["standings"][0]["total"] == 7
    skipping_clock.set(datetime(2026, 4, 30, tzinfo=timezone.utc))
    assert periods.close(uow, RULES, "2026-Q1", STAFF)["status"] == "closed"
    data = {"kind": "plenary", "title": "迟到的记录", "held_on": "2026-03-10", "present": ["member.li"]}
    with pytest.raises(Conflict):
        attendance.record(uow, RULES, data, STAFF)
    late = ledger.book_event(uow, RULES, event("opinion.submitted", subject="late"))
    assert late["outcome"][0]["points"] == 3 and uow.points.entries[-1].after_close is True
