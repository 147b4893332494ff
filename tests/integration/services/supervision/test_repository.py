"""Supervision's SQL adapter and the unit tier's fakes answer alike: one proposal's life (opened,
signed, reminded, escalated, paused and resumed, extended, logged by its leader, closed) run through
the domain functions on :class:`SqlSupervisionUnitOfWork` over a fresh database and on
:class:`FakeSupervisionUnitOfWork` gives the same answers, the same explained deadlines and overdue
list, and sends the same messages. So the unit tests on the fakes say something about the service."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from services.supervision import key_proposals, operations, queries, unit_facts
from services.supervision.models import Base, Deadline, Outbox
from services.supervision.unit_of_work import SqlSupervisionUnitOfWork
from shared import contracts
from shared.calendar import CHINA_TZ
import shared.db
from tests.unit.services.supervision.fakes import FakeRules, FakeSupervisionUnitOfWork
from tests import support

NUMBER = "2026-0042"
STAFF = {"user": "staff.wang", "roles": ["staff"]}
LEADER = {"user": "vice.chair.chen", "roles": ["leader"]}
DAYS = {
    "sign_for_limit": 3,
    "objection_window": 5,
    "co_unit_input": 10,
    "reply_deadline": 30,
    "rehandling_reply": 30,
    "max_extension": 60,
}


def china(month, day, hour=0, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=CHINA_TZ)


def acted(name, unit, by, at):
    return {
        "event_id": f"{name}:{unit}:{at.isoformat()}",
        "name": name,
        "occurred_at": at.isoformat(),
        "subject": NUMBER,
        "payload": {"unit": unit, "assignment_id": 7, "at": at.isoformat(), "by": by},
    }


def checks(uow, rules, skipping_clock, *moments) -> list:
    """``supervision.check`` at each of ``moments``, and the overdue list (and the year's overdue
    work by unit) after each."""
    answers = []
    for moment in moments:
        skipping_clock.set(moment)
        answers += [
            operations.check(uow, rules, {"number": NUMBER}, None),
            queries.overdue(uow, STAFF),
            queries.overdue_in_year(uow, STAFF, 2026),  # what the units' assessment counts
            queries.overdue_in_year(uow, STAFF, 2025),  # another year's: none
        ]
    return answers


def life(uow, skipping_clock) -> list:
    """Everything the domain answers along one proposal's life, in order."""
    rules = FakeRules(DAYS, remind_days_before=2)
    skipping_clock.set(china(3, 2, 10))
    key = {"key_proposal": True, "supervising_leader": LEADER["user"]}
    units = {"units": ["transport", "education"], "answering_units": ["transport"]}
    answers = [operations.open_deadlines(uow, rules, {"number": NUMBER, **units, **key}, STAFF)]
    answers.append(unit_facts.hear(uow, acted(contracts.ASSIGNMENT_SIGNED, "transport", "h.sun", china(3, 3)), rules))
    answers.append(unit_facts.hear(uow, acted(contracts.ASSIGNMENT_SIGNED, "education", "h.zhao", china(3, 6)), rules))
    answers += checks(uow, rules, skipping_clock, china(3, 11, 8), china(3, 13, 0, 5))  # the co-unit's input
    skipping_clock.set(china(3, 20, 10))
    answers.append(operations.pause(uow, rules, {"number": NUMBER, "reason": "court case"}, STAFF))
    answers += checks(uow, rules, skipping_clock, china(3, 21, 10))
    skipping_clock.set(china(3, 22, 10))
    answers.append(operations.resume(uow, rules, {"number": NUMBER, "reason": "judgment given"}, STAFF))
    answers.append(operations.extend(uow, rules, {"number": NUMBER, "until": "2026-04-20", "reason": ""}, STAFF))
    answers += checks(uow, rules, skipping_clock, china(4, 19, 8), china(4, 21, 0, 5), china(4, 21, 10))
    answers.append(key_proposals.log_key_supervision(uow, NUMBER, "visit", "site visit", LEADER))
    answers.append(key_proposals.key_supervision_log(uow, NUMBER, STAFF))
    answers.append(operations.reply_due(uow, NUMBER, STAFF))
    skipping_clock.set(china(4, 22, 10))
    answers.append(operations.close(uow, rules, {"number": NUMBER}, None))
    answers.append(queries.deadlines(uow, rules, NUMBER, STAFF))
    answers.append(queries.overdue(uow, STAFF))
    return answers


@pytest.fixture
def sessions(tables_of):
    return tables_of("supervision", Base)


@pytest.mark.both_databases
def test_the_sql_adapter_and_the_fakes_answer_a_proposals_life_alike(sessions, skipping_clock):
    fake = FakeSupervisionUnitOfWork()
    expected = life(fake, skipping_clock)
    with sessions() as session:
        answers = life(SqlSupervisionUnitOfWork(session), skipping_clock)
        session.commit()
        sent = [
            (row.routing_key, row.payload["event_id"], row.payload["subject"], row.payload["payload"])
            for row in session.scalars(select(Outbox).order_by(Outbox.id))
        ]

    assert answers == expected
    owed = [a["units"] for a in answers if isinstance(a.get("units"), dict)]
    assert any(owed) and all(units == {} for units in owed[1::2])  # some work owed in 2026, none in 2025
    actions = [a["action"] for a in answers if "action" in a]
    assert actions == ["none", "none", "paused", "remind", "escalate", "none"]
    assert [a["co_units"] for a in answers if "co_units" in a][:2] == [
        {"education": "remind"},
        {"education": "escalate"},
    ]
    # education signed as its limit (due 03-05) ran out; the reply came after the extended 04-20
    closed = answers[-3]
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (False, False)
    assert closed["units"] == {"transport": {"replied_on_time": False, "signed_on_time": True}}
    assert closed["co_units"] == {"education": {"input": "not_sent", "signed_on_time": False}}
    assert sent == [(e["name"], e["event_id"], e["subject"], e["payload"]) for e in fake.events()]
    assert [e["name"] for e in fake.events() if e["name"].startswith("notify.")] == [
        "notify.deadline_reminder",  # the co-unit's input, two days before 03-12
        "notify.deadline_escalation",  # ... and its end
        "notify.deadline_reminder",  # the reply, two days before the extended 04-20
        "notify.deadline_escalation",
    ]


