"""Supervision on PostgreSQL, where two transactions run side by side: a unit's signing heard
while the same proposal's clocks are being opened (a department's system may sign the moment its
assignment arrives) must not be lost between them.

Without a lock, each transaction reads before the other has committed: the listener finds no
sign-for limit open yet and keeps the fact for later; ``open_deadlines`` looks for facts kept for
later before the listener has committed its own; both commit, the fact is never applied and the
reply clock never starts from the signing. SQLite lets one writer in at a time, so the race is
PostgreSQL's alone (and its writers block the process, which green threads cannot interleave).
"""

from __future__ import annotations

import uuid

import eventlet
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.supervision import operations, unit_facts
from services.supervision.models import Base, Deadline, DeadlineChange, UnitFact
from services.supervision.rules import RulebookRules
from services.supervision.unit_of_work import SqlSupervisionUnitOfWork
from shared import clock, contracts
from shared.db import ensure_postgres_database, get_engine

NUMBER = "2026-0042"
STAFF = {"user": "staff.wang", "roles": ["staff"]}


def signed(unit):
    return {
        "event_id": f"{contracts.ASSIGNMENT_SIGNED}:{uuid.uuid4().hex}",
        "name": contracts.ASSIGNMENT_SIGNED,
        "occurred_at": clock.now().isoformat(),
        "subject": NUMBER,
        "thread": None,
        "members": [],
        "payload": {"unit": unit, "assignment_id": 7, "at": clock.now().isoformat(), "by": "handler.zhao", "round": 1},
    }


@pytest.fixture
def sessions(db_kind, database_url_template, skipping_clock):
    if db_kind != "postgresql":
        pytest.skip("SQLite admits one writer at a time: there is no such race to lose")
    url = database_url_template.format(service="supervision")
    ensure_postgres_database(url)
    engine = get_engine(url)
    Base.metadata.create_all(engine)
    yield sessionmaker(bind=engine, expire_on_commit=False)


@pytest.mark.both_databases
def test_a_signing_heard_while_the_clocks_are_opened_starts_the_reply_clock(sessions):
    rules = RulebookRules()
    opener = sessions()
    operations.open_deadlines(
        SqlSupervisionUnitOfWork(opener), rules, {"number": NUMBER, "units": ["transport"]}, STAFF
    )

    heard = {}

    def hear():
        with sessions() as session:
            heard["result"] = unit_facts.hear(SqlSupervisionUnitOfWork(session), signed("transport"), rules)
            session.commit()

    listener = eventlet.spawn(hear)
    eventlet.sleep(0.5)  # the listener reads while the clocks are not committed yet
    opener.commit()
    opener.close()
    listener.wait()

    with sessions() as session:
        fact = session.scalars(select(UnitFact).where(UnitFact.number == NUMBER)).one()
        assert fact.deadline_id is not None, "the signing was kept for later and never applied"
        sign_for = session.get(Deadline, fact.deadline_id)
        assert (sign_for.rule, sign_for.status) == ("sign_for_limit", "met")
        reply = session.scalars(
            select(Deadline).where(Deadline.number == NUMBER, Deadline.rule == "reply_deadline")
        ).one()
        assert reply.start_event == "signed"
    assert heard["result"]["status"] == "met"


@pytest.mark.both_databases
def test_two_units_signing_at_once_both_count_for_the_reply_clock(sessions):
    """Both signings land in the one reply deadline's account: neither overwrites the other's."""
    rules = RulebookRules()
    with sessions() as session:
        operations.open_deadlines(
            SqlSupervisionUnitOfWork(session), rules, {"number": NUMBER, "units": ["transport", "education"]}, STAFF
        )
        session.commit()
    first = sessions()
    unit_facts.hear(SqlSupervisionUnitOfWork(first), signed("transport"), rules)  # holds the proposal until it commits

    def second():
        with sessions() as session:
            unit_facts.hear(SqlSupervisionUnitOfWork(session), signed("education"), rules)
            session.commit()

    other = eventlet.spawn(second)
    eventlet.sleep(0.5)
    first.commit()
    first.close()
    other.wait()

    with sessions() as session:
        facts = session.scalars(select(UnitFact).where(UnitFact.number == NUMBER)).all()
        assert sorted(f.unit for f in facts) == ["education", "transport"] and all(f.deadline_id for f in facts)
        reply = session.scalars(
            select(Deadline).where(Deadline.number == NUMBER, Deadline.rule == "reply_deadline")
        ).one()
        assert reply.start_event == "signed"
        reasons = " ".join(
            session.scalars(
                select(DeadlineChange.reason).where(
                    DeadlineChange.deadline_id == reply.id, DeadlineChange.kind == "clock_start"
                )
            )
        )
        assert "education signed" in reasons and "transport signed" in reasons, reasons
