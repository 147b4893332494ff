"""The engine's rules on a real database (SQLite and PostgreSQL), without the bus.

Jobs are taken from the engine's outbox as the relay would take them, and answered by hand, so
every path (versions, refused diagrams, the task list, optimistic saves, messages, timers,
retries and incidents) is driven step by step and checked in the state the engine stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from services.engine.engine import Engine
from services.engine.cache import WorkflowCache
from services.engine.models import BufferedMessage, History, Incident, Instance, Job, Outbox, WorkItem
from shared.db import session_factory, transaction
from shared.errors import Conflict, DiagramRefused, Forbidden, InvalidInput, NotFound
from tests.support import read_bpmn

# The engine's state on each database: optimistic saves, JSON columns, READ COMMITTED races.
pytestmark = pytest.mark.both_databases

STAFF = {"user": "staff.wang", "roles": ["staff"]}
OTHER_STAFF = {"user": "staff.zhao", "roles": ["staff"]}
MEMBER = {"user": "member.li", "roles": ["member"]}
DATA = {"title": "Repair the bus shelter on Renmin Road", "unit": "transport", "reply_within": "P30D"}
SUBMISSION = {"id": 41, "title": DATA["title"]}
ASSIGNMENT = {"assignment_id": 7, "unit": "transport"}

SMOKE = read_bpmn("smoke.bpmn")
SMOKE_TEXT = SMOKE["smoke.bpmn"].decode()


def smoke_variant(old: str, new: str) -> dict:
    """smoke.bpmn with one piece of text replaced (which must be there exactly once)."""
    assert SMOKE_TEXT.count(old) == 1, f"{old!r} is not in smoke.bpmn exactly once"
    return {"smoke.bpmn": SMOKE_TEXT.replace(old, new).encode()}


# A revision of the smoke process: a new name, and rejected submissions are now "declined".
REVISED_SMOKE = {
    "smoke.bpmn": SMOKE_TEXT.replace('name="Smoke test"', 'name="Smoke test, revised"')
    .replace('<bpmn:script>outcome = "rejected"</bpmn:script>', '<bpmn:script>outcome = "declined"</bpmn:script>')
    .encode()
}

# Two checks that run side by side and join: two inputs the same instance waits for at once.
PAIRED_CHECKS = {
    "paired_checks.bpmn": b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_paired" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="paired_checks" name="Paired checks" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_split</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>f_start_split</bpmn:incoming>
      <bpmn:outgoing>f_split_intake</bpmn:outgoing>
      <bpmn:outgoing>f_split_unit</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:serviceTask id="check_intake" name="Record the submission">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="intake.record_submission" resultVariable="submission">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="title" type="str" value="title"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_split_intake</bpmn:incoming>
      <bpmn:outgoing>f_intake_join</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="check_unit" name="Assign a unit">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="assignment.assign_unit" resultVariable="assignment">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="submission_id" type="int" value="1"/>
            <spiffworkflow:parameter id="unit" type="str" value="unit"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_split_unit</bpmn:incoming>
      <bpmn:outgoing>f_unit_join</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>f_intake_join</bpmn:incoming>
      <bpmn:incoming>f_unit_join</bpmn:incoming>
      <bpmn:outgoing>f_join_end</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f_join_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_split" sourceRef="start" targetRef="split"/>
    <bpmn:sequenceFlow id="f_split_intake" sourceRef="split" targetRef="check_intake"/>
    <bpmn:sequenceFlow id="f_split_unit" sourceRef="split" targetRef="check_unit"/>
    <bpmn:sequenceFlow id="f_intake_join" sourceRef="check_intake" targetRef="join"/>
    <bpmn:sequenceFlow id="f_unit_join" sourceRef="check_unit" targetRef="join"/>
    <bpmn:sequenceFlow id="f_join_end" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
}


# -- answering jobs as the relay and a service would ------------------------------------------------


@dataclass
class SentJob:
    payload: dict
    available_at: datetime

    @property
    def attempt(self) -> int:
        return self.payload["attempt"]

    @property
    def job_id(self) -> str:
        return self.payload["job_id"]


def outbox_count(engine, operation) -> int:
    with transaction(engine.sessions) as s:
        return s.scalar(select(func.count()).select_from(Outbox).where(Outbox.routing_key == operation))


def take_job(engine, operation) -> SentJob:
    """The newest job sent for ``operation``; its outbox row is deleted, as the relay does."""
    with transaction(engine.sessions) as s:
        row = s.scalars(
            select(Outbox).where(Outbox.routing_key == operation).order_by(Outbox.id.desc()).limit(1)
        ).first()
        assert row is not None, f"no {operation} job in the outbox"
        sent = SentJob(dict(row.payload), row.available_at)
        s.delete(row)
    assert sent.payload["operation"] == operation
    return sent


def answer(engine, job: SentJob, status="ok", result=None, code=None, message="") -> str:
    raw = {key: job.payload[key] for key in ("job_id", "instance_id", "task_id", "operation", "attempt")}
    raw.update(
        status=status, result=result, error={"code": code or status, "message": message} if status != "ok" else None
    )
    return engine.handle_result(raw)


def finish_job(engine, operation, result) -> SentJob:
    job = take_job(engine, operation)
    assert answer(engine, job, "ok", result) == "completed"
    return job


def count_rows(engine, model, **where) -> int:
    with transaction(engine.sessions) as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return s.scalar(query)


# -- driving the smoke process ------------------------------------------------------------------------


def at_review(engine, key, data=DATA) -> dict:
    inst = engine.start("smoke", key, dict(data), MEMBER)
    finish_job(engine, "intake.record_submission", SUBMISSION)
    inst = engine.get_instance(inst["id"])
    assert inst["waiting_tasks"] == ["review"]
    return inst


def review_task(engine, instance_id) -> dict:
    [task] = engine.list_tasks(STAFF, instance_id)
    assert task["task"] == "review"
    return task


def at_assignment(engine, key) -> dict:
    inst = at_review(engine, key)
    engine.complete_task(review_task(engine, inst["id"])["task_id"], {"approved": True}, STAFF)
    inst = engine.get_instance(inst["id"])
    assert waits_at_assignment(inst)
    return inst


def waiting_for_reply(engine, key) -> dict:
    inst = at_assignment(engine, key)
    finish_job(engine, "assignment.assign_unit", ASSIGNMENT)
    inst = engine.get_instance(inst["id"])
    assert inst["waiting_tasks"] == ["wait_reply"]
    assert inst["waiting_messages"] == ["unit_reply"]
    return inst


def waits_at_assignment(inst) -> bool:
    """The instance waits for assign_unit (its error boundary event ``no_unit`` waits with it)."""
    return "assign_unit" in inst["waiting_tasks"] and set(inst["waiting_tasks"]) <= {"assign_unit", "no_unit"}


def actions(engine, instance_id) -> list[str]:
    return [h["action"] for h in engine.history(instance_id)]


# -- 1. versions ----------------------------------------------------------------------------------------


def test_redeploying_the_same_diagram_stores_no_second_version(engine):
    [first] = engine.deploy(SMOKE)
    [again] = engine.deploy(SMOKE)
    assert first["new"] is True and again["new"] is False
    assert again["id"] == first["id"] and again["version"] == first["version"]
    versions = engine.versions("smoke")
    assert [(v["id"], v["version"], v["name"]) for v in versions] == [(first["id"], first["version"], "Smoke test")]


def test_a_changed_diagram_is_a_new_version_and_running_instances_keep_theirs(engine):
    [v1] = engine.deploy(SMOKE)
    old = at_review(engine, "VER-OLD")
    assert old["version"] == v1["version"]

    [v2] = engine.deploy(REVISED_SMOKE)
    assert v2["new"] is True and v2["version"] != v1["version"]
    assert [(v["version"], v["name"]) for v in engine.versions("smoke")] == [
        (v1["version"], "Smoke test"),
        (v2["version"], "Smoke test, revised"),
    ]
    [again] = engine.deploy(REVISED_SMOKE)
    assert again["new"] is False and len(engine.versions()) == 2

    # The instance started before the change finishes on the old version's path ...
    engine.complete_task(review_task(engine, old["id"])["task_id"], {"approved": False}, STAFF)
    job = take_job(engine, "evaluation.record_outcome")
    assert job.payload["instance_id"] == old["id"]
    assert job.payload["params"] == {"submission_id": 41, "outcome": "rejected"}
    assert answer(engine, job, "ok", {"outcome_id": 1}) == "completed"
    old = engine.get_instance(old["id"])
    assert old["status"] == "completed" and old["version"] == v1["version"]

    # ... while a new instance runs the new version's.
    new = at_review(engine, "VER-NEW")
    assert new["version"] == v2["version"]
    engine.complete_task(review_task(engine, new["id"])["task_id"], {"approved": False}, STAFF)
    job = take_job(engine, "evaluation.record_outcome")
    assert job.payload["instance_id"] == new["id"]
    assert job.payload["params"] == {"submission_id": 41, "outcome": "declined"}
    assert answer(engine, job, "ok", {"outcome_id": 2}) == "completed"
    assert engine.get_instance(new["id"])["status"] == "completed"
    started = [h["data"]["version"] for i in (old, new) for h in engine.history(i["id"]) if h["action"] == "started"]
    assert started == [v1["version"], v2["version"]]


# -- 2. refused diagrams ----------------------------------------------------------------------------------


def _refused(engine, files) -> list[str]:
    before = engine.versions()
    with pytest.raises(DiagramRefused) as refusal:
        engine.deploy(files)
    problems = refusal.value.details["problems"]
    assert problems and all(isinstance(p, str) for p in problems)
    assert engine.versions() == before, "a refused diagram changed the deployed versions"
    return problems


def _script_diagram(task_id, script) -> dict:
    return {
        "snoop.bpmn": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="Definitions_snoop" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="snoop" name="Snoop" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="{task_id}" name="Look around">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{task_id}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="{task_id}" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()
    }


def test_a_diagram_that_is_not_well_formed_is_refused_and_nothing_is_stored(engine):
    engine.deploy(SMOKE)
    broken = {"smoke.bpmn": SMOKE_TEXT.replace("</bpmn:process>", "").encode()}
    [problem] = _refused(engine, broken)
    assert problem.startswith("smoke.bpmn:") and "not well-formed XML" in problem
    assert [v["name"] for v in engine.versions()] == ["Smoke test"]


@pytest.mark.parametrize(
    "script, rule",
    [
        ("import os\nos.system('id')", "imports are not allowed"),
        ("secrets = open('/etc/passwd').read()", "the name open is not allowed"),
        ("bases = ().__class__.__bases__", "invalid attribute name"),
    ],
)
def test_a_diagram_with_a_malicious_script_is_refused_naming_the_script_task(engine, script, rule):
    engine.deploy(SMOKE)
    [problem] = _refused(engine, _script_diagram("look_around", script))
    assert "snoop.bpmn" in problem and "element 'look_around' \"Look around\" (bpmn:scriptTask)" in problem
    assert rule in problem
    # The same script slipped into the smoke process is refused just as well.
    [problem] = _refused(
        engine,
        smoke_variant(
            '<bpmn:script>outcome = "rejected"</bpmn:script>', f"<bpmn:script>{escape(script)}</bpmn:script>"
        ),
    )
    assert "element 'set_outcome_rejected'" in problem and rule in problem
    assert engine.versions("snoop") == [] and len(engine.versions("smoke")) == 1
    # A harmless script in the same place deploys: the refusal was about the script.
    [stored] = engine.deploy(_script_diagram("look_around", "seen = 1"))
    assert stored["new"] is True and stored["process_id"] == "snoop"


def test_a_user_task_naming_an_unknown_form_schema_is_refused(engine):
    [problem] = _refused(engine, smoke_variant('value="smoke.review"', 'value="smoke.appeal"'))
    assert "element 'review'" in problem and "'smoke.appeal'" in problem
    assert "smoke.review" in problem, "the refusal should list the known form schemas"
    assert engine.versions() == []


# -- 3. task list and authorisation -------------------------------------------------------------------


def _snapshot(engine, instance_id):
    inst = engine.get_instance(instance_id)
    return inst["revision"], inst["waiting_tasks"], engine.history(instance_id)


def test_the_review_task_is_offered_to_staff_only_and_members_may_not_complete_it(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "AUTH-1")
    [task] = engine.list_tasks(STAFF)
    assert (task["instance_id"], task["task"], task["candidate_role"], task["form_schema"]) == (
        inst["id"],
        "review",
        "staff",
        "smoke.review",
    )
    assert engine.list_tasks(MEMBER) == []
    assert engine.list_tasks(MEMBER, inst["id"]) == []

    before = _snapshot(engine, inst["id"])
    with pytest.raises(Forbidden):
        engine.complete_task(task["task_id"], {"approved": True}, MEMBER)
    with pytest.raises(Forbidden):
        engine.claim(task["task_id"], MEMBER)
    assert _snapshot(engine, inst["id"]) == before
    assert engine.list_tasks(STAFF, inst["id"])[0]["status"] == "open"


def test_a_task_claimed_by_one_staff_member_cannot_be_completed_by_another(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "AUTH-2")
    task = review_task(engine, inst["id"])
    claimed = engine.claim(task["task_id"], STAFF)
    assert claimed["claimed_by"] == STAFF["user"]

    before = _snapshot(engine, inst["id"])
    with pytest.raises(Conflict):
        engine.complete_task(task["task_id"], {"approved": True}, OTHER_STAFF)
    with pytest.raises(Conflict):
        engine.claim(task["task_id"], OTHER_STAFF)
    assert _snapshot(engine, inst["id"]) == before

    engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    after = engine.get_instance(inst["id"])
    assert waits_at_assignment(after) and after["revision"] == before[0] + 1
    [done] = [h for h in engine.history(inst["id"]) if h["action"] == "task_completed"]
    assert done["actor"] == STAFF["user"] and done["data"] == {"approved": True, "comment": ""}


def test_a_form_that_does_not_fit_its_schema_is_refused_field_by_field_and_changes_nothing(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "AUTH-3")
    task = review_task(engine, inst["id"])
    before = _snapshot(engine, inst["id"])
    with pytest.raises(InvalidInput) as refusal:
        engine.complete_task(task["task_id"], {"approved": "perhaps"}, STAFF)
    assert refusal.value.details["approved"] and "boolean" in refusal.value.details["approved"][0].lower()
    with pytest.raises(InvalidInput) as refusal:
        engine.complete_task(task["task_id"], {}, STAFF)
    assert "approved" in refusal.value.details
    with pytest.raises(InvalidInput) as refusal:
        engine.complete_task(task["task_id"], {"approved": True, "salary": 1}, STAFF)
    assert "salary" in refusal.value.details
    assert _snapshot(engine, inst["id"]) == before
    assert review_task(engine, inst["id"])["task_id"] == task["task_id"]


def test_an_unknown_task_is_not_found_and_a_finished_one_is_said_done(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "AUTH-4")
    with pytest.raises(NotFound):
        engine.complete_task(str(uuid.uuid4()), {"approved": True}, STAFF)
    with pytest.raises(NotFound):
        engine.claim(str(uuid.uuid4()), STAFF)
    task = review_task(engine, inst["id"])
    engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    revision = engine.get_instance(inst["id"])["revision"]
    with pytest.raises(Conflict, match="already completed"):  # to who could have done it
        engine.complete_task(task["task_id"], {"approved": False}, STAFF)
    with pytest.raises(NotFound):  # to anyone else it does not exist
        engine.complete_task(task["task_id"], {"approved": False}, MEMBER)
    assert engine.get_instance(inst["id"])["revision"] == revision


# A review that a unit's reply makes moot while it waits: the message ends the review task.
WITHDRAWABLE_REVIEW = {
    "withdrawable_review.bpmn": b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_withdraw" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:message id="Message_withdrawn" name="unit_reply"/>
  <bpmn:process id="withdrawable_review" name="Withdrawable review" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_review</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review the proposal">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="candidateRole" value="staff"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_start_review</bpmn:incoming>
      <bpmn:outgoing>f_review_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="withdrawn" name="Withdrawn" attachedToRef="review">
      <bpmn:outgoing>f_withdrawn_end</bpmn:outgoing>
      <bpmn:messageEventDefinition id="MessageDef_withdrawn" messageRef="Message_withdrawn"/>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reviewed"><bpmn:incoming>f_review_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="ended_withdrawn"><bpmn:incoming>f_withdrawn_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_review" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f_review_end" sourceRef="review" targetRef="reviewed"/>
    <bpmn:sequenceFlow id="f_withdrawn_end" sourceRef="withdrawn" targetRef="ended_withdrawn"/>
  </bpmn:process>
</bpmn:definitions>
"""
}


