"""The engine keeps a hot instance's restored workflow in memory between its steps
(``services/engine/cache.py``), on a real database (SQLite and PostgreSQL).

What must hold: a step on a cached workflow stores the same instance a restore would have; a
revision saved elsewhere (another engine process) makes the cached copy stale and the instance is
restored from the database; a step that fails after it moved the workflow leaves no half-moved
copy behind; and two engines stepping one instance keep both changes, the revision check deciding
who saves first.
"""

from __future__ import annotations

import pytest

from services.engine.engine import Engine
from shared.db import session_factory
from tests.integration.services.engine.test_rules import (
    ASSIGNMENT,
    DATA,
    MEMBER,
    PAIRED_CHECKS,
    SMOKE,
    STAFF,
    SUBMISSION,
    _race_during_first_change,
    actions,
    answer,
    review_task,
    take_job,
)

pytestmark = pytest.mark.both_databases


def second_engine(settings) -> Engine:
    """Another engine process on the same database: its own cache, its own runtime."""
    return Engine(session_factory(settings.database_url("engine")), settings)


def count_restores(monkeypatch, engine) -> list:
    """Record every restore of a workflow from its stored JSON by ``engine``."""
    restores = []
    real = engine.runtime.loads

    def loads(state, spec, version_key=None):
        restores.append(version_key)
        return real(state, spec, version_key=version_key)

    monkeypatch.setattr(engine.runtime, "loads", loads)
    return restores


def test_a_hot_instance_is_stepped_without_restoring_it_and_stored_as_a_restore_would_see_it(
    engine, settings, monkeypatch
):
    engine.deploy(SMOKE)
    restores = count_restores(monkeypatch, engine)
    inst = engine.start("smoke", "CACHE-1", dict(DATA), MEMBER)
    assert answer(engine, take_job(engine, "intake.record_submission"), "ok", SUBMISSION) == "completed"
    engine.complete_task(review_task(engine, inst["id"])["task_id"], {"approved": True}, STAFF)
    assert restores == [], "a step restored a workflow the engine had just saved"
    stored = engine.get_instance(inst["id"])
    assert engine.store.workflows.revision(inst["id"]) == stored["revision"] == 3

    # Another engine, with nothing cached, restores what was stored and carries the lifecycle on.
    other = second_engine(settings)
    assert answer(other, take_job(other, "assignment.assign_unit"), "ok", ASSIGNMENT) == "completed"
    sent = other.send_message(
        {
            "name": "unit_reply",
            "correlation_key": "CACHE-1",
            "message_id": "cache-1-reply",
            "payload": {"text": "Repaired"},
        }
    )
    assert sent["status"] == "delivered"
    assert answer(other, take_job(other, "evaluation.record_outcome"), "ok", {"id": 1}) == "completed"
    final = other.get_instance(inst["id"])
    assert final["status"] == "completed"
    assert final["data"]["submission"] == SUBMISSION and final["data"]["approved"] is True
    assert final["data"]["assignment"] == ASSIGNMENT


def test_a_revision_saved_by_another_engine_makes_the_cached_workflow_stale_and_it_is_restored(
    engine, settings, monkeypatch
):
    engine.deploy(SMOKE)
    other = second_engine(settings)
    inst = engine.start("smoke", "CACHE-2", dict(DATA), MEMBER)
    assert engine.store.workflows.revision(inst["id"]) == 1
    # The other engine records the submission: revision 2, which this engine has not seen.
    assert answer(other, take_job(other, "intake.record_submission"), "ok", SUBMISSION) == "completed"

    restores = count_restores(monkeypatch, engine)
    task = review_task(engine, inst["id"])
    engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    assert len(restores) == 1, "the stale cached workflow (revision 1) was stepped instead of revision 2"
    stored = engine.get_instance(inst["id"])
    assert stored["revision"] == 3 and engine.store.workflows.revision(inst["id"]) == 3
    assert stored["data"]["submission"] == SUBMISSION, "the other engine's step was lost"
    assert "assign_unit" in stored["waiting_tasks"]


