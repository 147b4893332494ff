"""Versions designers control, on a real database (SQLite and PostgreSQL), without the bus: the
active version and rollbacks (by redeploy and by activate), drafts, diffs, and instances migrated
from a broken version to a fixed one — refused when a waiting task is not in the new version and
not mapped, and, when it succeeds, completing on the new version."""

from __future__ import annotations

import pytest

from services.engine.models import Job
from shared.contracts import jobs as job_contracts
from shared.db import transaction
from shared.errors import Forbidden, InvalidInput, NotFound
from tests.integration.services.engine.test_rules import (
    DATA,
    MEMBER,
    REVISED_SMOKE,
    SMOKE,
    SMOKE_TEXT,
    STAFF,
    SUBMISSION,
    actions,
    answer,
    at_review,
    finish_job,
    review_task,
    smoke_variant,
    take_job,
    waiting_for_reply,
)

OPERATOR = {"user": "ops.sun", "roles": ["operator"], "unit": None}

# Version B of a broken diagram: 'review' is now 'check' (a renamed element), the rest as before.
RENAMED_REVIEW = {
    "smoke.bpmn": SMOKE_TEXT.replace('<bpmn:userTask id="review"', '<bpmn:userTask id="check"')
    .replace("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>check</bpmn:flowNodeRef>")
    .replace('sourceRef="review"', 'sourceRef="check"')
    .replace('targetRef="review"', 'targetRef="check"')
    .replace('<bpmn:script>outcome = "rejected"</bpmn:script>', '<bpmn:script>outcome = "declined"</bpmn:script>')
    .encode()
}


def started_version(engine, key) -> str:
    return engine.start("smoke", key, dict(DATA), MEMBER)["version"]


def status_of(engine, version) -> str:
    [row] = [v for v in engine.versions("smoke") if v["version"] == version]
    return row["status"]


# -- the active version and rollbacks ----------------------------------------------------------------


def test_redeploying_the_known_good_file_is_a_rollback(engine):
    [v1] = engine.deploy(SMOKE, "designer.a")
    assert (v1["state"], v1["number"], v1["active"]) == ("deployed", 1, True)
    [v2] = engine.deploy(REVISED_SMOKE, "designer.b")
    assert (v2["state"], v2["number"], v2["previous"]["number"]) == ("deployed", 2, 1)
    assert started_version(engine, "RB-1") == v2["version"]

    # v2 turns out broken: the known-good file, deployed again, is active again — not "unchanged".
    [again] = engine.deploy(SMOKE, "designer.a")
    assert again["state"] == "activated" and again["new"] is False and again["active"] is True
    assert again["previous"]["number"] == 2 and again["number"] == 1
    assert started_version(engine, "RB-2") == v1["version"]
    assert (status_of(engine, v1["version"]), status_of(engine, v2["version"])) == ("active", "inactive")
    # Deployed once more while active: now it is unchanged.
    [same] = engine.deploy(SMOKE, "designer.a")
    assert same["state"] == "unchanged" and same["active"] is True
    log = engine.activations("smoke")
    assert [(r["number"], r["how"], r["by"]) for r in log] == [
        (1, "deploy", "designer.a"),
        (2, "deploy", "designer.b"),
        (1, "redeploy", "designer.a"),
    ]


def test_activating_an_older_version_is_a_rollback_recorded_with_who_and_when(engine):
    [v1] = engine.deploy(SMOKE)
    [v2] = engine.deploy(REVISED_SMOKE)
    done = engine.activate("smoke", "1", "designer.c")
    assert done["state"] == "activated" and done["previous"]["number"] == 2
    assert started_version(engine, "ACT-1") == v1["version"]
    [row] = [v for v in engine.versions("smoke") if v["status"] == "active"]
    assert row["number"] == 1 and row["activated_by"] == "designer.c" and row["activated_at"]
    # By hash prefix, and back again; activating the active one changes nothing.
    assert engine.activate("smoke", v2["version"][:6], "designer.c")["state"] == "activated"
    assert started_version(engine, "ACT-2") == v2["version"]
    assert engine.activate("smoke", "smoke@2", "designer.c")["state"] == "unchanged"
    assert engine.activations("smoke")[-1]["how"] == "activate"
    with pytest.raises(NotFound):
        engine.activate("smoke", "7")
    with pytest.raises(InvalidInput):
        engine.activate("smoke", "ab")


