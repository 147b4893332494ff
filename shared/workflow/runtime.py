"""Run SpiffWorkflow instances to their next wait state and report what they wait for.

The runtime is pure: it takes and returns workflow objects and plain descriptions of the work they
ask for (jobs, user tasks, timers, messages). The engine service persists them; the BPMN test tier
and the benchmark drive the runtime alone.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition as BpmnErrorEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import EscalationEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import CancelEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from shared import clock, evaluator

from . import bounds, serializer
from .serializer import Specs
from .specs import JobServiceTask


# The states a wait state looks at; one walk of the task tree collects all three.
WAIT_STATES = TaskState.STARTED | TaskState.READY | TaskState.WAITING


class RuntimeError_(Exception):
    """Base for refusals by the runtime; the message says what was wrong."""


class TaskNotWaiting(RuntimeError_):
    """The task named is not waiting for what was offered (already done, cancelled, or unknown)."""


class StepFailed(RuntimeError_):
    """A script, expression or task failed while the instance ran; the task is left in ERROR."""

    def __init__(self, task_name: str, message: str, limit_exceeded: bool = False) -> None:
        super().__init__(f"element '{task_name}' failed: {message}")
        self.task_name = task_name
        self.message = message
        # The diagram's code ran past a time or memory limit: the diagram's fault, never the
        # input's, so an engine records it as an incident rather than refusing the caller.
        self.limit_exceeded = limit_exceeded
        # Set by whoever knows the caller's input is not the cause (a form took it): an incident too.
        self.diagram_fault = limit_exceeded


@dataclass
class JobRequest:
    task_id: str
    task_name: str
    operation: str
    params: dict[str, Any]
    retries: int | None


@dataclass
class UserTaskInfo:
    task_id: str
    task_name: str
    title: str
    lane: str | None
    properties: dict[str, str]


@dataclass
class WaitState:
    """What an instance waits for after a step."""

    status: str  # running | waiting | completed
    new_jobs: list[JobRequest] = field(default_factory=list)
    user_tasks: list[UserTaskInfo] = field(default_factory=list)
    waiting_messages: list[str] = field(default_factory=list)
    next_timer: datetime | None = None
    waiting_tasks: list[str] = field(default_factory=list)


class BoundedScriptEngine(evaluator.ContainedScriptEngine):
    """The contained script engine, whose answers SpiffWorkflow would loop or multiply on are held
    to :mod:`.bounds` first: a timer's value, a multi-instance activity's cardinality."""

    def evaluate(self, task: Task, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        bounds.check_evaluated(task, expression, value)
        return value


class WorkflowRuntime:
    def __init__(self, script_globals: Mapping[str, Any] | None = None) -> None:
        self.script_engine = BoundedScriptEngine(environment=evaluator.RestrictedEnvironment(script_globals))
        self._spec_cache: dict[str, Specs] = {}

    # -- creation and persistence ---------------------------------------------------------
    def _specs(self, version_key: str | None, spec_dict: Mapping[str, Any]) -> Specs:
        if version_key is None:
            return serializer.specs_from_dict(spec_dict)
        cached = self._spec_cache.get(version_key)
        if cached is None:
            cached = serializer.specs_from_dict(spec_dict)
            self._spec_cache[version_key] = cached
        return cached

    def create(
        self, spec_dict: Mapping[str, Any], data: Mapping[str, Any] | None = None, version_key: str | None = None
    ) -> BpmnWorkflow:
        spec, subs = self._specs(version_key, spec_dict)
        workflow = BpmnWorkflow(spec, subs, script_engine=self.script_engine)
        if data:
            workflow.data.update(data)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(data)
        return workflow

    def dumps(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        return serializer.workflow_to_dict(workflow)

    def loads(
        self, state: dict[str, Any], spec_dict: Mapping[str, Any], version_key: str | None = None
    ) -> BpmnWorkflow:
        """Restore a saved instance; ``state`` is consumed (pass a copy to keep it)."""
        spec, subs = self._specs(version_key, spec_dict)
        workflow = serializer.workflow_from_dict(state, spec, subs)
        workflow.script_engine = self.script_engine
        return workflow

    # -- running ----------------------------------------------------------------------------
    def advance(self, workflow: BpmnWorkflow) -> None:
        """Run engine steps until only waits remain; fire timers that are due by the clock.

        Raises :class:`StepFailed` if a script, expression or task fails on the way. The wait state
        is not computed (it walks every task): the engine computes it once, when it saves; ask
        :meth:`wait_state` for it, or call :meth:`run`.
        """
        with _steps_fail_clearly(workflow):
            _engine_steps(workflow)

    def run(self, workflow: BpmnWorkflow) -> WaitState:
        """:meth:`advance`, then the wait state reached."""
        self.advance(workflow)
        return self.wait_state(workflow)

    def retry_failed(self, workflow: BpmnWorkflow) -> None:
        """Make the tasks left in ERROR ready again and run on."""
        for task in workflow.get_tasks(state=TaskState.ERROR):
            task._set_state(TaskState.READY)
        self.advance(workflow)

    def wait_state(self, workflow: BpmnWorkflow) -> WaitState:
        """What the workflow waits for, in one walk of its tasks: jobs (started service tasks),
        user tasks (ready manual tasks), then messages and timers (waiting events), each kind in
        the order of the task tree."""
        state = WaitState(status="completed" if workflow.completed else "waiting")
        started: list[Task] = []
        ready: list[Task] = []
        waiting: list[Task] = []
        by_state = {TaskState.STARTED: started, TaskState.READY: ready, TaskState.WAITING: waiting}
        for task in workflow.get_tasks(state=WAIT_STATES):
            by_state[task.state].append(task)
        for task in started:
            spec = task.task_spec
            if isinstance(spec, JobServiceTask):
                state.waiting_tasks.append(spec.bpmn_id or spec.name)
                if task._get_internal_data("job_id") is None:
                    state.new_jobs.append(
                        JobRequest(
                            task_id=str(task.id),
                            task_name=spec.bpmn_id or spec.name,
                            operation=spec.operation_name,
                            params=task._get_internal_data("job_params") or {},
                            retries=spec.retries,
                        )
                    )
        for task in ready:
            spec = task.task_spec
            if spec.manual:
                state.waiting_tasks.append(spec.bpmn_id or spec.name)
                state.user_tasks.append(
                    UserTaskInfo(
                        task_id=str(task.id),
                        task_name=spec.bpmn_id or spec.name,
                        title=spec.bpmn_name or spec.bpmn_id or spec.name,
                        lane=getattr(spec, "lane", None),
                        properties=dict((getattr(spec, "extensions", None) or {}).get("properties", {})),
                    )
                )
        timers = []
        for task in waiting:
            spec = task.task_spec
            # An error, escalation or cancel boundary event waits for nothing from outside: its task
            # raises it (a job's business error), so it is not listed as what the instance awaits.
            definitions = [
                d for d in _definitions(getattr(spec, "event_definition", None)) if not isinstance(d, RAISED_INSIDE)
            ]
            if not definitions:
                continue
            state.waiting_tasks.append(spec.bpmn_id or spec.name)
            for definition in definitions:
                if isinstance(definition, MessageEventDefinition):
                    state.waiting_messages.append(definition.name)
                elif isinstance(definition, TimerEventDefinition):
                    due = _timer_due(task, definition)
                    if due is not None:
                        timers.append(due)
        state.next_timer = min(timers) if timers else None
        state.waiting_messages = sorted(set(state.waiting_messages))
        return state

    def completed_elements(self, workflow: BpmnWorkflow) -> list[str]:
        """The diagram elements the instance has passed (tasks, events, gateways it completed),
        each id once, in the order first completed; SpiffWorkflow's own bookkeeping tasks (no BPMN
        id) are left out."""
        seen: dict[str, None] = {}
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            element = getattr(task.task_spec, "bpmn_id", None)
            if element:
                seen.setdefault(element, None)
        return list(seen)

    def current_elements(self, workflow: BpmnWorkflow) -> list[str]:
        """The diagram elements where the instance's tokens are: a task ready or started (a user
        task, a job sent), an event or a gateway waiting (a message, a timer, a join), each id once.
        A boundary event is not one (its task is: the event only could interrupt it), nor are
        SpiffWorkflow's own bookkeeping tasks (no BPMN id)."""
        seen: dict[str, None] = {}
        for task in workflow.get_tasks(state=WAIT_STATES):
            element = getattr(task.task_spec, "bpmn_id", None)
            if element and not isinstance(task.task_spec, BoundaryEvent):
                seen.setdefault(element, None)
        return list(seen)

    def current_data(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        """The instance's data as of its latest step: the data of the last task that ran."""
        task = workflow.last_task
        return dict(task.data) if task is not None else {}

    def mark_job_sent(self, workflow: BpmnWorkflow, task_id: str, job_id: str) -> None:
        task = workflow.get_task_from_id(uuid.UUID(task_id))
        task._set_internal_data(job_id=job_id)

    def _job_task(self, workflow: BpmnWorkflow, task_id: str, job_id: str) -> Task:
        try:
            task = workflow.get_task_from_id(uuid.UUID(task_id))
        except Exception:
            raise TaskNotWaiting(f"task {task_id} is not part of this instance") from None
        if task is None or task.state != TaskState.STARTED or task._get_internal_data("job_id") != job_id:
            raise TaskNotWaiting(f"task {task_id} is not waiting for job {job_id}")
        return task

    def complete_job(self, workflow: BpmnWorkflow, task_id: str, job_id: str, result: object) -> None:
        """Complete a job's task with its result and run on (see :meth:`advance`)."""
        task = self._job_task(workflow, task_id, job_id)
        task.data[task.task_spec.result_variable] = result
        with _steps_fail_clearly(workflow, task):
            bounds.check_inputs_ahead(task)
            task.complete()
        self.advance(workflow)

    def throw_job_error(self, workflow: BpmnWorkflow, task_id: str, job_id: str, code: str, message: str) -> bool:
        """Raise a BPMN error on a job's task. True if a boundary event caught it."""
        task = self._job_task(workflow, task_id, job_id)
        event = BpmnEvent(
            ErrorEventDefinition(code, code=code), payload={"code": code, "message": message}, target=task.workflow
        )
        with _steps_fail_clearly(workflow):
            workflow.catch(event)
            # A catching boundary event cancels the task when the engine next steps.
            _engine_steps(workflow)
        caught: bool = task.state != TaskState.STARTED
        if not caught:
            # Nothing caught it: take back the event the workflow queued for the outside.
            workflow.get_events()
        return caught

    def complete_user_task(
        self, workflow: BpmnWorkflow, task_id: str, data: Mapping[str, Any], actor: str | None = None
    ) -> None:
        """Complete a user task with its form data and run on (see :meth:`advance`). Who completed
        it becomes task data too, as ``<task>_by`` (e.g. ``filing_decision_by``), so a diagram can
        pass it on to a job."""
        try:
            task = workflow.get_task_from_id(uuid.UUID(task_id))
        except Exception:
            raise TaskNotWaiting(f"task {task_id} is not part of this instance") from None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotWaiting(f"task {task_id} is not a user task waiting to be completed")
        task.data.update(data or {})
        task.data[f"{task.task_spec.bpmn_id or task.task_spec.name}_by"] = actor or "unknown"
        with _steps_fail_clearly(workflow, task):
            bounds.check_inputs_ahead(task)
            task.run()
        self.advance(workflow)

    def deliver_message(self, workflow: BpmnWorkflow, name: str, payload: Mapping[str, Any]) -> bool:
        """Deliver a message by name; False if the instance is not waiting for it."""
        for task in workflow.get_tasks(state=TaskState.WAITING):
            for definition in _definitions(getattr(task.task_spec, "event_definition", None)):
                if isinstance(definition, MessageEventDefinition) and definition.name == name:
                    with _steps_fail_clearly(workflow, task):
                        workflow.catch(BpmnEvent(definition, payload=payload or {}))
                    self.advance(workflow)
                    return True
        return False

    def fire_timers(self, workflow: BpmnWorkflow) -> None:
        """Fire the timers that are due and run on (see :meth:`advance`)."""
        with _steps_fail_clearly(workflow):
            workflow.refresh_timers()
        self.advance(workflow)


def _engine_steps(workflow: BpmnWorkflow) -> None:
    """SpiffWorkflow's ``do_engine_steps`` within one step's budget (:class:`.bounds.StepBudget`)."""
    budget = bounds.StepBudget()
    workflow.do_engine_steps(will_complete_task=budget.before, did_complete_task=budget.after)


@contextlib.contextmanager
def _steps_fail_clearly(workflow: BpmnWorkflow | None = None, task: Task | None = None) -> Iterator[None]:
    """Turn whatever SpiffWorkflow raises while it steps into StepFailed naming the element."""
    try:
        yield
    except StepFailed:
        raise
    except Exception as exc:
        runaway = next((e for e in _chain(exc) if isinstance(e, bounds.RunawayStep)), None)
        if runaway is not None:  # past a bound of the engine's own: the diagram's doing, an incident
            raise StepFailed(runaway.element, str(runaway), limit_exceeded=True) from exc
        name = failing_element(exc, workflow, task)
        detail = str(exc).strip() or type(exc).__name__
        notes = getattr(exc, "__notes__", None) or []
        cause = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
        if cause is not None and str(cause) not in detail:
            detail += f" ({type(cause).__name__}: {cause})"
        raise StepFailed(
            name, " ".join([detail, *notes]).strip(), limit_exceeded=_caused_by(exc, evaluator.LimitExceeded)
        ) from exc


def _spec_name(spec: TaskSpec) -> str:
    name: str = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None) or "?"
    return name