def test_a_step_that_fails_after_moving_the_workflow_leaves_no_half_moved_copy_cached(engine, monkeypatch):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "CACHE-3", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")

    def refuse_the_save(s, inst, workflow, wait, principal):
        raise OSError("the database went away while the step was being saved")

    # The workflow moves on (the job completes, the review task becomes ready), then the save fails.
    engine.store.after_wait.append(refuse_the_save)
    with pytest.raises(OSError):
        answer(engine, job, "ok", SUBMISSION)
    engine.store.after_wait.remove(refuse_the_save)
    assert engine.store.workflows.revision(inst["id"]) is None, "a workflow no commit saved is cached"
    assert engine.get_instance(inst["id"])["revision"] == 1
    assert engine.list_tasks(STAFF, inst["id"]) == []

    # The result delivered again is applied once, to the stored state, restored from the database.
    restores = count_restores(monkeypatch, engine)
    assert answer(engine, job, "ok", SUBMISSION) == "completed"
    assert len(restores) == 1
    stored = engine.get_instance(inst["id"])
    assert stored["revision"] == 2 and stored["waiting_tasks"] == ["review"]
    assert actions(engine, inst["id"]).count("job_completed") == 1


def test_a_refused_step_leaves_the_cached_workflow_out_and_the_next_step_starts_from_the_store(engine, monkeypatch):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "CACHE-4", dict(DATA), MEMBER)
    assert answer(engine, take_job(engine, "intake.record_submission"), "ok", SUBMISSION) == "completed"
    task = review_task(engine, inst["id"])
    # The review form refuses this data only after the user task has been run in the workflow.
    real = engine.runtime.complete_user_task

    def run_then_refuse(workflow, task_id, data, actor=None):
        real(workflow, task_id, data, actor)
        raise RuntimeError("refused after the task ran")

    monkeypatch.setattr(engine.runtime, "complete_user_task", run_then_refuse)
    with pytest.raises(RuntimeError):
        engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    monkeypatch.setattr(engine.runtime, "complete_user_task", real)
    assert engine.store.workflows.revision(inst["id"]) is None

    engine.complete_task(task["task_id"], {"approved": False}, STAFF)
    stored = engine.get_instance(inst["id"])
    assert stored["revision"] == 3 and stored["data"]["approved"] is False
    assert stored["data"]["outcome"] == "rejected" and stored["waiting_tasks"] == ["record_outcome"]


def test_two_engines_stepping_one_instance_keep_both_changes_and_the_revision_check_decides(
    engine, settings, monkeypatch
):
    engine.deploy(PAIRED_CHECKS)
    other = second_engine(settings)
    inst = engine.start("paired_checks", "CACHE-5", {"title": "Fix the lamp", "unit": "transport"}, MEMBER)
    intake_job = take_job(engine, "intake.record_submission")
    unit_job = take_job(engine, "assignment.assign_unit")
    assert engine.store.workflows.revision(inst["id"]) == 1  # this engine's copy is warm

    # While this engine steps its cached copy, the other engine saves revision 2 first.
    outcomes = []
    calls = _race_during_first_change(
        monkeypatch, engine, lambda: outcomes.append(answer(other, unit_job, "ok", ASSIGNMENT))
    )
    restores = count_restores(monkeypatch, engine)
    assert answer(engine, intake_job, "ok", SUBMISSION) == "completed"

    assert outcomes == ["completed"]
    assert len(calls) == 2, "the save that lost the race was not tried again"
    assert len(restores) == 1, "the retry did not restore the revision the other engine saved"
    assert (engine.store.conflicts, other.store.conflicts) == (1, 0), "the conflict was not counted once"
    final = engine.get_instance(inst["id"])
    assert final["status"] == "completed" and final["revision"] == 3
    assert final["data"]["submission"] == SUBMISSION and final["data"]["assignment"] == ASSIGNMENT
    assert engine.store.workflows.revision(inst["id"]) == 3
    assert other.store.workflows.revision(inst["id"]) == 2  # stale there: its next step restores