def test_a_review_left_by_a_boundary_message_takes_its_work_item_off_the_task_list(engine):
    engine.deploy(WITHDRAWABLE_REVIEW)
    inst = engine.start("withdrawable_review", "WITHDRAW-1", {"title": "Fix the lamp"}, MEMBER)
    [task] = engine.list_tasks(STAFF, inst["id"])
    assert task["task"] == "review"
    sent = engine.send_message(
        {
            "name": "unit_reply",
            "correlation_key": "WITHDRAW-1",
            "message_id": "withdraw-1",
            "payload": {"text": "Already repaired"},
        }
    )
    assert sent["status"] == "delivered"
    assert engine.get_instance(inst["id"])["status"] == "completed"
    assert engine.list_tasks(STAFF, inst["id"]) == []
    assert count_rows(engine, WorkItem, instance_id=inst["id"], status="cancelled") == 1


# -- 4. optimistic saves ---------------------------------------------------------------------------------


def _second_engine(settings):
    return Engine(session_factory(settings.database_url("engine")), settings)


def _race_during_first_change(monkeypatch, engine, interloper):
    """Make ``engine``'s first job completion run ``interloper()`` before it goes on (once)."""
    real = engine.runtime.complete_job
    calls = []

    def complete_job(workflow, task_id, job_id, result):
        calls.append(task_id)
        if len(calls) == 1:
            interloper()
        return real(workflow, task_id, job_id, result)

    monkeypatch.setattr(engine.runtime, "complete_job", complete_job)
    return calls