def failing_element(exc: BaseException, workflow: BpmnWorkflow | None = None, task: Task | None = None) -> str:
    """The id of the element whose step raised ``exc``.

    SpiffWorkflow names the task on most of its exceptions, but not on all (a timer whose value is
    not ISO 8601 raises a plain Exception). Then: the task spec the exception names, else the
    innermost frame of the traceback that was running a task, else the task being run, else the
    workflow's task in ERROR, else the one task that was ready to run, else its last task."""
    for e in _chain(exc):
        found = getattr(e, "task", None)
        if isinstance(found, Task):
            return _spec_name(found.task_spec)
        spec = getattr(e, "task_spec", None)
        if isinstance(spec, TaskSpec):
            return _spec_name(spec)
    for e in _chain(exc):
        frames = []
        tb = e.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        for frame in reversed(frames):
            for key in ("my_task", "task"):
                found = frame.f_locals.get(key)
                if isinstance(found, Task):
                    return _spec_name(found.task_spec)
    if task is not None:
        return _spec_name(task.task_spec)
    if workflow is not None:
        with contextlib.suppress(Exception):
            failed = workflow.get_tasks(state=TaskState.ERROR)
            if failed:
                return _spec_name(failed[-1].task_spec)
            ready = [t for t in workflow.get_tasks(state=TaskState.READY) if not t.task_spec.manual]
            if len(ready) == 1:
                return _spec_name(ready[0].task_spec)
            if workflow.last_task is not None:
                return _spec_name(workflow.last_task.task_spec)
    return "?"


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        yield exc
        seen.add(id(exc))
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__


def _caused_by(exc: BaseException, kind: type) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def root_cause(exc: BaseException) -> BaseException:
    """The first exception behind ``exc`` (SpiffWorkflow wraps the designer's error)."""
    *_, last = _chain(exc)
    return last


RAISED_INSIDE = (BpmnErrorEventDefinition, EscalationEventDefinition, CancelEventDefinition)


def _definitions(definition: Any) -> list[Any]:  # SpiffWorkflow's event definitions
    if definition is None:
        return []
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def _timer_due(task: Task, definition: Any) -> datetime | None:
    value = task._get_internal_data("event_value")
    if value is None:
        # Not yet evaluated: evaluate now (SpiffWorkflow does so on its first update).
        definition.has_fired(task) if hasattr(definition, "has_fired") else None
        value = task._get_internal_data("event_value")
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    try:
        due: datetime = TimerEventDefinition.get_datetime(value)
        return due
    except Exception:
        try:
            parsed: datetime = TimerEventDefinition.parse_time_or_duration(value)
            return parsed
        except Exception:
            return None


def now() -> datetime:
    return clock.now()
