"""The smoke diagram driven through every path by the runtime alone, with a skipping clock: every
scenario of bpmn/smoke.scenarios.yaml (what `ztc test` runs), and what the runtime refuses.

Every wait state is saved and restored before the next input (``save_restore``), so a state that
cannot be saved fails here rather than in production.
"""

import pytest

from shared.workflow.parser import parse_paths
from shared.config import ROOT
from shared.workflow.runtime import WorkflowRuntime
from tests.bpmn import scenario_files

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
        self.runtime.complete_job(self.workflow, job.task_id, f"job-{job.task_id}", result)
        self.state = self.runtime.wait_state(self.workflow)
        self.save_restore()
        return job

    def review(self, approved):
        [task] = self.state.user_tasks
        assert task.task_name == "review" and task.properties["candidateRole"] == "staff"
        self.runtime.complete_user_task(self.workflow, task.task_id, {"approved": approved})
        self.state = self.runtime.wait_state(self.workflow)
        self.save_restore()

    @property
    def data(self):
        return self.workflow.last_task.data


@scenario_files.parametrize("smoke")
def test_smoke_scenario(scenario):
    scenario_files.run("smoke", scenario)


def submitted_and_approved():
    d = Driver()
    d.finish_job("intake.record_submission", {"id": 41, "title": DATA["title"]})
    d.review(approved=True)
    d.finish_job("assignment.assign_unit", {"assignment_id": 7, "unit": "transport"})
    return d


def test_a_finished_instance_takes_no_message(skipping_clock):
    d = submitted_and_approved()
    assert d.runtime.deliver_message(d.workflow, "unit_reply", {"text": "Repaired"})
    d.state = d.runtime.wait_state(d.workflow)
    d.finish_job("evaluation.record_outcome", {"outcome_id": 1})
    assert d.state.status == "completed"
    assert not d.runtime.deliver_message(d.workflow, "unit_reply", {}), "a finished instance took a message"


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