def test_a_save_that_lost_a_race_reloads_and_keeps_both_changes(engine, settings, monkeypatch):
    engine.deploy(PAIRED_CHECKS)
    other = _second_engine(settings)
    inst = engine.start("paired_checks", "RACE-1", {"title": "Fix the lamp", "unit": "transport"}, MEMBER)
    assert sorted(inst["waiting_tasks"]) == ["check_intake", "check_unit"]
    intake_job = take_job(engine, "intake.record_submission")
    unit_job = take_job(engine, "assignment.assign_unit")
    start_revision = inst["revision"]

    outcomes = []
    calls = _race_during_first_change(
        monkeypatch, engine, lambda: outcomes.append(answer(other, unit_job, "ok", ASSIGNMENT))
    )
    assert answer(engine, intake_job, "ok", SUBMISSION) == "completed"

    assert outcomes == ["completed"], "the other engine's change did not go first"
    assert calls == [intake_job.payload["task_id"]] * 2, "the stale save was not reloaded and retried"
    final = engine.get_instance(inst["id"])
    assert final["status"] == "completed"
    assert final["revision"] == start_revision + 2
    assert final["data"]["submission"] == SUBMISSION and final["data"]["assignment"] == ASSIGNMENT
    completed = [h["task"] for h in engine.history(inst["id"]) if h["action"] == "job_completed"]
    assert completed == ["check_unit", "check_intake"]
    assert count_rows(engine, Job, instance_id=inst["id"], status="done") == 2


