"""The smoke diagram across the engine and the four services, over the real RabbitMQ."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.assignment.models import Assignment
from services.evaluation.models import Outcome
from services.intake.models import Submission
from services.supervision.models import Escalation
from shared.errors import Forbidden
from tests.support import wait_for

STAFF = {"user": "staff.wang", "roles": ["staff"]}
MEMBER = {"user": "member.li", "roles": ["member"]}
# Raw starts and messages over RPC are for operators (people start work through their services).
OPERATOR = {"user": "ops.sun", "roles": ["operator"]}
DATA = {"title": "Repair the bus shelter", "unit": "transport", "reply_within": "P30D"}


def count(system, service, model, **where):
    with system.session(service) as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return s.scalar(query)


def review_task(system, instance_id):
    return wait_for(lambda: system.rpc.engine.list_tasks(STAFF, instance_id), message="the review task")[0]


def waits_for_reply(system, instance_id):
    return wait_for(
        lambda: system.rpc.engine.get_instance(instance_id)["waiting_messages"] == ["unit_reply"],
        message="the instance to wait for the unit's reply",
    )


def completed(system, instance_id):
    return wait_for(
        lambda: system.rpc.engine.get_instance(instance_id)["status"] == "completed", message="the instance to complete"
    )


def test_answered_path_runs_one_operation_on_each_service_it_reaches(system):
    member = system.rpc.engine  # a member's raw start over RPC is refused by the engine itself
    with pytest.raises(Forbidden):
        member.start("smoke", "SMOKE-0", DATA, MEMBER)
    with pytest.raises(Forbidden):
        member.send_message({"name": "unit_reply", "correlation_key": "SMOKE-0", "message_id": "m-0"}, MEMBER)
    inst = system.rpc.engine.start("smoke", "SMOKE-1", DATA, OPERATOR)
    task = review_task(system, inst["id"])
    system.rpc.engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    waits_for_reply(system, inst["id"])
    reply = {
        "name": "unit_reply",
        "correlation_key": "SMOKE-1",
        "message_id": "reply-1",
        "payload": {"text": "repaired"},
    }
    assert system.rpc.engine.send_message(reply, OPERATOR)["status"] == "delivered"
    completed(system, inst["id"])
    assert count(system, "intake", Submission, title=DATA["title"]) == 1
    assert count(system, "assignment", Assignment, unit="transport") == 1
    assert count(system, "evaluation", Outcome, outcome="answered") == 1
    actions = [h["action"] for h in system.rpc.engine.history(inst["id"])]
    assert actions.count("job_completed") == 3 and "message_delivered" in actions


def test_deadline_path_escalates_through_supervision(system, skipping_clock):
    inst = system.rpc.engine.start("smoke", "SMOKE-2", DATA, OPERATOR)
    system.rpc.engine.complete_task(review_task(system, inst["id"])["task_id"], {"approved": True}, STAFF)
    waits_for_reply(system, inst["id"])
    skipping_clock.advance(days=31)
    system.rpc.engine.fire_timers()
    completed(system, inst["id"])
    assert count(system, "supervision", Escalation, unit="transport") == 1
    assert count(system, "evaluation", Outcome, outcome="overdue") == 1


def test_message_sent_before_the_instance_waits_is_kept_and_delivered_later(system):
    early = {"name": "unit_reply", "correlation_key": "SMOKE-3", "message_id": "early-1", "payload": {}}
    assert system.rpc.engine.send_message(early, OPERATOR)["status"] == "buffered"
    assert system.rpc.engine.send_message(early, OPERATOR)["status"] == "duplicate"
    inst = system.rpc.engine.start("smoke", "SMOKE-3", DATA, OPERATOR)
    system.rpc.engine.complete_task(review_task(system, inst["id"])["task_id"], {"approved": True}, STAFF)
    completed(system, inst["id"])
    assert count(system, "evaluation", Outcome, outcome="answered") == 1


def test_unknown_unit_is_a_business_error_the_diagram_catches(system):
    inst = system.rpc.engine.start("smoke", "SMOKE-4", {**DATA, "unit": "no-such-bureau"}, OPERATOR)
    system.rpc.engine.complete_task(review_task(system, inst["id"])["task_id"], {"approved": True}, STAFF)
    completed(system, inst["id"])
    assert count(system, "assignment", Assignment) == 0
    assert "bpmn_error" in [h["action"] for h in system.rpc.engine.history(inst["id"])]


@pytest.mark.both_databases
def test_a_start_command_over_the_bus_starts_one_instance_however_often_it_arrives(system):
    from shared import contracts
    from tests.support import publish

    command = {
        "command_id": "intake-proposal-2027-0001",
        "process_id": "smoke",
        "business_key": "2027-0001",
        "data": DATA,
        "principal": MEMBER,
    }
    for _ in range(2):
        publish(system.settings.amqp_uri, contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY, command)
    [instance] = wait_for(
        lambda: system.rpc.engine.find_instances(business_key="2027-0001"), message="the started instance"
    )
    review_task(system, instance["id"])
    assert len(system.rpc.engine.find_instances(business_key="2027-0001")) == 1


def test_a_message_over_the_bus_reaches_the_waiting_instance(system):
    from shared import contracts
    from tests.support import publish

    inst = system.rpc.engine.start("smoke", "SMOKE-BUS", DATA, OPERATOR)
    system.rpc.engine.complete_task(review_task(system, inst["id"])["task_id"], {"approved": True}, STAFF)
    waits_for_reply(system, inst["id"])
    publish(
        system.settings.amqp_uri,
        contracts.MESSAGES_EXCHANGE,
        contracts.MESSAGE_ROUTING_KEY,
        {"name": "unit_reply", "correlation_key": "SMOKE-BUS", "message_id": "bus-1", "payload": {}},
    )
    completed(system, inst["id"])


def test_a_start_command_for_an_unknown_process_is_dead_lettered(system):
    from shared import contracts
    from tests.support import get_messages, publish

    publish(
        system.settings.amqp_uri,
        contracts.MESSAGES_EXCHANGE,
        contracts.START_ROUTING_KEY,
        {"command_id": "c-1", "process_id": "no_such_process", "data": {}},
    )
    vhost = system.settings.amqp_uri.rsplit("/", 1)[-1]
    dead = wait_for(lambda: get_messages(vhost, contracts.DEAD_QUEUE), message="the dead letter")
    assert "no_such_process" in dead[0]["properties"]["headers"][contracts.REASON_HEADER]
