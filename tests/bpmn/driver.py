"""One diagram instance driven by the runtime alone, as the bpmn tier's tests do: every input goes
through a save/restore first (so every wait state proves it survives serialization), jobs are
answered by hand, user tasks are completed through their forms, timers fire on a skipping clock."""
from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

from shared.forms import FORMS
from shared.workflow.runtime import WorkflowRuntime


class Instance:
    default_actor = "staff.wang"

    def __init__(self, clock, diagram, data: dict, version_key: str):
        self.clock, self.diagram, self.version_key = clock, diagram, version_key
        self.runtime = WorkflowRuntime()
        self.workflow = self.runtime.create(diagram.spec, data, version_key=version_key)
        self.state = self.runtime.run(self.workflow)
        self.operations = []

    def _restore(self):
        self.workflow = self.runtime.loads(self.runtime.dumps(self.workflow), self.diagram.spec,
                                           version_key=self.version_key)

    def _pending(self, operation):
        self._restore()
        jobs = self.runtime.wait_state(self.workflow).new_jobs
        assert [j.operation for j in jobs] == [operation], f"waiting for {[j.operation for j in jobs]}"
        self.runtime.mark_job_sent(self.workflow, jobs[0].task_id, "job-" + jobs[0].task_id)
        return jobs[0]

    def job(self, operation, result=None):
        """Answer the one pending job, which must be ``operation``; returns its parameters."""
        job = self._pending(operation)
        self.state = self.runtime.complete_job(self.workflow, job.task_id, "job-" + job.task_id, result or {})
        self.operations.append(operation)
        return job.params

    def error(self, operation, code):
        """Fail the one pending job, which must be ``operation``, with the BPMN error ``code``."""
        job = self._pending(operation)
        assert self.runtime.throw_job_error(self.workflow, job.task_id, "job-" + job.task_id, code, code)
        self.state = self.runtime.wait_state(self.workflow)
        return job.params

    def waiting(self):
        self._restore()
        return self.runtime.wait_state(self.workflow).user_tasks

    def task(self, name, data, actor=None):
        """Complete the one open user task, which must be ``name``, with ``data`` through its form."""
        tasks = self.waiting()
        assert [t.task_name for t in tasks] == [name], f"user tasks are {[t.task_name for t in tasks]}"
        form = tasks[0].properties["formSchema"]
        self.state = self.runtime.complete_user_task(self.workflow, tasks[0].task_id, FORMS[form]().load(data),
                                                     actor=actor or self.default_actor)

    def message(self, name, payload=None):
        self._restore()
        waiting = self.runtime.wait_state(self.workflow).waiting_messages
        assert name in waiting, f"not waiting for {name}: {waiting}"
        assert self.runtime.deliver_message(self.workflow, name, payload or {})
        self.state = self.runtime.wait_state(self.workflow)

    def timers(self, **skip):
        self._restore()
        self.clock.advance(**skip)
        self.state = self.runtime.fire_timers(self.workflow)

    def waits_at(self, *names):
        self._restore()
        return set(names) <= set(self.runtime.wait_state(self.workflow).waiting_tasks)

    @property
    def done(self):
        return self.workflow.completed

    def ended_at(self):
        return {t.task_spec.bpmn_id for t in self.workflow.get_tasks(state=TaskState.COMPLETED)
                if t.task_spec.bpmn_id and t.task_spec.bpmn_id.startswith("end")}
