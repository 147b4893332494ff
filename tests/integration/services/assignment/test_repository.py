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
