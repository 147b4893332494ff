"""The smoke diagram driven through every path by the runtime alone, with a skipping clock.

Every wait state is saved and restored before the next input (``save_restore``), so a state that
cannot be saved fails here rather than in production.
"""
from datetime import timedelta

import pytest

from shared.workflow.parser import parse_paths
from shared.config import ROOT
from shared.workflow.runtime import StepFailed, WorkflowRuntime

SMOKE = parse_paths([ROOT / "bpmn" / "smoke.bpmn"])[0]
DATA = {"title": "Repair the bus shelter on Renmin Road", "unit": "transport", "reply_within": "P30D"}


class Driver:
    """One instance, restored from its saved form before every input."""

    def __init__(self, data=DATA):
        self.runtime = WorkflowRuntime()
        self.workflow = self.runtime.create(SMOKE.spec, dict(data), version_key="smoke-test")
        self.state = self.runtime.run(self.workflow)
        self.save_restore()

    def save_restore(self):
        saved = self.runtime.dumps(self.workflow)
        self.workflow = self.runtime.loads(saved, SMOKE.spec, version_key="smoke-test")
        restored = self.runtime.wait_state(self.workflow)
        assert restored.waiting_tasks == self.state.waiting_tasks
        assert restored.status == self.state.status

    def only_job(self, operation):
        jobs = [j for j in self.state.new_jobs]
        assert [j.operation for j in jobs] == [operation]
        job = jobs[0]
        self.runtime.mark_job_sent(self.workflow, job.task_id, f"job-{job.task_id}")
        self.save_restore()
        return job

    def finish_job(self, operation, result):
        job = self.only_job(operation)
        self.state = self.runtime.complete_job(self.workflow, job.task_id, f"job-{job.task_id}", result)
        self.save_restore()
        return job

    def review(self, approved):
        [task] = self.state.user_tasks
        assert task.task_name == "review" and task.properties["candidateRole"] == "staff"
        self.state = self.runtime.complete_user_task(self.workflow, task.task_id, {"approved": approved})
        self.save_restore()

    @property
    def data(self):
        return self.workflow.last_task.data


def submitted_and_approved():
    d = Driver()
    job = d.finish_job("intake.record_submission", {"id": 41, "title": DATA["title"]})
    assert job.params == {"title": DATA["title"]}
    d.review(approved=True)
    job = d.finish_job("assignment.assign_unit", {"assignment_id": 7, "unit": "transport"})
    assert d.state.waiting_tasks == ["wait_reply"]
    assert d.state.waiting_messages == ["unit_reply"]
    return d


def test_unit_reply_before_the_deadline_records_answered(skipping_clock):
    d = submitted_and_approved()
    assert d.runtime.deliver_message(d.workflow, "unit_reply", {"text": "Repaired on 3 March"})
    d.state = d.runtime.wait_state(d.workflow)
    d.save_restore()
    job = d.finish_job("evaluation.record_outcome", {"outcome_id": 1, "outcome": "answered"})
    assert job.params == {"submission_id": 41, "outcome": "answered"}
    assert d.state.status == "completed"
    assert d.data["unit_reply"] == {"text": "Repaired on 3 March"}


def test_deadline_passing_escalates_then_records_overdue(skipping_clock):
    d = submitted_and_approved()
    assert d.state.next_timer == skipping_clock.now() + timedelta(days=30)
    skipping_clock.advance(days=29, hours=23)
    d.state = d.runtime.fire_timers(d.workflow)
    assert d.state.waiting_tasks == ["wait_reply"], "the timer fired early"
    d.save_restore()
    skipping_clock.advance(hours=2)
    d.state = d.runtime.fire_timers(d.workflow)
    d.save_restore()
    job = d.finish_job("supervision.escalate", {"escalation_id": 3})
    assert job.params == {"submission_id": 41, "unit": "transport"}
    job = d.finish_job("evaluation.record_outcome", {"outcome_id": 2, "outcome": "overdue"})
    assert job.params["outcome"] == "overdue"
    assert d.state.status == "completed"
    assert not d.runtime.deliver_message(d.workflow, "unit_reply", {}), "a finished instance took a message"


def test_rejected_submission_records_rejected_without_assignment(skipping_clock):
    d = Driver()
    d.finish_job("intake.record_submission", {"id": 42})
    d.review(approved=False)
    job = d.finish_job("evaluation.record_outcome", {"outcome_id": 3})
    assert job.params == {"submission_id": 42, "outcome": "rejected"}
    assert d.state.status == "completed"


def test_unknown_unit_error_is_caught_by_the_boundary_event(skipping_clock):
    d = Driver()
    d.finish_job("intake.record_submission", {"id": 43})
    d.review(approved=True)
    job = d.only_job("assignment.assign_unit")
    assert d.runtime.throw_job_error(d.workflow, job.task_id, f"job-{job.task_id}", "no_unit", "no such unit")
    d.state = d.runtime.wait_state(d.workflow)
    d.save_restore()
    assert d.state.status == "completed"
    from SpiffWorkflow.util.task import TaskState

    ended = {t.task_spec.bpmn_id for t in d.workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "end_unassignable" in ended and "end" not in ended


def test_an_error_the_diagram_does_not_catch_leaves_the_job_waiting(skipping_clock):
    d = Driver()
    d.finish_job("intake.record_submission", {"id": 44})
    d.review(approved=True)
    job = d.only_job("assignment.assign_unit")
    assert not d.runtime.throw_job_error(d.workflow, job.task_id, f"job-{job.task_id}", "other", "?")
    assert d.runtime.wait_state(d.workflow).waiting_tasks[0] == "assign_unit"


def test_a_result_for_another_job_or_a_finished_task_is_refused(skipping_clock):
    from shared.workflow.runtime import TaskNotWaiting

    d = Driver()
    job = d.finish_job("intake.record_submission", {"id": 45})
    with pytest.raises(TaskNotWaiting):
        d.runtime.complete_job(d.workflow, job.task_id, f"job-{job.task_id}", {"id": 46})
    d.review(approved=True)
    job = d.only_job("assignment.assign_unit")
    with pytest.raises(TaskNotWaiting):
        d.runtime.complete_job(d.workflow, job.task_id, "some-other-job", {})


def test_missing_data_fails_the_step_naming_the_element(skipping_clock):
    runtime = WorkflowRuntime()
    workflow = runtime.create(SMOKE.spec, {"unit": "transport"}, version_key="smoke-test")
    with pytest.raises(StepFailed) as failure:
        runtime.run(workflow)
    assert failure.value.task_name == "record_submission"
    assert "title" in failure.value.message