def test_the_same_result_applied_by_two_engines_at_once_has_one_effect(engine, settings, monkeypatch):
    engine.deploy(PAIRED_CHECKS)
    other = _second_engine(settings)
    inst = engine.start("paired_checks", "RACE-2", {"title": "Fix the lamp", "unit": "transport"}, MEMBER)
    intake_job = take_job(engine, "intake.record_submission")
    outcomes = []
    calls = _race_during_first_change(
        monkeypatch, engine, lambda: outcomes.append(answer(other, intake_job, "ok", SUBMISSION))
    )
    assert answer(engine, intake_job, "ok", SUBMISSION) == "dropped"
    assert outcomes == ["completed"] and len(calls) == 1
    final = engine.get_instance(inst["id"])
    assert final["revision"] == inst["revision"] + 1
    assert final["waiting_tasks"] == ["check_unit"]
    assert actions(engine, inst["id"]).count("job_completed") == 1


# -- 5. messages -------------------------------------------------------------------------------------------

REPLY = {
    "name": "unit_reply",
    "correlation_key": "MSG-1",
    "message_id": "reply-1",
    "payload": {"text": "Repaired on 3 March"},
}


def test_an_unclaimed_message_is_buffered_once_and_expires_unseen(engine, settings, skipping_clock):
    engine.deploy(SMOKE)
    assert engine.send_message(REPLY) == {"status": "buffered", "message_id": "reply-1", "delivered_to": None}
    duplicate = engine.send_message(dict(REPLY, payload={"text": "a second copy"}))
    assert duplicate["status"] == "duplicate" and duplicate["state"] == "buffered"
    assert count_rows(engine, BufferedMessage) == 1

    skipping_clock.advance(seconds=settings.message_ttl_seconds - 1)
    assert engine.expire_messages() == 0
    skipping_clock.advance(seconds=2)
    assert engine.expire_messages() == 1
    assert engine.expire_messages() == 0
    assert count_rows(engine, BufferedMessage, message_id="reply-1", status="expired") == 1

    inst = waiting_for_reply(engine, "MSG-1")
    assert inst["status"] == "waiting"
    assert "message_delivered" not in actions(engine, inst["id"])
    assert outbox_count(engine, "evaluation.record_outcome") == 0


