"""A job whose operation the contracts declare but no running service handles (a service not yet
upgraded, a handler removed) no longer waits for ever: the service answers ``failed`` with the code
``unknown_operation``, and the engine opens an incident on the instance at once, naming the
element; a stray job for no engine job is answered and dropped, not dead-lettered."""

from __future__ import annotations

import dataclasses

from services.intake.models import Inbox as IntakeInbox
from shared import contracts
from shared.contracts import jobs as job_contracts
from tests.integration.services.engine.test_rules import SMOKE_TEXT
from tests.support import get_messages, publish, sealed_job, wait_for

from .test_smoke_over_the_bus import DATA, OPERATOR, count


def test_an_operation_no_service_handles_becomes_an_incident_on_its_instance(system, monkeypatch):
    declared = dataclasses.replace(job_contracts.OPERATIONS["intake.record_submission"], name="intake.not_yet_built")
    monkeypatch.setitem(job_contracts.OPERATIONS, "intake.not_yet_built", declared)
    system.engine.deploy(
        {"smoke.bpmn": SMOKE_TEXT.replace('id="intake.record_submission"', 'id="intake.not_yet_built"').encode()}
    )
    inst = system.rpc.engine.start("smoke", "UNHANDLED-1", DATA, OPERATOR)
    stuck = wait_for(
        lambda: (lambda i: i if i["status"] == "incident" else None)(system.rpc.engine.get_instance(inst["id"])),
        timeout=30,
        message="the incident",
    )
    [incident] = stuck["incidents"]
    assert incident["task"] == "record_submission" and incident["operation"] == "intake.not_yet_built"
    assert "unknown operation 'intake.not_yet_built' for service 'intake'" in incident["error"]
    assert "element 'record_submission'" in incident["error"]
    history = [h["action"] for h in system.rpc.engine.history(inst["id"])]
    assert "job_retry" not in history
    vhost = system.settings.amqp_uri.rsplit("/", 1)[-1]
    assert get_messages(vhost, contracts.DEAD_QUEUE) == []
    assert count(system, "intake", IntakeInbox) == 0

    # A stray job naming an unknown operation, for no instance: answered, dropped by the engine.
    # (Sealed as the engine seals its jobs: an unsealed one is refused before its operation is read.)
    publish(
        system.settings.amqp_uri,
        contracts.JOBS_EXCHANGE,
        "intake.drop_tables",
        sealed_job(
            {
                "job_id": "j-2",
                "instance_id": "i",
                "task_id": "t",
                "operation": "intake.drop_tables",
                "params": {},
                "attempt": 1,
            },
            system.settings,
        ),
    )
    import time

    time.sleep(1.0)
    assert get_messages(vhost, contracts.DEAD_QUEUE) == []


def test_a_job_the_service_cannot_take_becomes_an_incident_on_its_instance(settings):
    """A job the engine sent whose seal no longer matches (it was changed on the way, or another
    deployment's key): intake dead-letters it for the operators and answers ``refused_job``, and
    the engine opens an incident on the instance at once instead of the instance waiting for ever."""
    import json

    from tests.integration.conftest import System

    running = System(settings, ("engine",))  # intake not yet running: its job waits in its queue
    try:
        inst = running.rpc.engine.start("smoke", "REFUSED-2", DATA, OPERATOR)
        vhost = settings.amqp_uri.rsplit("/", 1)[-1]
        [sent] = wait_for(lambda: get_messages(vhost, contracts.job_queue("intake")), message="the job sent")
        job = json.loads(sent["payload"])
        job["params"] = {**job["params"], "title": "changed after sealing"}
        running.start_service("intake")
        publish(settings.amqp_uri, contracts.JOBS_EXCHANGE, job["operation"], job)
        stuck = wait_for(
            lambda: (lambda i: i if i["status"] == "incident" else None)(running.rpc.engine.get_instance(inst["id"])),
            timeout=30,
            message="the incident",
        )
        [incident] = stuck["incidents"]
        assert "the intake service refused the job: forbidden: a badly sealed job" in incident["error"]
        assert "job_retry" not in [h["action"] for h in running.rpc.engine.history(inst["id"])]
        [letter] = get_messages(vhost, contracts.DEAD_QUEUE)
        assert "a badly sealed job" in letter["properties"]["headers"][contracts.REASON_HEADER]
    finally:
        running.stop()
