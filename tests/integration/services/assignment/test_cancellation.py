"""``process.cancelled`` over the real broker and database: the engine's event on ``ztc.events``
cancels the proposal's open assignments, each unit hears ``assignment.cancelled`` on its own queue
once however often the event comes; a malformed one is dead-lettered with its reason; another
process's changes nothing and is not dead-lettered."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from services.assignment import commands, contracts, decisions, operations, queries
from services.assignment.models import AssignmentEvent, Base, Outbox
from services.assignment.rules import RulebookRules
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from shared.errors import Conflict
from shared import clock
from shared import contracts as shared_contracts
from shared.db import session_factory, transaction
from tests.integration.services.assignment.test_service import (  # noqa: F401 - the fixture, used by name
    assign_several,
    assignment,
    assignment_service,
    taken,
    vhost_of,
)
from tests.support import get_messages, process_cancelled, publish, ready_count, wait_for

REASON = "重复立案"
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}


def cancelled(instance_id="inst-1", process_id="proposal", business_key="2026-0001", **payload):
    return process_cancelled(
        business_key, REASON, "ops.chen", process_id=process_id, instance_id=instance_id, payload=payload
    )


def heard(settings, body) -> None:
    publish(settings.amqp_uri, shared_contracts.EVENTS_EXCHANGE, shared_contracts.PROCESS_CANCELLED, body)


def cancellations(settings, assignment_id) -> list[dict]:
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        query = select(AssignmentEvent).where(
            AssignmentEvent.assignment_id == assignment_id, AssignmentEvent.action == "cancelled"
        )
        return [e.data for e in s.scalars(query)]


def test_a_cancelled_proposal_process_cancels_its_assignments_and_tells_each_unit_once(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    heard(settings, cancelled(process_id="opinion"))  # another process's instance: nothing, no dead letter
    heard(settings, cancelled())
    heard(settings, cancelled())  # heard twice
    for unit, assignment_id in ids.items():
        [event] = taken(settings, contracts.unit_queue(unit))
        assert event["routing_key"] == f"{unit}.assignment.cancelled"
        body = json.loads(event["payload"])
        assert (body["reason"], body["note"], body["cancelled_by"]) == ("process_cancelled", REASON, "ops.chen")
        assert assignment(settings, assignment_id).status == "cancelled"
    wait_for(lambda: ready_count(settings.amqp_uri, "ztc.events.assignment") == 0, message="events taken")
    time.sleep(1)  # the last one taken is handled in milliseconds: give it time to (wrongly) tell again
    assert [len(cancellations(settings, i)) for i in ids.values()] == [1, 1]
    assert not [m for unit in ids for m in get_messages(vhost_of(settings), contracts.unit_queue(unit))], (
        "nothing more to the units"
    )
    assert ready_count(settings.amqp_uri, shared_contracts.DEAD_QUEUE) == 0


def test_a_malformed_cancellation_is_dead_lettered_with_its_reason_and_changes_nothing(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    body = cancelled()
    del body["payload"]["by"]
    heard(settings, body)
    [dead] = taken(settings, shared_contracts.DEAD_QUEUE)
    reason = dead["properties"]["headers"][shared_contracts.REASON_HEADER]
    assert reason.startswith("invalid_input: the payload of process.cancelled"), reason
    assert "'by'" in reason
    assert {assignment(settings, i).status for i in ids.values()} == {"assigned"}


@pytest.fixture
def sessions(tables_of):
    return tables_of("assignment", Base)


@pytest.mark.both_databases
def test_a_b_reply_accepted_is_kept_its_unit_told_and_a_later_milestone_refused(sessions, skipping_clock):
    rules = RulebookRules()
    unit = {"user": "handler.transport", "roles": ["unit"], "unit": "transport"}
    with sessions() as session:
        uow = SqlAssignmentUnitOfWork(session)
        operations.ensure_units(uow, {"transport": "Transport Bureau"})
        [row] = operations.assign(
            uow, {"proposal_id": 1, "number": "2026-0001", "mode": "single", "units": ["transport"]}, STAFF
        )["assignments"]
        reply = {"category": "B", "text": "列入计划", "milestones": [{"what": "立项", "due": "2026-12-31"}]}
        for command, params in (("sign", {}), ("draft_reply", reply), ("submit_reply", {})):
            commands.run(uow, rules, command, {"assignment_id": row["id"], **params}, unit)
        decisions.hear_acceptance(
            uow,
            {
                "event_id": "rating-1",
                "name": decisions.RATING_OPENED,
                "occurred_at": clock.now().isoformat(),
                "subject": "2026-0001",
                "payload": {"round": 1},
            },
        )
        session.commit()
    for _ in range(2):
        with sessions() as session:
            decisions.hear_cancellation(SqlAssignmentUnitOfWork(session), cancelled())
            session.commit()
    with sessions() as session:
        uow = SqlAssignmentUnitOfWork(session)
        seen = queries.get_assignment(uow, row["id"], unit)
        assert (seen["status"], seen["cancelled_at"]) == ("replied", clock.now().isoformat())
        assert seen["handling_cancelled"]["reply_kept"] is True and seen["handling_cancelled"]["note"] == REASON
        assert [r["status"] for r in seen["replies"]] == ["submitted"]
        told = [
            o.payload for o in session.scalars(select(Outbox)) if o.routing_key == f"transport.{contracts.CANCELLED}"
        ]
        assert len(told) == 1 and told[0]["reply_kept"] is True
        with pytest.raises(Conflict, match="handling of proposal 2026-0001 was cancelled by ops.chen"):
            commands.run(
                uow, rules, "report_milestone", {"assignment_id": row["id"], "milestone": 1, "note": "立项"}, unit
            )