def test_a_buffered_message_within_its_time_to_live_reaches_the_instance_that_waits_later(
    engine, settings, skipping_clock
):
    engine.deploy(SMOKE)
    reply = dict(REPLY, correlation_key="MSG-2", message_id="reply-2")
    assert engine.send_message(reply)["status"] == "buffered"
    skipping_clock.advance(seconds=settings.message_ttl_seconds - 60)
    inst = at_assignment(engine, "MSG-2")
    finish_job(engine, "assignment.assign_unit", ASSIGNMENT)
    inst = engine.get_instance(inst["id"])
    assert inst["waiting_tasks"] == ["record_outcome"]
    [delivered] = [h for h in engine.history(inst["id"]) if h["action"] == "message_delivered"]
    assert delivered["data"] == {"message_id": "reply-2", "payload": REPLY["payload"]}
    assert take_job(engine, "evaluation.record_outcome").payload["params"]["outcome"] == "answered"
    with transaction(engine.sessions) as s:
        row = s.get(BufferedMessage, "reply-2")
        assert (row.status, row.instance_id) == ("delivered", inst["id"])
    # Delivered, not expired, and the same id again is still a duplicate.
    skipping_clock.advance(seconds=120)
    assert engine.expire_messages() == 0
    assert engine.send_message(reply)["status"] == "duplicate"


def test_a_message_sent_to_a_waiting_instance_is_delivered_at_once(engine):
    engine.deploy(SMOKE)
    inst = waiting_for_reply(engine, "MSG-3")
    result = engine.send_message(dict(REPLY, correlation_key="MSG-3", message_id="reply-3"))
    assert result == {"status": "delivered", "message_id": "reply-3", "delivered_to": inst["id"]}
    assert engine.get_instance(inst["id"])["waiting_tasks"] == ["record_outcome"]


