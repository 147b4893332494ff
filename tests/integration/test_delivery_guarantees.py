"""The job protocol's promises, shown against the real RabbitMQ and a real database:
duplicates have one effect, a killed worker loses nothing, a broker restart loses nothing,
a job that keeps failing becomes an incident that a retry finishes, and bad messages are
dead-lettered with their reason and change nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text

from services.engine.models import Job
from services.evaluation.models import Outcome
from services.intake.models import Inbox as IntakeInbox
from services.intake.models import Submission
from shared import contracts
from shared.config import ROOT
from tests.support import (
    get_messages,
    make_settings,
    sealed_job,
    publish,
    queue_info,
    ready_count,
    settings_env,
    wait_for,
    ztc,
)

from .conftest import DOMAIN_SERVICES, System
from .test_smoke_over_the_bus import DATA, MEMBER, OPERATOR, STAFF, completed, count, review_task, waits_for_reply


def job_message(system, operation):
    """The job the engine sent for ``operation``, as it went over the bus."""
    with system.session("engine") as s:
        job = s.scalar(select(Job).where(Job.operation == operation))
        instance_key = system.engine.get_instance(job.instance_id)["business_key"]
        return sealed_job(
            contracts.JobSchema().dump(
                {
                    "job_id": job.job_id,
                    "instance_id": job.instance_id,
                    "task_id": job.task_id,
                    "operation": job.operation,
                    "params": job.params,
                    "attempt": job.attempt,
                    "business_key": instance_key,
                    "principal": MEMBER,
                }
            ),
            system.settings,
        )


@pytest.mark.both_databases
def test_a_job_delivered_twice_has_one_effect(system):
    system.stop_service("intake")
    inst = system.rpc.engine.start("smoke", "DUP-1", DATA, OPERATOR)
    queue = contracts.job_queue("intake")
    wait_for(lambda: ready_count(system.settings.amqp_uri, queue) == 1, message="the job to be queued")
    publish(
        system.settings.amqp_uri,
        contracts.JOBS_EXCHANGE,
        "intake.record_submission",
        job_message(system, "intake.record_submission"),
    )
    assert ready_count(system.settings.amqp_uri, queue) == 2

    system.start_service("intake")
    review_task(system, inst["id"])
    wait_for(lambda: ready_count(system.settings.amqp_uri, queue) == 0, message="both deliveries taken")
    system.stop_service("intake")  # a graceful stop waits for running workers: both are handled

    assert count(system, "intake", Submission, business_key=None) == 1
    assert count(system, "intake", IntakeInbox) == 1
    completions = [
        h
        for h in system.rpc.engine.history(inst["id"])
        if h["action"] == "job_completed" and h["task"] == "record_submission"
    ]
    assert len(completions) == 1


def _service_process(settings, name):
    env = dict(os.environ, **settings_env(settings))
    return subprocess.Popen(
        [sys.executable, "-m", "services.runner", name],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class TableLock:
    """Holds a write lock on a service's table so its worker blocks mid-job."""

    def __init__(self, url, table):
        from sqlalchemy import create_engine

        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.conn = self.engine.connect()
        if url.startswith("sqlite"):
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            self.conn.exec_driver_sql("BEGIN")
            self.conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def release(self):
        self.conn.exec_driver_sql("ROLLBACK")
        self.conn.close()
        self.engine.dispose()


def unacked(system, queue):
    return queue_info(system.settings.amqp_uri.rsplit("/", 1)[-1], queue).get("messages_unacknowledged", 0)


@pytest.mark.both_databases
def test_a_worker_killed_mid_job_loses_nothing(tmp_path, vhost, database_url_template):
    from tests.integration.conftest import System
    from tests.support import make_settings

    # On SQLite the lock makes the worker's inbox check fail at once; it holds the job through the
    # pause before its next attempt, so the pauses are as long as in production here.
    settings = make_settings(
        tmp_path,
        vhost,
        database_url_template,
        ZTC_MESSAGE_RETRY_PAUSE_SECONDS="1",
        ZTC_MESSAGE_RETRY_PAUSE_MAX_SECONDS="10",
    )
    system = System(settings, ("engine", "assignment", "supervision", "evaluation"))
    worker = _service_process(settings, "intake")
    try:
        lock = TableLock(settings.database_url("intake"), "submissions")
        inst = system.rpc.engine.start("smoke", "KILL-1", DATA, OPERATOR)
        queue = contracts.job_queue("intake")
        wait_for(lambda: unacked(system, queue) == 1, timeout=30, message="the worker to hold the job")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        lock.release()
        assert count(system, "intake", Submission) == 0

        worker = _service_process(settings, "intake")
        # A new interpreter starts, takes the redelivered job, and on SQLite may meet the retry pauses
        # above (up to 10 s): on a busy machine that is more than the usual 20 s. A lost job never comes.
        wait_for(lambda: system.rpc.engine.list_tasks(STAFF, inst["id"]), timeout=90, message="the review task")
        assert count(system, "intake", Submission) == 1
    finally:
        worker.kill()
        worker.wait(timeout=10)
        system.stop()


