"""Members' performance points on a real SQLite session: rule rows by term, units of count, caps,
the no-double-counting rule, grades, attendance, publication with a correction window."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from services.evaluation.models import Base, Outbox
from services.evaluation import operations, ratings
from services.evaluation.points import attendance, directory, excellence, files, ledger, periods
from services.evaluation.points import rulebook as rulebooks
from services.evaluation.points.rules import RulebookPointsRules
from services.evaluation.points.models import HeardEvent, LedgerEntry
from shared.calendar import DataFileError
from shared.errors import Conflict, Forbidden, InvalidInput
from tests.unit.services.evaluation.fakes import sql_points_ports, sql_ports, sql_uow

LI = {"user": "member.li", "roles": ["member"]}
ZHOU = {"user": "member.zhou", "roles": ["member"]}
STAFF = {"user": "staff.wang", "roles": ["staff"]}
LEADER = {"user": "leader.chen", "roles": ["leader"]}
SEED = [
    {"user": "member.li", "name": "李明华", "sector": "中国民主同盟"},
    {"user": "member.zhou", "name": "周雅琴", "sector": "教育界"},
    {"user": "member.qian", "name": "钱国强", "sector": "经济界"},
]


@pytest.fixture
def session(tmp_path, skipping_clock):
    engine = create_engine(f"sqlite:///{tmp_path}/evaluation.db")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        directory.ensure_members(*sql_points_ports(s), SEED)
        yield s
    engine.dispose()


def event(name, members, subject="X-1", thread=None, when=None, event_id=None, **payload):
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "name": name,
        "occurred_at": (when or datetime(2026, 3, 2, 9, tzinfo=timezone.utc)).isoformat(),
        "subject": subject,
        "thread": thread,
        "members": members,
        "payload": payload,
    }


def entries(session, member="member.li"):
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.member == member).order_by(LedgerEntry.id)))


def total(session, member="member.li"):
    return sum(e.points for e in entries(session, member))


# -- terms and rows --------------------------------------------------------------------------------
def test_the_rulebook_of_the_events_date_applies_and_each_entry_records_its_version(session):
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "attendance.recorded",
            [{"member": "member.li", "role": "present"}],
            kind="plenary",
            half_days=2,
            held_on="2026-03-01",
        ),
    )
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "attendance.recorded",
            [{"member": "member.li", "role": "present"}],
            kind="plenary",
            half_days=2,
            held_on="2027-03-01",
        ),
    )
    old, new = entries(session)
    term14, term15 = RulebookPointsRules().term("14"), RulebookPointsRules().term("15")
    assert (old.points, old.term, old.rulebook_version, old.rulebook_hash) == (10, "14", "14.1", term14.content_hash)
    assert (new.points, new.term, new.rulebook_version, new.rulebook_hash) == (8, "15", "15.1", term15.content_hash)
    assert old.rule["activity"] == "plenary_attendance" and old.rule["quantity"] == 2


def test_every_default_of_the_domain_is_a_row_of_the_first_term():
    book = RulebookPointsRules().term("14")
    values = {r.activity: r.points for r in book.rules}
    assert values["plenary_attendance"] == 5 and values["plenary_absence"] == -10
    assert values["meeting_absence"] == -5
    assert (values["proposal_lead"], values["proposal_co"]) == (15, 3)
    assert (values["key_proposal_lead"], values["key_proposal_co"]) == (15, 3)
    assert (values["excellent_proposal_lead"], values["excellent_proposal_co"]) == (10, 2)
    assert (values["opinion_submitted"], values["opinion_adopted"], values["opinion_instructed"]) == (5, 10, 10)


def test_an_unexcused_absence_costs_points_and_an_excused_one_nothing(session):
    result = ledger.book_event(
        *sql_points_ports(session),
        event(
            "attendance.recorded",
            [{"member": "member.li", "role": "absent_unexcused"}, {"member": "member.zhou", "role": "absent_excused"}],
            kind="plenary",
            half_days=1,
            held_on="2026-03-01",
        ),
    )
    assert total(session) == -10 and entries(session, "member.zhou") == []
    assert "no row" in result["outcome"][1]["why"]
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "attendance.recorded",
            [{"member": "member.li", "role": "absent_unexcused"}],
            kind="inspection",
            held_on="2026-03-01",
        ),
    )
    assert total(session) == -15


def test_an_item_counts_once_however_many_recipients_adopt_it(session):
    for channel in ("city_party", "province"):
        ledger.book_event(
            *sql_points_ports(session),
            event("opinion.adopted", [{"member": "member.li", "role": "author"}], subject="SQ-1", channel=channel),
        )
    first, second = entries(session)
    assert (first.points, second.points) == (10, 0)
    assert f"entry #{first.id}" in second.reason and "once per item" in second.reason


def test_a_redelivered_event_books_nothing(session):
    body = event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject="SQ-2")
    ledger.book_event(*sql_points_ports(session), body)
    again = ledger.book_event(*sql_points_ports(session), body)
    assert again["duplicate"] is True and len(entries(session)) == 1


def test_points_beyond_the_cap_of_the_year_are_cut_and_the_cut_is_said(session):
    for i in range(11):
        ledger.book_event(
            *sql_points_ports(session),
            event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject=f"SQ-{i}"),
        )
    rows = entries(session)
    assert [r.points for r in rows] == [5] * 10 + [0]
    assert "capped" in rows[-1].reason and "50 a year" in rows[-1].reason
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "opinion.submitted",
            [{"member": "member.li", "role": "author"}],
            subject="SQ-next-year",
            when=datetime(2027, 2, 1, tzinfo=timezone.utc),
        ),
    )
    assert entries(session)[-1].points == 6, "a new year (and here a new term) starts a new cap"


# -- no double counting ----------------------------------------------------------------------------
def test_a_thread_counts_its_authorship_once_at_the_highest_value_with_a_visible_adjustment(session):
    thread = "case-7"
    ledger.book_event(
        *sql_points_ports(session),
        event("consultation.case_taken", [{"member": "member.li", "role": "member"}], subject="WX-7", thread=thread),
    )
    ledger.book_event(
        *sql_points_ports(session),
        event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject="SQ-7", thread=thread),
    )
    assert total(session) == 2 + 5
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "proposal.filed",
            [{"member": "member.li", "role": "lead"}, {"member": "member.zhou", "role": "co"}],
            subject="2026-0007",
            thread=thread,
        ),
    )
    taken, submitted, adjustment, filed = entries(session)
    assert (adjustment.kind, adjustment.points, adjustment.replaces) == ("adjustment", -5, submitted.id)
    assert submitted.superseded_by == filed.id and filed.points == 15
    assert total(session) == 2 + 15
    assert total(session, "member.zhou") == 3

    # a second conversion of the same thread at a lower value counts nothing more
    ledger.book_event(
        *sql_points_ports(session),
        event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject="SQ-7b", thread=thread),
    )
    last = entries(session)[-1]
    assert last.points == 0 and f"entry #{filed.id}" in last.reason
    assert total(session) == 17


def test_a_co_author_who_wrote_the_opinion_item_keeps_its_higher_value(session):
    thread = "case-8"
    ledger.book_event(
        *sql_points_ports(session),
        event("opinion.submitted", [{"member": "member.zhou", "role": "author"}], subject="SQ-8", thread=thread),
    )
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "proposal.filed",
            [{"member": "member.li", "role": "lead"}, {"member": "member.zhou", "role": "co"}],
            subject="2026-0008",
            thread=thread,
        ),
    )
    assert total(session, "member.zhou") == 5, "co-author 3 is less than the 5 already held in the thread"
    assert total(session) == 15


def test_a_case_that_becomes_an_opinion_item_earns_no_closing_points_of_its_own(session):
    thread = "WX-2026-0003"
    taker = [{"member": "member.li", "role": "taker"}]
    ledger.book_event(
        *sql_points_ports(session), event("consultation.case_taken", taker, subject=thread, thread=thread)
    )
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "consultation.meeting_held",
            [{"member": "member.li", "role": "attendee"}],
            subject=thread,
            thread=thread,
            held_on="2026-03-01",
        ),
    )
    ledger.book_event(
        *sql_points_ports(session), event("consultation.converted", taker, subject=thread, thread=thread, to="opinion")
    )
    ledger.book_event(
        *sql_points_ports(session),
        event("consultation.case_closed", taker, subject=thread, thread=thread, reason="converted"),
    )
    ledger.book_event(
        *sql_points_ports(session),
        event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject="SQ-3", thread=thread),
    )
    assert [(e.activity, e.points) for e in entries(session)] == [
        ("consultation_case_taken", 2),
        ("consultation_meeting", 3),
        ("opinion_submitted", 5),
    ]
    ledger.book_event(
        *sql_points_ports(session),
        event("consultation.case_closed", taker, subject="WX-2026-0004", thread="WX-2026-0004", reason="settled"),
    )
    assert entries(session)[-1].activity == "consultation_case_closed" and entries(session)[-1].points == 3


def test_other_threads_are_counted_separately(session):
    for n in (1, 2):
        ledger.book_event(
            *sql_points_ports(session),
            event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject=f"SQ-{n}", thread=f"t-{n}"),
        )
    assert total(session) == 10


# -- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b.pop("event_id"), "event_id"),
        (lambda b: b.update(occurred_at="yesterday"), "occurred_at"),
        (lambda b: b.update(members=[{"role": "lead"}]), "member"),
        (lambda b: b["payload"].pop("half_days"), "half_days"),
        (lambda b: b["payload"].update(held_on="2019-01-01"), "2019-01-01"),
    ],
)
def test_a_malformed_event_is_refused_with_the_field_and_nothing_is_booked(session, change, field):
    body = event(
        "attendance.recorded",
        [{"member": "member.li", "role": "present"}],
        kind="plenary",
        half_days=1,
        held_on="2026-03-01",
    )
    change(body)
    with pytest.raises(InvalidInput) as refused:
        ledger.book_event(*sql_points_ports(session), body)
    assert field in str(refused.value.details) or field in refused.value.message
    assert entries(session) == [] and session.scalars(select(HeardEvent)).all() == []


def test_someone_not_in_the_directory_earns_nothing_and_the_event_says_why(session):
    result = ledger.book_event(
        *sql_points_ports(session), event("opinion.submitted", [{"member": "informant.x", "role": "author"}])
    )
    assert result["outcome"][0]["why"] == "not in the members directory"
    assert session.get(HeardEvent, result["event_id"]).outcome[0]["why"] == "not in the members directory"


def test_overlapping_terms_and_bad_rows_are_refused_naming_the_file(tmp_path):
    source = Path(RulebookPointsRules().term("14").path).read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(source, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(source.replace('term: "14"', 'term: "14b"'), encoding="utf-8")
    with pytest.raises(DataFileError, match="overlaps"):
        rulebooks.all_terms(tmp_path)
    (tmp_path / "b.yaml").write_text(source.replace("unit: half_day", "unit: fortnight"), encoding="utf-8")
    with pytest.raises(DataFileError, match="unit"):
        rulebooks.all_terms(tmp_path)


# -- grades and files ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "points, kind, view, grade",
    [
        (100, "year", 100.0, "excellent"),
        (90, "year", 90.0, "excellent"),
        (89, "year", 89.0, "good"),
        (80, "year", 80.0, "good"),
        (60, "year", 60.0, "competent"),
        (59, "year", 59.0, "not_competent"),
        (-10, "year", 0.0, "not_competent"),
        (150, "year", 100.0, "excellent"),
        (20, "quarter", 80.0, "good"),
        (450, "term", 90.0, "excellent"),
    ],
)
def test_grades_on_the_100_point_view(points, kind, view, grade):
    assert RulebookPointsRules().term("14").grade(points, kind) == (
        view,
        {
            "code": grade,
            "zh": {"excellent": "优秀", "good": "良好", "competent": "称职", "not_competent": "不称职"}[grade],
        },
    )


def test_a_members_file_shows_every_point_with_its_event_and_only_they_and_overseers_read_it(session):
    body = event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject="SQ-9", thread="t9")
    ledger.book_event(*sql_points_ports(session), body)
    mine = files.member_file(*sql_points_ports(session), "member.li", LI, period="2026")
    [entry] = mine["entries"]
    assert entry["event"] == {
        "event_id": body["event_id"],
        "name": "opinion.submitted",
        "subject": "SQ-9",
        "thread": "t9",
        "occurred_at": "2026-03-02T09:00:00+00:00",
    }
    assert entry["rulebook"]["version"] == "14.1" and entry["rule"]["activity"] == "opinion_submitted"
    assert mine["total"] == 5 and mine["view100"] == 5.0 and mine["grade"]["code"] == "not_competent"
    assert files.member_file(*sql_points_ports(session), "member.li", LEADER, period="2026-Q1")["total"] == 5
    with pytest.raises(Forbidden):
        files.member_file(*sql_points_ports(session), "member.li", ZHOU)
    with pytest.raises(Forbidden):
        files.statistics(*sql_points_ports(session), LI, period="2026")


def test_statistics_by_member_sector_activity_and_quarter(session):
    ledger.book_event(
        *sql_points_ports(session), event("opinion.submitted", [{"member": "member.li", "role": "author"}], subject="a")
    )
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "opinion.submitted",
            [{"member": "member.zhou", "role": "author"}],
            subject="b",
            when=datetime(2026, 5, 2, tzinfo=timezone.utc),
        ),
    )
    stats = files.statistics(*sql_points_ports(session), STAFF, period="2026")
    assert [(m["member"], m["total"]) for m in stats["by_member"]] == [
        ("member.li", 5),
        ("member.zhou", 5),
        ("member.qian", 0),
    ]
    assert {s["sector"]: s["total"] for s in stats["by_sector"]}["教育界"] == 5
    assert stats["by_activity"] == [{"activity": "opinion_submitted", "entries": 2, "points": 10}]
    assert stats["by_period"] == [{"period": "2026-Q1", "points": 5}, {"period": "2026-Q2", "points": 5}]


# -- attendance and periods --------------------------------------------------------------------------
def test_attendance_is_recorded_by_staff_and_published_as_an_event(session):
    record = attendance.record(
        *sql_points_ports(session),
        {
            "kind": "plenary",
            "title": "全体会议",
            "held_on": "2026-02-27",
            "half_days": 3,
            "present": ["member.li"],
            "absent": ["member.zhou"],
        },
        STAFF,
    )
    [row] = session.scalars(select(Outbox)).all()
    assert row.routing_key == "attendance.recorded" and row.payload["event_id"] == record["event_id"]
    ledger.book_event(*sql_points_ports(session), row.payload)
    assert total(session) == 15 and total(session, "member.zhou") == -10
    with pytest.raises(Forbidden):
        attendance.record(
            *sql_points_ports(session),
            {"kind": "plenary", "title": "x", "held_on": "2026-02-27", "present": ["member.li"]},
            LI,
        )


def test_one_activity_is_recorded_once(session):
    """Recorded twice, the activity's points were booked twice: the second record is refused,
    naming the first, and publishes nothing."""
    from shared.errors import Conflict

    data = {"kind": "plenary", "title": "全体会议", "held_on": "2026-02-27", "half_days": 2, "present": ["member.li"]}
    first = attendance.record(*sql_points_ports(session), data, STAFF)
    published = len(session.scalars(select(Outbox)).all())
    with pytest.raises(Conflict) as refused:
        attendance.record(*sql_points_ports(session), {**data, "present": ["member.li", "member.zhou"]}, STAFF)
    assert refused.value.details == {"attendance_id": first["id"]}
    assert len(session.scalars(select(Outbox)).all()) == published
    # Another activity of the same day is its own record.
    attendance.record(*sql_points_ports(session), {**data, "title": "全体会议（下午）"}, STAFF)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"kind": "plenary", "title": "x", "held_on": "2026-02-27"}, "present"),
        ({"kind": "banquet", "title": "x", "held_on": "2026-02-27", "present": ["member.li"]}, "kind"),
        ({"kind": "plenary", "title": "x", "held_on": "2026-04-01", "present": ["member.li"]}, "held_on"),
        ({"kind": "plenary", "title": "x", "held_on": "2026-02-27", "present": ["nobody"]}, "present"),
        (
            {
                "kind": "plenary",
                "title": "x",
                "held_on": "2026-02-27",
                "present": ["member.li"],
                "absent": ["member.li"],
            },
            "present",
        ),
        (
            {"kind": "plenary", "title": "x", "held_on": "2026-02-27", "half_days": 0, "present": ["member.li"]},
            "half_days",
        ),
    ],
)
def test_bad_attendance_is_refused_with_field_messages_and_nothing_recorded(session, data, field):
    with pytest.raises(InvalidInput) as refused:
        attendance.record(*sql_points_ports(session), data, STAFF)
    assert field in refused.value.details
    assert session.scalars(select(Outbox)).all() == []


def test_a_quarter_is_published_corrected_inside_the_window_and_closed_after(session, skipping_clock):
    ledger.book_event(
        *sql_points_ports(session),
        event(
            "opinion.submitted",
            [{"member": "member.li", "role": "author"}],
            when=datetime(2026, 2, 2, tzinfo=timezone.utc),
        ),
    )
    with pytest.raises(Conflict, match="has not ended"):
        periods.publish(*sql_points_ports(session), {"period": "2026-Q1"}, STAFF)
    skipping_clock.set(datetime(2026, 4, 2, 9, tzinfo=timezone.utc))
    with pytest.raises(Forbidden):
        periods.publish(*sql_points_ports(session), {"period": "2026-Q1"}, LI)
    published = periods.publish(*sql_points_ports(session), {"period": "2026-Q1"}, STAFF)
    assert published["status"] == "published" and published["window_ends"].startswith("2026-04-17")
    assert published["standings"][0] == {
        "member": "member.li",
        "name": "李明华",
        "sector": "中国民主同盟",
        "total": 5,
        "view100": 20.0,
        "grade": {"code": "not_competent", "zh": "不称职"},
    }
    asked = periods.ask_correction(*sql_points_ports(session), "2026-Q1", {"reason": "我还出席了 3 月的视察"}, LI)
    applied = periods.decide(
        *sql_points_ports(session), asked["id"], {"action": "apply", "points": 2, "reason": "视察出席漏记"}, STAFF
    )
    correction = session.get(LedgerEntry, applied["applied_entry"])
    assert (correction.kind, correction.points, str(correction.counts_on)) == ("correction", 2, "2026-03-31")
    assert "视察出席漏记" in correction.reason
    assert periods.period(*sql_points_ports(session), "2026-Q1", ZHOU)["standings"][0]["total"] == 7
    pending = periods.ask_correction(*sql_points_ports(session), "2026-Q1", {"reason": "还有一次调研", "points": 2}, LI)

    skipping_clock.set(datetime(2026, 4, 18, 9, tzinfo=timezone.utc))
    with pytest.raises(Conflict, match="closed .* correction requests are refused"):
        periods.ask_correction(*sql_points_ports(session), "2026-Q1", {"reason": "再看看"}, LI)
    with pytest.raises(Conflict, match="corrections are refused"):
        periods.decide(
            *sql_points_ports(session), pending["id"], {"action": "apply", "points": 2, "reason": "迟了"}, STAFF
        )
    with pytest.raises(Conflict, match="can no longer be recorded"):
        attendance.record(
            *sql_points_ports(session),
            {"kind": "plenary", "title": "x", "held_on": "2026-03-01", "present": ["member.li"]},
            STAFF,
        )
    closed = periods.close(*sql_points_ports(session), "2026-Q1", STAFF)
    assert closed["status"] == "closed" and closed["standings"][0]["total"] == 7


def test_an_excellent_grade_is_told_to_the_ledger_with_the_lead_and_co_authors(session):
    ratings.open_round(*sql_ports(session), {"number": "2026-0011", "proposers": ["member.li", "member.zhou"]})
    operations.grade_quality(
        *sql_ports(session), {"number": "2026-0011", "grade": "good", "graded_by": "committee.liu"}, None
    )
    assert excellence.announce(sql_uow(session), "2026-0011", "good") is False
    assert excellence.announce(sql_uow(session), "2026-0011", "excellent") is True
    [body] = [o.payload for o in session.scalars(select(Outbox)) if o.routing_key == "proposal.excellent"]
    assert body["members"] == [{"member": "member.li", "role": "lead"}, {"member": "member.zhou", "role": "co"}]
    ledger.book_event(*sql_points_ports(session), body)
    assert (total(session), total(session, "member.zhou")) == (10, 2)
