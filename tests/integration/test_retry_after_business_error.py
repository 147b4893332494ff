"""An incident opened by a business error no boundary event catches can be retried once its cause
is fixed: the service runs the job sent again (a higher attempt) instead of taking it for a
duplicate, and a second delivery of that retry still has no second effect."""

from __future__ import annotations

from sqlalchemy import func, select

from services.assignment.models import Assignment
from services.assignment.operations import ensure_units
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from shared import contracts
from tests.support import publish, wait_for

from .test_delivery_guarantees import job_message
from .test_smoke_over_the_bus import OPERATOR

# start -> assign a unit (no boundary event: no_unit is an incident) -> an operator confirms -> end.
UNCAUGHT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_uncaught" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="uncaught_no_unit" name="Uncaught no_unit" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="assign" name="Assign the unit">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="assignment.assign_unit" resultVariable="assignment">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="submission_id" type="int" value="submission_id"/>
            <spiffworkflow:parameter id="unit" type="str" value="unit"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="confirm" name="Confirm the assignment">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidateRole" value="operator"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assign"/>
    <bpmn:sequenceFlow id="f2" sourceRef="assign" targetRef="confirm"/>
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_an_uncaught_business_error_retried_after_its_cause_is_fixed_runs_again_once(system):
    system.engine.deploy({"uncaught.bpmn": UNCAUGHT})
    inst = system.rpc.engine.start("uncaught_no_unit", "RETRY-BE-1", {"submission_id": 7, "unit": "harbour"}, OPERATOR)
    stuck = wait_for(
        lambda: (lambda i: i if i["status"] == "incident" else None)(system.rpc.engine.get_instance(inst["id"])),
        timeout=30,
        message="the incident",
    )
    [incident] = stuck["incidents"]
    assert "no_unit" in incident["error"] and "harbour" in incident["error"]

    # Retried before the cause is fixed: the same business error, the incident open again.
    system.rpc.engine.retry_incident(incident["id"], OPERATOR)
    wait_for(
        lambda: system.rpc.engine.get_instance(inst["id"])["status"] == "incident",
        timeout=30,
        message="the incident again",
    )

    with system.session("assignment") as s:
        ensure_units(SqlAssignmentUnitOfWork(s), {"harbour": "港务局"})
    system.rpc.engine.retry_incident(incident["id"], OPERATOR)
    moved = wait_for(
        lambda: (lambda i: i if i["waiting_tasks"] == ["confirm"] else None)(
            system.rpc.engine.get_instance(inst["id"])
        ),
        timeout=30,
        message="the instance at confirm",
    )
    assert moved["status"] == "waiting" and moved["incidents"] == []

    # The retried job delivered once more: no second assignment.
    publish(
        system.settings.amqp_uri,
        contracts.JOBS_EXCHANGE,
        "assignment.assign_unit",
        job_message(system, "assignment.assign_unit"),
    )
    import time

    time.sleep(1.5)
    with system.session("assignment") as s:
        assert s.scalar(select(func.count()).select_from(Assignment).where(Assignment.unit == "harbour")) == 1
