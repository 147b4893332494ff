"""``process.cancelled`` over the real broker and database: the engine's event on ``ztc.events``
cancels the proposal's open assignments, each unit hears ``assignment.cancelled`` on its own queue
once however often the event comes; a malformed one is dead-lettered with its reason; another
process's changes nothing and is not dead-lettered."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from services.assignment import contracts
from services.assignment.models import AssignmentEvent
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
from tests.support import get_messages, publish, ready_count, wait_for

REASON = "重复立案"


def cancelled(instance_id="inst-1", process_id="proposal", business_key="2026-0001", **payload):
    return {
        "event_id": f"cancelled:{instance_id}",
        "name": shared_contracts.PROCESS_CANCELLED,
        "occurred_at": clock.now().isoformat(),
        "subject": business_key or instance_id,
        "payload": {
            "instance_id": instance_id,
            "process_id": process_id,
            "business_key": business_key,
            "reason": REASON,
            "by": "ops.chen",
            **payload,
        },
    }


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
