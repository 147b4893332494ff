"""The assignment service's SQL adapter answers as the unit tier's fakes do where it reads in bulk:
an assignment's view (:func:`~services.assignment.queries.get_assignment`) reads the co-signatures
of all its replies in one statement and its event log once, and shows the same as on the fakes."""

from __future__ import annotations


import pytest

from services.assignment import commands, operations, queries
from services.assignment.models import Base
from services.assignment.rules import RulebookRules
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork
from tests import support

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
UNITS = {"transport": "Transport Bureau", "education": "Education Bureau", "health": "Health Commission"}
NUMBER = "2026-0001"


def handler(unit: str) -> dict:
    return {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}


@pytest.fixture
def sessions(tables_of):
    return tables_of("assignment", Base)


def statements(session):
    """The SQL statements ``session``'s engine runs inside the block."""
    return support.statements(session.get_bind())


def redrafted_and_cosigned(uow) -> dict[str, int]:
    """A lead and two co-units; education co-signs the first draft, the lead redrafts, health
    co-signs the second (education's signature no longer counts). The assignments' ids by unit."""
    rules = RulebookRules()
    operations.ensure_units(uow, UNITS)
    params = {"proposal_id": 1, "number": NUMBER, "mode": "lead_co", "lead": "transport"}
    result = operations.assign(uow, {**params, "co_units": ["education", "health"]}, STAFF)
    ids = {a["unit"]: a["id"] for a in result["assignments"]}

    def act(command: str, unit: str, **more) -> dict:
        return commands.run(uow, rules, command, {"assignment_id": ids[unit], **more}, handler(unit))

    for unit in ids:
        act("sign", unit)
    act("draft_reply", "transport", category="A", text="Solved")
    act("cosign_reply", "education")
    act("draft_reply", "transport", category="A", text="Solved, with the new timetable")
    act("cosign_reply", "health")
    return ids


@pytest.mark.both_databases
def test_an_assignments_view_reads_cosignatures_and_log_once_and_shows_what_the_fakes_show(sessions, skipping_clock):
    fake = FakeAssignmentUnitOfWork()
    fake_ids = redrafted_and_cosigned(fake)
    expected = {unit: queries.get_assignment(fake, fake_ids[unit], handler(unit)) for unit in fake_ids}
    with sessions() as session:
        ids = redrafted_and_cosigned(SqlAssignmentUnitOfWork(session))
        session.commit()

    views = {}
    for unit in ids:
        with sessions() as session, statements(session) as seen:
            views[unit] = queries.get_assignment(SqlAssignmentUnitOfWork(session), ids[unit], handler(unit))
        assert sum("FROM reply_cosignatures" in s for s in seen) == 1
        assert sum("FROM assignment_events" in s for s in seen) == 1
        # the assignment, its partners, replies, inputs, extension requests, log, co-signatures and
        # contacts; a co-unit's view also reads the lead's current reply
        assert len(seen) == (9 if unit != "transport" else 8), seen
    assert ids == fake_ids and views == expected
    [lead_reply] = views["transport"]["replies"]
    assert (lead_reply["revision"], lead_reply["cosigned_by"]) == (2, ["health"])
    assert views["education"]["lead_reply"] == lead_reply


def test_cosignatures_of_several_replies_are_those_of_each_ones_revision(sessions, skipping_clock):
    with sessions() as session:
        uow = SqlAssignmentUnitOfWork(session)
        ids = redrafted_and_cosigned(uow)
        lead = uow.assignments.assignment(ids["transport"])
        reply = uow.assignments.current_reply(lead)
        found = uow.assignments.cosignatures_of([reply])
        assert found == {reply.id: uow.assignments.cosignatures(reply)}
        assert [s.assignment_id for s in found[reply.id]] == [ids["health"]]
        assert uow.assignments.cosignatures_of([]) == {}


def _given(uow, count: int) -> None:
    """``count`` proposals assigned to transport, every fourth to education too."""
    operations.ensure_units(uow, UNITS)
    for n in range(1, count + 1):
        units = ["transport", "education"] if n % 4 == 0 else ["transport"]
        mode = "several" if len(units) > 1 else "single"
        operations.assign(uow, {"proposal_id": n, "number": f"2026-{n:04d}", "mode": mode, "units": units}, STAFF)