def test_a_malformed_message_is_refused_field_by_field_and_not_kept(engine):
    engine.deploy(SMOKE)
    no_name = {k: v for k, v in REPLY.items() if k != "name"}
    with pytest.raises(InvalidInput) as refusal:
        engine.send_message(no_name)
    assert set(refusal.value.details) == {"name"}
    with pytest.raises(InvalidInput) as refusal:
        engine.send_message(dict(REPLY, correlation_key="", payload="not an object"))
    assert {"correlation_key", "payload"} <= set(refusal.value.details)
    assert count_rows(engine, BufferedMessage) == 0
    assert engine.send_message(REPLY)["status"] == "buffered"


# -- 6. timers -----------------------------------------------------------------------------------------------


def test_the_reply_deadline_fires_only_when_due_and_escalates(engine, skipping_clock):
    engine.deploy(SMOKE)
    inst = at_assignment(engine, "TIMER-1")
    skipping_clock.advance(hours=5)  # the deadline counts from when the wait began
    finish_job(engine, "assignment.assign_unit", ASSIGNMENT)
    inst = engine.get_instance(inst["id"])
    due = skipping_clock.now() + timedelta(days=30)
    assert datetime.fromisoformat(inst["next_timer"]) == due

    assert engine.fire_due_timers() == 0
    skipping_clock.advance(days=29, hours=23, minutes=59)
    assert engine.fire_due_timers() == 0
    unchanged = engine.get_instance(inst["id"])
    assert unchanged["revision"] == inst["revision"] and unchanged["waiting_tasks"] == ["wait_reply"]
    assert outbox_count(engine, "supervision.escalate") == 0

    skipping_clock.advance(minutes=2)
    assert engine.fire_due_timers() == 1
    fired = engine.get_instance(inst["id"])
    assert fired["waiting_tasks"] == ["escalate"] and fired["next_timer"] is None
    assert fired["waiting_messages"] == []
    assert "timer_fired" in actions(engine, inst["id"])
    job = take_job(engine, "supervision.escalate")
    assert job.payload["instance_id"] == inst["id"]
    assert job.payload["params"] == {"submission_id": 41, "unit": "transport"}
    assert engine.fire_due_timers() == 0

    # A reply after the deadline finds nothing waiting for it.
    late = engine.send_message(dict(REPLY, correlation_key="TIMER-1", message_id="late-1"))
    assert late["status"] == "buffered"
    assert answer(engine, job, "ok", {"escalation_id": 3}) == "completed"
    outcome = take_job(engine, "evaluation.record_outcome")
    assert outcome.payload["params"] == {"submission_id": 41, "outcome": "overdue"}


# -- 7. retries and incidents -------------------------------------------------------------------------


def test_failing_jobs_back_off_then_open_an_incident_that_a_retry_finishes(engine, settings, skipping_clock):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "RETRY-1", dict(DATA), MEMBER)
    operation = "intake.record_submission"
    first = job = take_job(engine, operation)
    assert job.attempt == 1
    delays = []
    for attempt in range(1, settings.job_max_attempts):
        assert answer(engine, job, "failed", message=f"database down ({attempt})") == "retry"
        job = take_job(engine, operation)
        assert job.job_id == first.job_id and job.attempt == attempt + 1
        delay = (job.available_at - skipping_clock.now()).total_seconds()
        assert delay > 0, "a retried job must wait before it is sent again"
        delays.append(delay)
    assert delays == sorted(delays) and delays[-1] > delays[0], f"no backoff: {delays}"
    assert engine.get_instance(inst["id"])["status"] == "waiting"

    assert answer(engine, job, "failed", message="database still down") == "incident"
    assert outbox_count(engine, operation) == 0
    inst = engine.get_instance(inst["id"])
    assert inst["status"] == "incident"
    [incident] = engine.incidents()
    assert inst["incidents"] == [incident]
    assert (incident["job_id"], incident["operation"], incident["task"], incident["status"]) == (
        first.job_id,
        operation,
        "record_submission",
        "open",
    )
    assert "database still down" in incident["error"]

    revision = inst["revision"]
    assert answer(engine, first, "failed", message="a stale retry") == "dropped"
    assert answer(engine, first, "ok", SUBMISSION) == "dropped"
    assert engine.get_instance(inst["id"])["revision"] == revision

    with pytest.raises(InvalidInput) as refusal:
        engine.resolve_incident(incident["id"], "")
    assert "resolution" in refusal.value.details
    assert engine.incident(incident["id"])["status"] == "open"

    retrying = engine.retry_incident(incident["id"], STAFF)
    assert retrying["status"] == "retrying"
    assert engine.get_instance(inst["id"])["status"] == "waiting"
    again = take_job(engine, operation)
    assert again.job_id == first.job_id and again.attempt == settings.job_max_attempts + 1
    assert answer(engine, job, "ok", SUBMISSION) == "dropped", "the old attempt's result was applied"
    assert answer(engine, again, "ok", SUBMISSION) == "completed"

    resolved = engine.incident(incident["id"])
    assert resolved["status"] == "resolved" and resolved["resolution"] == "retried to completion"
    assert engine.incidents() == []
    inst = engine.get_instance(inst["id"])
    assert inst["status"] == "waiting" and inst["waiting_tasks"] == ["review"] and inst["incidents"] == []
    with pytest.raises(Conflict):
        engine.retry_incident(incident["id"], STAFF)
    with pytest.raises(Conflict):
        engine.resolve_incident(incident["id"], "fixed by hand", STAFF)
    history = actions(engine, inst["id"])
    assert history.count("job_retry") == settings.job_max_attempts - 1
    assert history.count("incident") == 1 and history.count("incident_retry") == 1


