"""One diagram instance driven by the runtime alone, for designers' scenarios (``ztc test``) and the
BPMN test tier: every input goes through a save/restore first (so every wait state proves it
survives serialization), jobs are answered with the results a scenario gives, user tasks are
completed through their forms, timers fire on a skipping clock. No database, no broker, no service.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.util.task import TaskState

from shared.clock import SkippingClock
from shared.forms import FORMS

from .runtime import JobRequest, UserTaskInfo, WaitState, WorkflowRuntime

if TYPE_CHECKING:
    from .parser import ProcessDefinition


class ScenarioFailure(AssertionError):
    """A scenario's expectation did not hold; the message says what was found instead."""


class Instance:
    default_actor = "staff.wang"

    def __init__(
        self,
        clock: SkippingClock,
        diagram: ProcessDefinition,
        data: Mapping[str, Any],
        version_key: str = "scenario",
        runtime: WorkflowRuntime | None = None,
    ) -> None:
        self.clock, self.diagram, self.version_key = clock, diagram, version_key
        self.runtime = runtime or WorkflowRuntime()
        self.workflow = self.runtime.create(diagram.spec, data, version_key=version_key)
        self.operations: list[str] = []
        self.reached: set[str] = set()  # elements entered (coverage)
        self.state = self.runtime.run(self.workflow)
        self.record()

    # -- save and restore at every wait ---------------------------------------------------------
    def _restore(self) -> None:
        self.workflow = self.runtime.loads(
            self.runtime.dumps(self.workflow), self.diagram.spec, version_key=self.version_key
        )

    def record(self) -> None:
        """Note the elements this instance has entered so far (for coverage)."""
        for task in self.workflow.get_tasks(
            state=TaskState.COMPLETED | TaskState.STARTED | TaskState.READY | TaskState.ERROR
        ):
            spec = task.task_spec
            if task.state == TaskState.READY and not spec.manual:
                continue
            if getattr(spec, "bpmn_id", None):
                self.reached.add(spec.bpmn_id)
        self.reached_flows.update(taken_pairs(self.workflow))

    @property
    def reached_flows(self) -> set[tuple[str, str]]:
        if not hasattr(self, "_flows"):
            self._flows: set[tuple[str, str]] = set()
        return self._flows

    # -- inputs ------------------------------------------------------------------------------------
    def pending_jobs(self) -> list[JobRequest]:
        self._restore()
        return self.runtime.wait_state(self.workflow).new_jobs

    def _pending(self, operation: str) -> JobRequest:
        jobs = self.pending_jobs()
        matching = [j for j in jobs if j.operation == operation]
        if not matching:
            raise ScenarioFailure(
                f"no job '{operation}' is waiting; waiting for {[j.operation for j in jobs] or 'no job'}"
            )
        job = matching[0]
        self.runtime.mark_job_sent(self.workflow, job.task_id, "job-" + job.task_id)
        return job

    def job(self, operation: str, result: object = None) -> dict[str, Any]:
        """Answer the pending job ``operation`` with ``result``; returns its parameters."""
        job = self._pending(operation)
        self.runtime.complete_job(self.workflow, job.task_id, "job-" + job.task_id, result or {})
        self.state = self.runtime.wait_state(self.workflow)
        self.operations.append(operation)
        self.record()
        return job.params

    def error(self, operation: str, code: str, message: str | None = None, caught: bool = True) -> dict[str, Any]:
        """Answer the pending job ``operation`` with the BPMN error ``code``; returns its parameters."""
        job = self._pending(operation)
        was_caught = self.runtime.throw_job_error(
            self.workflow, job.task_id, "job-" + job.task_id, code, message or code
        )
        if was_caught != caught:
            raise ScenarioFailure(
                f"the error '{code}' of '{operation}' was {'caught' if was_caught else 'not caught'} by the diagram"
            )
        self.state = self.runtime.wait_state(self.workflow)
        self.record()
        return job.params

    def waiting(self) -> list[UserTaskInfo]:
        self._restore()
        return self.runtime.wait_state(self.workflow).user_tasks

    def task(self, name: str, data: Mapping[str, Any] | None, actor: str | None = None) -> None:
        """Complete the open user task ``name`` with ``data``, through its form."""
        tasks = self.waiting()
        matching = [t for t in tasks if t.task_name == name]
        if not matching:
            raise ScenarioFailure(f"no user task '{name}' is open; open: {[t.task_name for t in tasks] or 'none'}")
        form = matching[0].properties.get("formSchema")
        loaded = FORMS[form]().load(data or {}) if form else dict(data or {})
        self.runtime.complete_user_task(self.workflow, matching[0].task_id, loaded, actor=actor or self.default_actor)
        self.state = self.runtime.wait_state(self.workflow)
        self.record()

    def message(self, name: str, payload: Mapping[str, Any] | None = None) -> None:
        self._restore()
        waiting = self.runtime.wait_state(self.workflow).waiting_messages
        if name not in waiting:
            raise ScenarioFailure(f"not waiting for the message '{name}'; waiting for {waiting or 'no message'}")
        self.runtime.deliver_message(self.workflow, name, payload or {})
        self.state = self.runtime.wait_state(self.workflow)
        self.record()

    def timers(self, **skip: float) -> None:
        self._restore()
        self.clock.advance(**skip)
        self.runtime.fire_timers(self.workflow)
        self.state = self.runtime.wait_state(self.workflow)
        self.record()

    # -- looking ---------------------------------------------------------------------------------------
    def waits_at(self, *names: str) -> bool:
        self._restore()
        return set(names) <= set(self.runtime.wait_state(self.workflow).waiting_tasks)

    def wait_state(self) -> WaitState:
        self._restore()
        return self.runtime.wait_state(self.workflow)

    def candidate_user(self, info: UserTaskInfo) -> str | None:
        expression = info.properties.get("candidateUser")
        if not expression:
            return None
        task = self.workflow.get_task_from_id(uuid.UUID(str(info.task_id)))
        value = self.workflow.script_engine.evaluate(task, expression)
        return None if value is None else str(value)

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.workflow.data) if self.workflow.completed else self.runtime.current_data(self.workflow)

    @property
    def done(self) -> bool:
        return bool(self.workflow.completed)

    def ended_at(self) -> set[str]:
        return {
            t.task_spec.bpmn_id
            for t in self.workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(t.task_spec, EndEvent) and t.task_spec.bpmn_id
        }


def taken_pairs(workflow: BpmnWorkflow) -> set[tuple[str, str]]:
    """``(source, target)`` element ids of each step the instance took from one element to the next
    (the task tree follows execution: a task's nearest ancestor with an element is where it came from)."""
    pairs = set()
    for task in workflow.get_tasks(
        state=TaskState.COMPLETED | TaskState.STARTED | TaskState.READY | TaskState.WAITING | TaskState.ERROR
    ):
        target = getattr(task.task_spec, "bpmn_id", None)
        if not target:
            continue
        parent = task.parent
        while parent is not None and not getattr(parent.task_spec, "bpmn_id", None):
            parent = parent.parent
        if parent is not None and parent.state == TaskState.COMPLETED:
            pairs.add((parent.task_spec.bpmn_id, target))
    return pairs
