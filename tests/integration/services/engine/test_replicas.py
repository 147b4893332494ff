"""Two engine service instances on one PostgreSQL database and one vhost of the real broker,
stepping the same instances at once: every instance reaches its end, no step is lost or taken
twice, and the saves that met a newer revision are counted and retried, never an incident.

Each instance forks into four service tasks (a parallel gateway), whose jobs wait in the intake
service's queue until it starts; then their results come back in a burst, taken by both engines'
workers, so several results of one instance are applied at the same moment in two processes'
worth of workers. On PostgreSQL (psycopg2 made cooperative) their transactions truly overlap;
SQLite serialises writers, which is why this runs on PostgreSQL only.
"""

from __future__ import annotations

import collections

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select

from services.engine.engine import Engine
from services.engine.models import History, Incident, Instance
from services.engine.service import EngineService, EngineStore
from services.intake.models import Submission
from services.registry import service_class
from shared import contracts, metrics
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
from tests import support

OPERATOR = {"user": "ops.sun", "roles": ["operator"]}
BRANCHES = ("a", "b", "c", "d")
INSTANCES = 24


def branch(name: str) -> str:
    return f"""
    <bpmn:serviceTask id="record_{name}" name="Record {name}">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="intake.record_submission" resultVariable="sub_{name}">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="title" type="str" value="title + '-{name}'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_fork_{name}</bpmn:incoming>
      <bpmn:outgoing>f_{name}_join</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f_fork_{name}" sourceRef="fork" targetRef="record_{name}"/>
    <bpmn:sequenceFlow id="f_{name}_join" sourceRef="record_{name}" targetRef="join"/>"""


FORK = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_fork" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="fork_four" name="Four jobs at once" isExecutable="true">
    <bpmn:startEvent id="start" name="Started">
      <bpmn:outgoing>f_start_fork</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f_start_fork" sourceRef="start" targetRef="fork"/>
    <bpmn:parallelGateway id="fork" name="Fork">
      <bpmn:incoming>f_start_fork</bpmn:incoming>
      {"".join(f"<bpmn:outgoing>f_fork_{n}</bpmn:outgoing>" for n in BRANCHES)}
    </bpmn:parallelGateway>
    {"".join(branch(n) for n in BRANCHES)}
    <bpmn:parallelGateway id="join" name="Join">
      {"".join(f"<bpmn:incoming>f_{n}_join</bpmn:incoming>" for n in BRANCHES)}
      <bpmn:outgoing>f_join_end</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f_join_end" sourceRef="join" targetRef="end"/>
    <bpmn:endEvent id="end" name="Done">
      <bpmn:incoming>f_join_end</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()


@pytest.fixture
def settings(tmp_path, vhost, request):
    if request.config.getoption("--no-postgres"):
        pytest.skip("two engines' overlapping transactions need PostgreSQL")
    with support.postgres_databases() as template:
        yield support.make_settings(tmp_path, vhost, template)


def engine_of(runner: ServiceRunner) -> Engine:
    container = next(iter(runner.containers))
    return next(d for d in container.dependencies if isinstance(d, EngineStore)).engine


def conflicts_counted(outcome: str) -> float:
    return metrics.REVISION_CONFLICTS.labels(outcome)._value.get()


def test_two_engines_on_the_same_instances_lose_nothing_do_nothing_twice_and_count_their_conflicts(settings):
    for service in ("engine", "intake"):
        migrate(service, settings.database_url(service))
    topology.declare(settings.amqp_uri)
    Engine(session_factory(settings.database_url("engine")), settings).deploy({"fork_four.bpmn": FORK})
    runners = []

    def run(cls):
        runner = ServiceRunner(settings.nameko_config())
        runner.add_service(cls)
        runner.start()
        runners.append(runner)
        return runner

    retried_before, given_up_before = conflicts_counted("retried"), conflicts_counted("gave_up")
    try:
        first, second = run(EngineService), run(EngineService)
        engines = [engine_of(first), engine_of(second)]
        assert engines[0] is not engines[1]
        with ClusterRpcProxy(settings.nameko_config()) as rpc:
            signed = support.signed(OPERATOR, settings)
            started = [
                rpc.engine.start("fork_four", f"FORK-{i:03d}", {"title": f"fork {i}"}, signed) for i in range(INSTANCES)
            ]
        # Every job waits in intake's queue before any result exists: the results then come in a burst.
        jobs = contracts.job_queue("intake")
        support.wait_for(
            lambda: support.ready_count(settings.amqp_uri, jobs) == INSTANCES * len(BRANCHES),
            timeout=30,
            message="every job of every instance in intake's queue",
        )
        run(service_class("intake"))
        ids = [i["id"] for i in started]
        with_sessions = session_factory(settings.database_url("engine"))

        def completed():
            with transaction(with_sessions) as s:
                return (
                    s.scalar(
                        select(func.count())
                        .select_from(Instance)
                        .where(Instance.id.in_(ids), Instance.status == "completed")
                    )
                    == INSTANCES
                )

        support.wait_for(completed, timeout=40, interval=0.2, message="every instance completed")
        support.wait_for(
            lambda: all(
                support.ready_count(settings.amqp_uri, q) == 0
                for q in (jobs, contracts.ENGINE_RESULTS_QUEUE, contracts.DEAD_QUEUE)
            ),
            timeout=10,
            message="the job, result and dead-letter queues drained",
        )

        with transaction(with_sessions) as s:
            history = s.execute(
                select(History.instance_id, History.action, History.data).where(History.instance_id.in_(ids))
            ).all()
            incidents = s.scalar(select(func.count()).select_from(Incident))
        sent = collections.Counter(h.data["job_id"] for h in history if h.action == "job_sent")
        done = collections.Counter(h.data["job_id"] for h in history if h.action == "job_completed")
        ends = collections.Counter(h.instance_id for h in history if h.action == "completed")
        assert len(sent) == len(done) == INSTANCES * len(BRANCHES), "a job was lost"
        assert set(sent.values()) == {1} and set(done.values()) == {1}, "a job was sent or applied twice"
        assert ends == {i: 1 for i in ids}
        assert incidents == 0
        with transaction(session_factory(settings.database_url("intake"))) as s:
            titles = collections.Counter(s.scalars(select(Submission.title)))
        assert titles == {f"fork {i}-{b}": 1 for i in range(INSTANCES) for b in BRANCHES}

        # Both engines applied results, and the saves that met a newer revision were counted and retried.
        assert all(len(e.store.workflows) > 0 for e in engines), "one engine stepped nothing"
        conflicts = sum(e.store.conflicts for e in engines)
        assert conflicts > 0, "no two saves of one instance overlapped: the test did not race"
        assert conflicts_counted("retried") - retried_before == conflicts
        assert conflicts_counted("gave_up") == given_up_before
    finally:
        for runner in reversed(runners):
            runner.stop()
        dispose_all()