def test_a_retried_job_is_sent_on_behalf_of_the_same_principal_as_its_first_attempt(engine):
    # intake.record_submission records the principal's user as the submitter, so a retry sent on
    # behalf of nobody records the submission as made by "system".
    engine.deploy(SMOKE)
    engine.start("smoke", "RETRY-3", dict(DATA), MEMBER)
    first = take_job(engine, "intake.record_submission")
    assert first.payload["principal"]["user"] == MEMBER["user"]
    assert answer(engine, first, "failed", message="database down") == "retry"
    second = take_job(engine, "intake.record_submission")
    assert second.attempt == 2
    assert second.payload["principal"] == first.payload["principal"], (
        "the retried job lost the principal it was sent on behalf of"
    )


def test_a_job_the_service_refused_opens_an_incident_at_once_naming_the_dead_letter(engine):
    """A job the service could not take (its seal did not match, it was malformed) is dead-lettered
    there and answered ``refused_job``: sent again it would be refused again, so the instance does
    not wait out its attempts, nor for ever."""
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "REFUSED-1", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")
    said = "the intake service refused the job: forbidden: a badly sealed job"
    assert answer(engine, job, "failed", code="refused_job", message=said) == "incident"
    assert outbox_count(engine, "intake.record_submission") == 0
    [incident] = engine.incidents()
    assert said in incident["error"] and "ztc dead-letters list" in incident["error"]
    assert engine.get_instance(inst["id"])["status"] == "incident"


def test_an_incident_resolved_by_hand_leaves_the_job_alone(engine):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "RETRY-2", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")
    assert answer(engine, job, "error", code="duplicate_title", message="seen before") == "incident"
    [incident] = engine.incidents()
    resolved = engine.resolve_incident(incident["id"], "merged with the earlier submission", STAFF)
    assert resolved["status"] == "resolved" and resolved["resolution"] == "merged with the earlier submission"
    assert engine.incidents() == [] and engine.incidents(status="resolved") == [resolved]
    assert engine.get_instance(inst["id"])["status"] == "waiting"
    assert "incident_resolved" in actions(engine, inst["id"])


# -- 8. business errors ------------------------------------------------------------------------------------


def test_a_business_error_the_diagram_does_not_catch_opens_an_incident_naming_the_code(engine):
    engine.deploy(SMOKE)
    inst = at_assignment(engine, "BERR-1")
    job = take_job(engine, "assignment.assign_unit")
    outcome = answer(engine, job, "error", code="unit_closed", message="the bureau is closed for audit")
    assert outcome == "incident"
    inst = engine.get_instance(inst["id"])
    assert inst["status"] == "incident" and waits_at_assignment(inst)
    [incident] = inst["incidents"]
    assert "unit_closed" in incident["error"] and "the bureau is closed for audit" in incident["error"]
    assert incident["operation"] == "assignment.assign_unit" and incident["job_id"] == job.job_id
    assert count_rows(engine, Incident, status="open") == 1


def test_the_no_unit_error_is_caught_by_the_diagram_and_ends_the_instance(engine):
    engine.deploy(SMOKE)
    inst = at_assignment(engine, "BERR-2")
    job = take_job(engine, "assignment.assign_unit")
    assert answer(engine, job, "error", code="no_unit", message="no such unit") == "caught"
    inst = engine.get_instance(inst["id"])
    assert inst["status"] == "completed" and inst["incidents"] == []
    assert engine.incidents() == []
    assert "bpmn_error" in actions(engine, inst["id"])


def test_a_task_asked_for_again_after_a_caught_business_error_says_why(engine):
    """The service refused what the step sent (no such unit), the diagram caught it and asks staff
    to review again: the new work item carries the refusal, the first one had none."""
    engine.deploy(
        smoke_variant('sourceRef="no_unit" targetRef="end_unassignable"', 'sourceRef="no_unit" targetRef="review"')
    )
    inst = at_review(engine, "BERR-3")
    assert review_task(engine, inst["id"])["reason"] is None
    engine.complete_task(review_task(engine, inst["id"])["task_id"], {"approved": True}, STAFF)
    job = take_job(engine, "assignment.assign_unit")
    assert answer(engine, job, "error", code="no_unit", message="there is no unit 'tranport'") == "caught"
    again = review_task(engine, inst["id"])
    assert again["reason"] == {
        "code": "no_unit",
        "message": "there is no unit 'tranport'",
        "operation": "assignment.assign_unit",
    }
    # Completed this time, the step after it caught nothing: the next task asked for has no reason.
    engine.complete_task(again["task_id"], {"approved": True}, STAFF)
    finish_job(engine, "assignment.assign_unit", ASSIGNMENT)
    assert engine.list_tasks(STAFF, inst["id"]) == []


