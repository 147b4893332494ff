"""The runtime's steps move the workflow and leave the wait state to whoever asks for it: the
engine computes it once per save, so a step that computed one too would walk every task twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.workflow.parser import parse_paths
from shared.workflow.runtime import WorkflowRuntime

ROOT = Path(__file__).resolve().parents[4]
SMOKE = next(d for d in parse_paths([ROOT / "bpmn" / "smoke.bpmn"]) if d.process_id == "smoke")
DATA = {"title": "Bus stop", "unit": "transport", "reply_within": "P30D"}


def test_the_steps_move_the_workflow_without_computing_a_wait_state(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = WorkflowRuntime()
    workflow = runtime.create(SMOKE.spec, dict(DATA), version_key="smoke-steps")
    walks: list[object] = []
    wait_state = runtime.wait_state

    def counted(wf: object) -> object:
        walks.append(wf)
        return wait_state(wf)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime, "wait_state", counted)

    def only_job(operation: str) -> str:
        [job] = runtime.wait_state(workflow).new_jobs
        assert job.operation == operation
        runtime.mark_job_sent(workflow, job.task_id, f"job-{operation}")
        return job.task_id

    assert runtime.advance(workflow) is None
    task_id = only_job("intake.record_submission")
    assert runtime.complete_job(workflow, task_id, "job-intake.record_submission", {"id": 1}) is None
    [review] = runtime.wait_state(workflow).user_tasks
    assert runtime.complete_user_task(workflow, review.task_id, {"approved": True}) is None
    task_id = only_job("assignment.assign_unit")
    assert runtime.complete_job(workflow, task_id, "job-assignment.assign_unit", {"unit": "transport"}) is None
    assert runtime.wait_state(workflow).waiting_messages == ["unit_reply"]
    assert runtime.deliver_message(workflow, "unit_reply", {"text": "done"}) is True
    task_id = only_job("evaluation.record_outcome")
    assert runtime.complete_job(workflow, task_id, "job-evaluation.record_outcome", {"id": 1}) is None
    # Only the test's own questions walked the tasks: five, one per wait it looked at.
    assert len(walks) == 5
    assert runtime.run(workflow).status == "completed"
    assert len(walks) == 6


def test_the_current_elements_are_where_the_tokens_wait_at_each_stop() -> None:
    """Where an operator's cancellation says the instance stood: the job's task, the user task, the
    message catch; not the boundary event that could interrupt the task, nor anything done."""
    runtime = WorkflowRuntime()
    workflow = runtime.create(SMOKE.spec, dict(DATA), version_key="smoke-current")
    runtime.advance(workflow)
    [job] = runtime.wait_state(workflow).new_jobs
    assert runtime.current_elements(workflow) == ["record_submission"]
    runtime.mark_job_sent(workflow, job.task_id, "job-1")
    runtime.complete_job(workflow, job.task_id, "job-1", {"id": 1})
    [review] = runtime.wait_state(workflow).user_tasks
    assert runtime.current_elements(workflow) == ["review"]
    runtime.complete_user_task(workflow, review.task_id, {"approved": True})
    [job] = runtime.wait_state(workflow).new_jobs
    assert runtime.current_elements(workflow) == ["assign_unit"]  # not its boundary event no_unit
    runtime.mark_job_sent(workflow, job.task_id, "job-2")
    runtime.complete_job(workflow, job.task_id, "job-2", {"unit": "transport"})
    # the event-based gateway holds the token while the message or the timer may come
    assert runtime.current_elements(workflow) == ["wait_reply"]
    assert runtime.wait_state(workflow).waiting_messages == ["unit_reply"]
    runtime.deliver_message(workflow, "unit_reply", {"text": "done"})
    assert runtime.current_elements(workflow) == ["record_outcome"]


def test_the_wait_state_lists_a_jobs_task_not_the_error_boundary_that_only_it_can_raise() -> None:
    """While assign_unit's job runs, the instance waits for the job: its error boundary event
    no_unit waits for nothing from outside (the job's business error raises it), so it is not
    listed as something the instance awaits, nor as a message or a timer."""
    runtime = WorkflowRuntime()
    workflow = runtime.create(SMOKE.spec, dict(DATA), version_key="smoke-boundary")
    runtime.advance(workflow)
    [job] = runtime.wait_state(workflow).new_jobs
    runtime.mark_job_sent(workflow, job.task_id, "job-1")
    runtime.complete_job(workflow, job.task_id, "job-1", {"id": 1})
    [review] = runtime.wait_state(workflow).user_tasks
    runtime.complete_user_task(workflow, review.task_id, {"approved": True})
    state = runtime.wait_state(workflow)
    assert [j.operation for j in state.new_jobs] == ["assignment.assign_unit"]
    assert state.waiting_tasks == ["assign_unit"]
    assert (state.waiting_messages, state.next_timer) == ([], None)