def open_for_transport(sessions, skipping_clock) -> FakeRules:
    """The proposal's deadlines opened for one unit on 2 March, committed; the rules they use."""
    rules = FakeRules(DAYS, remind_days_before=2)
    skipping_clock.set(china(3, 2, 10))
    with sessions() as session:
        operations.open_deadlines(
            SqlSupervisionUnitOfWork(session), rules, {"number": NUMBER, "units": ["transport"]}, STAFF
        )
        session.commit()
    return rules


@pytest.mark.both_databases
def test_a_unit_of_work_reading_a_snapshot_does_not_see_what_is_committed_after_its_first_read(
    sessions, skipping_clock, monkeypatch
):
    # Every checkout of a connection used before is pinged, as after an idle spell (PostgreSQL): the
    # ping must not leave a transaction begun that the snapshot would come too late for.
    monkeypatch.setattr(shared.db, "POOL_PING_IDLE_SECONDS", -1.0)
    rules = open_for_transport(sessions, skipping_clock)

    with sessions() as reader:
        snapshot = SqlSupervisionUnitOfWork(reader)
        snapshot.read_snapshot()
        ids = [row.id for row in snapshot.deadlines.of_proposal(NUMBER)]
        skipping_clock.set(china(3, 6, 10))  # the sign-for limit ended on 03-05
        with sessions() as writer:
            assert operations.check(SqlSupervisionUnitOfWork(writer), rules, {"number": NUMBER}, None)
            writer.commit()
        assert snapshot.deadlines.escalations_by_deadline(ids) == {}

    with sessions() as later:
        escalations = SqlSupervisionUnitOfWork(later).deadlines.escalations_by_deadline(ids)
        assert [e.unit for rows in escalations.values() for e in rows] == ["transport"]


def statements(session):
    """The SQL statements ``session``'s engine runs inside the block."""
    return support.statements(session.get_bind())


def deadline_reads(seen: list[str]) -> int:
    return sum(1 for s in seen if s.lstrip().startswith("SELECT") and "FROM deadlines" in s)


def another_like(row: Deadline, **changes) -> Deadline:
    """A new deadline with ``row``'s columns (but its id), changed by ``changes``."""
    columns = {c.key: getattr(row, c.key) for c in Deadline.__table__.columns if c.key != "id"}
    return Deadline(**{**columns, **changes})


@pytest.mark.both_databases
def test_a_proposals_deadlines_are_read_once_per_unit_of_work_and_again_after_an_add_or_a_lock(
    sessions, skipping_clock
):
    open_for_transport(sessions, skipping_clock)

    with sessions() as session, statements(session) as seen:
        uow = SqlSupervisionUnitOfWork(session)
        opened = uow.deadlines.of_proposal(NUMBER)
        assert [row.rule for row in opened] == ["sign_for_limit", "objection_window", "reply_deadline"]
        assert uow.deadlines.of_proposal(NUMBER) == opened
        assert deadline_reads(seen) == 1

        # Another transaction adds one and commits; this unit of work sees it once it holds the lock.
        with sessions() as other:
            other.add(another_like(opened[0], rule="followup_milestone"))
            other.commit()
        assert uow.deadlines.of_proposal(NUMBER) == opened
        uow.lock(f"supervision:{NUMBER}")
        locked = uow.deadlines.of_proposal(NUMBER)
        assert [row.rule for row in locked][-1] == "followup_milestone" and locked[:-1] == opened
        assert deadline_reads(seen) == 2

        locked[0].status = "met"  # the session's own rows: a change shows in the next answer
        assert uow.deadlines.of_proposal(NUMBER)[0].status == "met"
        uow.deadlines.add(another_like(opened[0], rule="co_unit_input"))
        after_add = uow.deadlines.of_proposal(NUMBER)
        assert [row.rule for row in after_add][-1] == "co_unit_input" and after_add[:-1] == locked
        assert deadline_reads(seen) == 3
        session.rollback()


def test_the_overdue_boards_count_per_unit_reads_one_index_alone_on_sqlite(tmp_path):
    """On a database migrated as in production (gs_overdue_units_index), the board's count per
    unit finds the live overdue deadlines and their units in ``ix_deadlines_overdue_units`` and
    reads no deadline's row, however many are overdue. (PostgreSQL has no such index: its plan
    depends on the statistics; bench/growth.py --explain records it.)"""
    from datetime import date

    url = f"sqlite:///{tmp_path}/supervision.db"
    shared.db.migrate("supervision", url)
    try:
        with shared.db.session_factory(url)() as session:
            with statements(session) as seen:
                SqlSupervisionUnitOfWork(session).deadlines.overdue_per_unit(["reply_deadline"], date(2026, 11, 30))
            [count] = [s for s in seen if "count(" in s]
            plan = " | ".join(
                row[-1]
                for row in session.connection().exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + count, ("reply_deadline", "2026-11-30")
                )
            )
        assert "USING COVERING INDEX ix_deadlines_overdue_units" in plan, plan
    finally:
        shared.db.dispose_all()