def test_an_integer_past_64_bits_a_script_computes_is_kept_exactly(engine):
    """Kept in the instance's JSON (its state and data), it is read back as the same integer, not
    as a float that lost its last digits; restored from the state, the next step still has it."""
    engine.deploy(
        smoke_variant(
            '<bpmn:script>outcome = "answered"</bpmn:script>',
            '<bpmn:script>outcome = "answered"\nbig = 2**70 + 1</bpmn:script>',
        )
    )
    inst = waiting_for_reply(engine, "BIG-1")
    assert engine.send_message(dict(REPLY, correlation_key="BIG-1", message_id="big-1"))["delivered_to"] == inst["id"]
    data = engine.get_instance(inst["id"])["data"]
    assert data["big"] == 2**70 + 1 and type(data["big"]) is int
    engine.store.workflows = WorkflowCache(0)  # the next step restores the workflow from its state
    finish_job(engine, "evaluation.record_outcome", {"recorded": True})
    done = engine.get_instance(inst["id"])
    assert done["status"] == "completed" and done["data"]["big"] == 2**70 + 1 and type(done["data"]["big"]) is int


# -- 9. a step that fails at start ------------------------------------------------------------------------


def test_a_start_whose_first_step_fails_is_refused_and_leaves_no_instance(engine):
    engine.deploy(SMOKE)
    data = {k: v for k, v in DATA.items() if k != "title"}
    with pytest.raises(InvalidInput) as refusal:
        engine.start("smoke", "STEP-1", data, MEMBER)
    assert "record_submission" in refusal.value.details["data"][0]
    assert "title" in refusal.value.details["data"][0]
    assert engine.find_instances(process_id="smoke") == []
    assert engine.find_instances(business_key="STEP-1") == []
    for model in (Instance, History, Job, Outbox):
        assert count_rows(engine, model) == 0, f"a refused start left {model.__name__} rows"
    # With the title the same start succeeds.
    assert engine.start("smoke", "STEP-1", dict(DATA), MEMBER)["waiting_tasks"] == ["record_submission"]


def test_an_expression_that_fails_when_a_job_completes_opens_an_incident(engine):
    # Started without reply_within: the deadline's duration cannot be evaluated when the instance
    # reaches wait_reply, which happens as the assign_unit job completes. A step that fails on the
    # way is saved with an incident an operator can retry (Engine._mutate); the result must not be
    # refused with a raw workflow exception (the result listener would requeue it forever).
    engine.deploy(SMOKE)
    data = {k: v for k, v in DATA.items() if k != "reply_within"}
    inst = engine.start("smoke", "STEP-2", data, MEMBER)
    finish_job(engine, "intake.record_submission", SUBMISSION)
    engine.complete_task(review_task(engine, inst["id"])["task_id"], {"approved": True}, STAFF)
    job = take_job(engine, "assignment.assign_unit")
    assert answer(engine, job, "ok", ASSIGNMENT) == "incident"
    inst = engine.get_instance(inst["id"])
    assert inst["status"] == "incident"
    [incident] = inst["incidents"]
    assert incident["status"] == "open" and "reply_within" in incident["error"]


def test_starting_a_process_that_is_not_deployed_is_not_found(engine):
    with pytest.raises(NotFound):
        engine.start("smoke", "NONE-1", dict(DATA), MEMBER)
    assert engine.find_instances() == []


def test_a_message_that_crossed_the_instance_save_is_delivered_by_the_sweep(engine, skipping_clock):
    """Under READ COMMITTED a message can be buffered while the step that starts waiting for it is
    being saved, each missing the other; the engine's tick sweeps such messages up."""
    engine.deploy(read_bpmn("smoke.bpmn"))
    inst = waiting_for_reply(engine, "CROSSED-1")
    assert engine.deliver_waiting_messages() == 0
    with transaction(engine.sessions) as s:  # as if it had been buffered just before that save
        s.add(
            BufferedMessage(
                message_id="crossed",
                name="unit_reply",
                correlation_key="CROSSED-1",
                payload={"text": "done"},
                status="buffered",
                received_at=skipping_clock.now(),
                expires_at=skipping_clock.now() + timedelta(days=1),
            )
        )
    assert engine.deliver_waiting_messages() == 1
    assert engine.get_instance(inst["id"])["waiting_messages"] == []
    assert count_rows(engine, BufferedMessage, message_id="crossed", status="delivered") == 1
    assert engine.deliver_waiting_messages() == 0