@pytest.mark.both_databases
def test_a_page_of_assignments_is_what_the_fakes_page_and_counts(sessions, skipping_clock):
    """GET /api/assignments in SQL: newest first, a unit's own or every unit's, filtered by
    proposal and status, with the total of what the filters keep - as the fakes answer."""
    fake = FakeAssignmentUnitOfWork()
    _given(fake, 12)
    with sessions() as s, s.begin():
        _given(SqlAssignmentUnitOfWork(s), 12)
    asks = [
        (handler("transport"), {"per_page": "5"}),
        (handler("transport"), {"per_page": "5", "page": "3"}),
        (handler("education"), {}),
        (STAFF, {"per_page": "4", "page": "2"}),
        (STAFF, {"number": "2026-0008"}),
        (STAFF, {"status": "assigned", "per_page": "200"}),
        (handler("health"), {}),
    ]
    for principal, query in asks:
        expected = queries.assignment_page(fake, principal, query)
        with sessions() as s:
            got = queries.assignment_page(SqlAssignmentUnitOfWork(s), principal, query)
        strip = lambda page: {**page, "items": [{k: a[k] for k in ("number", "unit", "status")} for a in page["items"]]}  # noqa: E731
        assert strip(got) == strip(expected), (principal["user"], query)
    with sessions() as s:
        page = queries.assignment_page(SqlAssignmentUnitOfWork(s), handler("transport"), {"per_page": "5"})
    assert page["total"] == 12 and [a["number"] for a in page["items"]] == [f"2026-{n:04d}" for n in (12, 11, 10, 9, 8)]
    assert [a["id"] for a in page["items"]] == sorted((a["id"] for a in page["items"]), reverse=True)


@pytest.mark.both_databases
def test_a_units_page_reads_an_index_newest_first_without_sorting_the_units_assignments(sessions, db_kind):
    """Years of assignments stay on a unit's list: a busy unit's page is read from an index newest
    first and stops at the page, without sorting the unit's assignments; a unit with few among many
    is found by ix_assignments_unit_id (unit, id), not by walking every unit's rows. (For the busy
    unit PostgreSQL may walk the primary key backwards instead, which also stops at the page.)"""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select

    from services.assignment.models import Assignment, Unit

    at = datetime(2026, 1, 5, tzinfo=timezone.utc)
    units = [*UNITS, *(f"district-{n}" for n in range(9))]  # a city's dozen units, transport one of them
    with sessions() as s, s.begin():
        s.add_all(Unit(code=code, name=code) for code in [*units, "rare"])
        s.flush()
        row = {"round": 1, "role": "single", "status": "replied", "assigned_by": "staff.wang", "created_at": at}
        rare = [{**row, "number": f"2016-{n:04d}", "proposal_id": n, "unit": "rare"} for n in range(20)]
        rows = [
            {
                **row,
                "number": f"20{17 + n // 1000}-{n % 1000:04d}",
                "proposal_id": 100 + n,
                "unit": units[n % len(units)],
            }
            for n in range(6000)
        ]
        s.execute(insert(Assignment), rare + rows)
    with sessions() as s:
        repo = SqlAssignmentUnitOfWork(s).assignments
        total, page = repo.assignment_page(0, 50, unit="transport")
        assert (
            total == (500, True)
            and len(page) == 50
            and [r.id for r in page] == sorted((r.id for r in page), reverse=True)
        )
        assert repo.assignment_page(0, 50, unit="rare")[0] == (20, True)
        connection = s.connection()
        connection.exec_driver_sql("ANALYZE" if db_kind == "sqlite" else "ANALYZE assignments")
        explain = "EXPLAIN QUERY PLAN " if db_kind == "sqlite" else "EXPLAIN "
        plans = {}
        for unit in ("transport", "rare"):
            query = select(Assignment).where(Assignment.unit == unit).order_by(Assignment.id.desc()).limit(50)
            sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
            plans[unit] = " | ".join(str(r[-1]) for r in connection.exec_driver_sql(explain + sql))
    # transport's 500: read newest first from an index, stopping at the page - no sort of the 500
    plan = plans["transport"]
    assert "TEMP B-TREE" not in plan and " Sort " not in f" {plan} ".replace("Sort Key", ""), plan
    assert "INDEX" in plan.upper(), plan
    # the rare unit's 20: found by its unit in ix_assignments_unit_id, not among the other 6,000
    # (PostgreSQL may sort those 20 rows; SQLite reads them in order)
    assert "ix_assignments_unit_id" in plans["rare"], plans["rare"]