def test_a_draft_is_stored_but_nothing_starts_on_it_until_it_is_activated(engine):
    [draft] = engine.deploy(SMOKE, draft=True)
    assert draft["state"] == "draft" and draft["active"] is False
    with pytest.raises(NotFound) as refused:
        engine.start("smoke", "DRAFT-1", dict(DATA), MEMBER)
    assert "no active version" in refused.value.message and "ztc versions activate" in refused.value.message
    engine.activate("smoke", "1")
    assert started_version(engine, "DRAFT-2") == draft["version"]

    [v2] = engine.deploy(REVISED_SMOKE, draft=True)
    assert v2["state"] == "draft" and status_of(engine, v2["version"]) == "draft"
    assert started_version(engine, "DRAFT-3") == draft["version"]
    # A known file deployed as a draft leaves the active version alone.
    [known] = engine.deploy(SMOKE, draft=True)
    assert known["state"] == "unchanged" and known["active"] is True
    [live] = [v for v in engine.versions("smoke") if v["number"] == 1]
    assert live["live_instances"] == 2


def test_diff_lists_elements_added_removed_and_changed_with_labels(engine):
    engine.deploy(SMOKE)
    engine.deploy(REVISED_SMOKE)
    engine.deploy(RENAMED_REVIEW)
    result = engine.diff_versions("smoke@1", "smoke@2")
    assert result["added"] == [] and result["removed"] == []
    changed = {c["id"]: c for c in result["changed"]}
    assert set(changed) == {"smoke", "set_outcome_rejected"}
    assert changed["smoke"]["changes"] == ["label: 'Smoke test' → 'Smoke test, revised'"]
    assert changed["set_outcome_rejected"]["label"] == "Outcome: rejected"
    assert 'outcome = "declined"' in changed["set_outcome_rejected"]["changes"][0]

    renamed = engine.diff_versions("1", "3", process_id="smoke")
    assert [(r["id"], r["label"]) for r in renamed["added"]] == [("check", "Review the submission")]
    assert [(r["id"], r["type"]) for r in renamed["removed"]] == [("review", "userTask")]
    flows = {c["id"]: c["changes"] for c in renamed["changed"]}
    assert flows["f_record_review"] == ["to: 'review' → 'check'"]


def test_diff_shows_a_gateway_that_lost_its_default_flow(engine):
    engine.deploy(SMOKE)
    lost = smoke_variant('default="f_decide_reject"', "")
    lost["smoke.bpmn"] = lost["smoke.bpmn"].replace(
        b'<bpmn:sequenceFlow id="f_decide_reject" sourceRef="decide" targetRef="set_outcome_rejected"/>',
        b'<bpmn:sequenceFlow id="f_decide_reject" sourceRef="decide" targetRef="set_outcome_rejected">'
        b"<bpmn:conditionExpression>approved == False</bpmn:conditionExpression></bpmn:sequenceFlow>",
    )
    engine.deploy(lost)
    changed = {c["id"]: c["changes"] for c in engine.diff_versions("smoke@1", "smoke@2")["changed"]}
    assert changed["decide"] == ["default flow 'f_decide_reject' removed"]
    assert changed["f_decide_reject"][0].startswith("condition")


# -- what the designers' console draws ---------------------------------------------------------------


def test_a_versions_diagram_is_the_file_it_was_deployed_from(engine):
    engine.deploy(SMOKE)
    engine.deploy(REVISED_SMOKE)
    first, active = engine.version_diagram("smoke", "1"), engine.version_diagram("smoke", "active")
    assert (first["file"], first["number"], active["number"]) == ("smoke.bpmn", 1, 2)
    assert first["xml"] == SMOKE_TEXT and 'name="Smoke test, revised"' in active["xml"]
    with pytest.raises(NotFound):
        engine.version_diagram("smoke", "9")


def test_a_versions_coverage_is_what_its_diagrams_scenario_file_reaches_on_it(engine):
    engine.deploy(SMOKE)
    engine.deploy(RENAMED_REVIEW)
    full = engine.version_coverage("smoke", "1")
    assert full["scenario_file"] == "smoke.scenarios.yaml" and full["error"] is None
    assert full["results"] and all(r["passed"] for r in full["results"])
    assert full["elements"]["percent"] == 100.0 and "review" in full["reached"] and "f_decide_assign" in full["taken"]
    # Version 2 renamed 'review' to 'check': the scenarios that complete 'review' stop there, and
    # everything after it is listed as missed.
    renamed = engine.version_coverage("smoke", "2")
    assert [r["passed"] for r in renamed["results"]].count(False) == 5
    assert "check" in renamed["reached"] and "decide" not in renamed["reached"]
    missed = {e["id"] for e in renamed["elements"]["missed"]}
    assert {"decide", "assign_unit", "end"} <= missed and "check" not in missed
    assert engine.version_coverage("smoke", "1") == full  # kept, not run again


# -- migration ----------------------------------------------------------------------------------------