@pytest.fixture
def own_broker():
    """A RabbitMQ node of this test's own (``bench/nodes.py``, on free ports): the restart below
    stops and starts its application, which no other test on the machine's broker feels, so the
    test runs in a lane beside the others. Ports are looked for above the chaos run's."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from nodes import Cluster, free_base_port
    finally:
        sys.path.remove(str(ROOT / "bench"))
    with Cluster(nodes=1, base_port=free_base_port(first=5791, last=5890), name=f"ztcrestart{os.getpid()}-") as node:
        yield node.nodes[0]


@pytest.fixture
def system_on_own_broker(tmp_path, own_broker, database_url_template):
    settings = make_settings(
        tmp_path,
        "",
        database_url_template,
        ZTC_AMQP_URI=f"amqp://guest:guest@127.0.0.1:{own_broker.amqp_port}/",
        ZTC_RABBIT_MANAGEMENT_URL=f"http://guest:guest@127.0.0.1:{own_broker.management_port}",
    )
    running = System(settings, ("engine", *DOMAIN_SERVICES))
    yield running
    running.stop()


def restart_broker(node):
    """What an operator's restart of the broker does: the node's RabbitMQ application stopped and started."""
    node.ctl("stop_app")
    node.ctl("start_app")
    node.await_startup()


@pytest.mark.restarts_broker
def test_instances_complete_across_a_broker_restart(system_on_own_broker, own_broker):
    system = system_on_own_broker
    assert f":{own_broker.amqp_port}/" in system.settings.amqp_uri  # not the machine's broker
    keys = [f"RESTART-{n}" for n in range(4)]
    ids = [system.rpc.engine.start("smoke", key, DATA, OPERATOR)["id"] for key in keys]
    for instance_id in ids[:2]:
        system.rpc.engine.complete_task(review_task(system, instance_id)["task_id"], {"approved": True}, STAFF)

    restart_broker(own_broker)
    system.reconnect_rpc()

    for instance_id in ids[2:]:
        task = wait_for(
            lambda instance_id=instance_id: system.rpc.engine.list_tasks(STAFF, instance_id),
            timeout=60,
            message="the review task after the restart",
        )[0]
        system.rpc.engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    for key, instance_id in zip(keys, ids, strict=True):
        wait_for(
            lambda instance_id=instance_id: system.rpc.engine.get_instance(instance_id)["waiting_messages"],
            timeout=60,
            message=f"{key} to wait for the reply",
        )
        system.rpc.engine.send_message(
            {"name": "unit_reply", "correlation_key": key, "message_id": f"reply-{key}", "payload": {}}, OPERATOR
        )
    for instance_id in ids:
        wait_for(
            lambda instance_id=instance_id: system.rpc.engine.get_instance(instance_id)["status"] == "completed",
            timeout=60,
            message="completion after the restart",
        )
    assert count(system, "intake", Submission) == 4
    assert count(system, "evaluation", Outcome, outcome="answered") == 4


@pytest.mark.both_databases
def test_a_job_that_keeps_failing_becomes_an_incident_that_a_retry_completes(system):
    eval_url = system.settings.database_url("evaluation")
    with system.session("evaluation") as s:
        s.execute(text("ALTER TABLE outcomes RENAME TO outcomes_away"))
    inst = system.rpc.engine.start("smoke", "INCIDENT-1", DATA, OPERATOR)
    system.rpc.engine.complete_task(review_task(system, inst["id"])["task_id"], {"approved": False}, STAFF)
    instance = wait_for(
        lambda: (lambda i: i if i["status"] == "incident" else None)(system.rpc.engine.get_instance(inst["id"])),
        timeout=30,
        message="the incident",
    )
    [incident] = instance["incidents"]
    assert incident["operation"] == "evaluation.record_outcome"
    assert "outcomes" in incident["error"]
    retries = [h for h in system.rpc.engine.history(inst["id"]) if h["action"] == "job_retry"]
    assert len(retries) == system.settings.job_max_attempts - 1

    listed = ztc(system.settings, "incidents", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [i["id"] for i in json.loads(listed.stdout)] == [incident["id"]]

    with system.session("evaluation") as s:
        s.execute(text("ALTER TABLE outcomes_away RENAME TO outcomes"))
    retried = ztc(system.settings, "incidents", "retry", str(incident["id"]))
    assert retried.returncode == 0, retried.stderr
    completed(system, inst["id"])
    assert count(system, "evaluation", Outcome, outcome="rejected") == 1
    assert system.rpc.engine.incidents("open") == []
    assert ztc(system.settings, "incidents", "retry", str(incident["id"])).returncode == 1
    del eval_url


@pytest.mark.parametrize(
    "body, content_type, routing_key, reason",
    [
        ({"job_id": "j-1"}, "application/json", "intake.record_submission", "malformed job"),
        (b"{not json", "application/json", "intake.record_submission", "undecodable message"),
        ("just text", "text/plain", "intake.record_submission", "undecodable message"),
    ],
)
def test_a_bad_job_message_is_dead_lettered_with_its_reason_and_changes_nothing(
    system, body, content_type, routing_key, reason
):
    vhost = system.settings.amqp_uri.rsplit("/", 1)[-1]
    if isinstance(body, dict):
        body = sealed_job(body, system.settings)  # what is wrong is inside, not the seal
    publish(system.settings.amqp_uri, contracts.JOBS_EXCHANGE, routing_key, body, content_type=content_type)
    dead = wait_for(lambda: get_messages(vhost, contracts.DEAD_QUEUE), message="the dead letter")
    assert len(dead) == 1
    headers = dead[0]["properties"]["headers"]
    assert reason in headers[contracts.REASON_HEADER]
    assert headers["x-ztc-original-routing-key"] == routing_key
    assert count(system, "intake", Submission) == 0
    assert count(system, "intake", IntakeInbox) == 0
    # The service still works after it.
    inst = system.rpc.engine.start("smoke", "AFTER-BAD", DATA, OPERATOR)
    review_task(system, inst["id"])


def test_a_malformed_job_result_is_dead_lettered_and_changes_nothing(system):
    vhost = system.settings.amqp_uri.rsplit("/", 1)[-1]
    inst = system.rpc.engine.start("smoke", "BAD-RESULT", DATA, OPERATOR)
    review_task(system, inst["id"])
    before = system.rpc.engine.get_instance(inst["id"])
    publish(
        system.settings.amqp_uri,
        contracts.RESULTS_EXCHANGE,
        contracts.RESULT_ROUTING_KEY,
        {"job_id": "x", "status": "maybe"},
    )
    dead = wait_for(lambda: get_messages(vhost, contracts.DEAD_QUEUE), message="the dead letter")
    assert "malformed job result" in dead[0]["properties"]["headers"][contracts.REASON_HEADER]
    after = system.rpc.engine.get_instance(inst["id"])
    assert after["revision"] == before["revision"]


def test_queues_are_drained_after_the_smoke_run(system):
    inst = system.rpc.engine.start("smoke", "DRAIN-1", DATA, OPERATOR)
    system.rpc.engine.complete_task(review_task(system, inst["id"])["task_id"], {"approved": True}, STAFF)
    waits_for_reply(system, inst["id"])
    system.rpc.engine.send_message(
        {"name": "unit_reply", "correlation_key": "DRAIN-1", "message_id": "r", "payload": {}}, OPERATOR
    )
    completed(system, inst["id"])
    time.sleep(0.5)
    for queue in [
        *(contracts.job_queue(s) for s in contracts.SERVICES),
        contracts.ENGINE_RESULTS_QUEUE,
        contracts.DEAD_QUEUE,
    ]:
        assert ready_count(system.settings.amqp_uri, queue) == 0, queue
    with system.session("engine") as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status != "done")) == 0