def test_a_dry_run_refuses_a_waiting_task_that_is_not_in_b_and_not_mapped(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "MIG-1")
    engine.deploy(RENAMED_REVIEW)
    result = engine.migrate_instances("smoke@1", "smoke@2", dry_run=True, principal=OPERATOR)
    [row] = result["instances"]
    assert result["refused"] == 1 and result["ready"] == 0 and row["ok"] is False
    assert "waits at 'review' (user task), which B does not have" in row["problems"][0]
    assert row["suggestions"] == {"review": "check"}
    # Without --dry-run it refuses just the same, and changes nothing.
    again = engine.migrate_instances("smoke@1", "smoke@2", principal=OPERATOR)
    assert again["migrated"] == [] and again["refused"] == 1
    assert engine.get_instance(inst["id"])["version"] == engine.versions("smoke")[0]["version"]
    # A mapping to an element B lacks is refused too.
    bad = engine.migrate_instances("smoke@1", "smoke@2", ["review=nowhere"], dry_run=True, principal=OPERATOR)
    assert any("B has no element 'nowhere'" in p for p in bad["instances"][0]["problems"])


def test_a_mapped_migration_passes_the_dry_run_then_moves_and_completes_on_b(engine):
    [v1] = engine.deploy(SMOKE)
    inst = at_review(engine, "MIG-2")
    [v2] = engine.deploy(RENAMED_REVIEW)
    dry = engine.migrate_instances("smoke@1", "smoke@2", ["review=check"], dry_run=True, principal=OPERATOR)
    [row] = dry["instances"]
    assert row["ok"] and row["waiting_on_b"] == ["check"] and dry["migrated"] == []
    assert row["waiting"] == [
        {"task": "review", "to": "check", "kind": "user task", "state": "READY", "changed": True, "reset": True}
    ]
    assert engine.get_instance(inst["id"])["version"] == v1["version"]

    done = engine.migrate_instances("smoke@1", "smoke@2", ["review=check"], principal=OPERATOR)
    assert done["migrated"] == [inst["id"]]
    moved = engine.get_instance(inst["id"])
    assert moved["version"] == v2["version"] and moved["waiting_tasks"] == ["check"]
    [migrated] = [h for h in engine.history(inst["id"]) if h["action"] == "migrated"]
    assert migrated["data"]["from"]["number"] == 1 and migrated["data"]["to"]["number"] == 2
    assert migrated["data"]["mapping"] == {"review": "check"} and migrated["actor"] == "ops.sun"
    # The task list follows: the work item is the renamed task, and it completes on B's path.
    [task] = engine.list_tasks(STAFF, inst["id"])
    assert task["task"] == "check"
    engine.complete_task(task["task_id"], {"approved": False}, STAFF)
    job = take_job(engine, "evaluation.record_outcome")
    assert job.payload["params"] == {"submission_id": 41, "outcome": "declined"}
    assert answer(engine, job, "ok", {"outcome_id": 1}) == "completed"
    assert engine.get_instance(inst["id"])["status"] == "completed"
    assert engine.migrate_instances("smoke@1", "smoke@2", principal=OPERATOR)["instances"] == []


def test_an_unchanged_waiting_task_keeps_its_timer_and_job_through_a_migration(engine, skipping_clock):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "MIG-3", dict(DATA), MEMBER)  # waits for its first job
    engine.deploy(REVISED_SMOKE)
    result = engine.migrate_instances("smoke@1", "smoke@2", principal=OPERATOR)
    assert result["migrated"] == [inst["id"]]
    # The job sent on version 1 is answered on version 2.
    finish_job(engine, "intake.record_submission", SUBMISSION)
    assert engine.get_instance(inst["id"])["waiting_tasks"] == ["review"]

    # Waiting for the reply or its deadline: a move keeps the deadline where it was.
    waiting = waiting_for_reply(engine, "MIG-4")
    skipping_clock.advance(days=10)
    engine.activate("smoke", "1")
    assert engine.migrate_instances("smoke@2", "smoke@1", instance_ids=[waiting["id"]], principal=OPERATOR)[
        "migrated"
    ] == [waiting["id"]]
    after = engine.get_instance(waiting["id"])
    assert after["next_timer"] == waiting["next_timer"] and after["waiting_messages"] == ["unit_reply"]


def test_only_operators_migrate(engine):
    engine.deploy(SMOKE)
    engine.deploy(REVISED_SMOKE)
    with pytest.raises(Forbidden):
        engine.migrate_instances("smoke@1", "smoke@2", principal=STAFF)
    with pytest.raises(InvalidInput):
        engine.migrate_instances("smoke@1", "smoke@1", principal=OPERATOR)
    with pytest.raises(InvalidInput):
        engine.migrate_instances("smoke@1", "smoke@2", ["review"], principal=OPERATOR)


# -- nothing fails silently at run time ---------------------------------------------------------------


def test_an_operation_no_service_declares_becomes_an_incident_and_a_migration_fixes_it(engine, monkeypatch):
    # Version 1 names 'evaluation.record_result', declared when it was deployed and renamed since:
    # no service handles it any more, so the job must not be sent into the void.
    broken = smoke_variant('id="evaluation.record_outcome"', 'id="evaluation.record_result"')
    outcome = job_contracts.OPERATIONS["evaluation.record_outcome"]
    monkeypatch.setitem(job_contracts.OPERATIONS, "evaluation.record_result", outcome)
    [v1] = engine.deploy(broken)
    monkeypatch.delitem(job_contracts.OPERATIONS, "evaluation.record_result")

    inst = at_review(engine, "OP-1")
    engine.complete_task(review_task(engine, inst["id"])["task_id"], {"approved": False}, STAFF)
    stuck = engine.get_instance(inst["id"])
    assert stuck["status"] == "incident"
    [incident] = stuck["incidents"]
    assert incident["task"] == "record_outcome" and incident["operation"] == "evaluation.record_result"
    assert "element 'record_outcome'" in incident["error"] and "not declared" in incident["error"]
    assert "did you mean 'evaluation.record_outcome'" in incident["error"]
    assert "job_not_sent" in actions(engine, inst["id"])
    with transaction(engine.sessions) as s:
        assert s.query(Job).filter(Job.operation == "evaluation.record_result").one().status == "incident"
    with pytest.raises(Exception) as refused:  # sending it again cannot help
        engine.retry_incident(incident["id"], OPERATOR)
    assert "ztc instances migrate" in str(refused.value)

    # The fixed file goes live and the stuck instance moves to it: its job is sent again, as drawn there.
    [v2] = engine.deploy(SMOKE)
    moved = engine.migrate_instances(f"smoke@{v1['version']}", "smoke@active", principal=OPERATOR)
    assert moved["migrated"] == [inst["id"]] and moved["instances"][0]["rerun"] == ["record_outcome"]
    after = engine.get_instance(inst["id"])
    assert after["version"] == v2["version"] and after["status"] == "waiting" and after["incidents"] == []
    assert engine.incident(incident["id"])["status"] == "resolved"
    job = take_job(engine, "evaluation.record_outcome")
    assert job.payload["params"] == {"submission_id": 41, "outcome": "rejected"}
    assert answer(engine, job, "ok", {"outcome_id": 9}) == "completed"
    assert engine.get_instance(inst["id"])["status"] == "completed"


def test_a_result_saying_no_handler_takes_the_operation_opens_an_incident_at_once(engine):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "OP-2", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")
    raw = {key: job.payload[key] for key in ("job_id", "instance_id", "task_id", "operation", "attempt")}
    raw.update(
        status="failed",
        result=None,
        error={"code": "unknown_operation", "message": "unknown operation 'intake.record_submission'"},
    )
    assert engine.handle_result(raw) == "incident"
    [incident] = engine.get_instance(inst["id"])["incidents"]
    assert "element 'record_submission'" in incident["error"] and "deploy a service" in incident["error"]
    assert "job_retry" not in actions(engine, inst["id"])


WAITER = {
    "waiter.bpmn": b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D_waiter"
                  targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="waiter" name="Waiter" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="pause" name="Pause">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="T"><bpmn:timeDuration>wait_for</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pause"/>
    <bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
}


def test_a_start_with_a_bad_timer_answers_an_error_or_becomes_an_incident_never_a_silent_success(engine):
    engine.deploy(WAITER)
    with pytest.raises(InvalidInput) as refused:
        engine.start("waiter", "T-1", {"wait_for": "P3 days"}, MEMBER)
    assert refused.value.details["element"] == "pause" and "element 'pause'" in refused.value.message
    assert engine.find_instances(business_key="T-1") == []
    # Over the bus the sender has already said yes to its caller: the instance is kept, with an incident.
    started = engine.start_command(
        {
            "command_id": "c-1",
            "process_id": "waiter",
            "business_key": "T-2",
            "data": {"wait_for": "P3 days"},
            "principal": None,
        }
    )
    assert started["status"] == "incident"
    [incident] = started["incidents"]
    assert incident["task"] == "pause" and "Invalid duration" in incident["error"]
    # Delivered again, the same command finds the same instance.
    again = engine.start_command(
        {
            "command_id": "c-1",
            "process_id": "waiter",
            "business_key": "T-2",
            "data": {"wait_for": "P3 days"},
            "principal": None,
        }
    )
    assert again["id"] == started["id"] and len(engine.find_instances(business_key="T-2")) == 1
    ok = engine.start_command(
        {
            "command_id": "c-2",
            "process_id": "waiter",
            "business_key": "T-3",
            "data": {"wait_for": "P3D"},
            "principal": None,
        }
    )
    assert ok["status"] == "waiting" and ok["waiting_tasks"] == ["pause"]
