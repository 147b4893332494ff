"""Moving a running instance from one version of its process to another.

SpiffWorkflow 3.2 can swap a workflow's spec (``SpiffWorkflow.bpmn.util.diff``: a spec diff aligns
the old version's task specs with the new one's, and tasks are pointed at their new specs). We use
its spec diff to find what changed and to suggest mappings, but align strictly by element id (and
the designer's ``mapping``), so nothing moves to an element the designer did not name:

1. every task the instance waits at (a user task, a job, a message, a timer, a step that failed)
   must exist in B, or be mapped to an element of B — else the instance is refused, naming the
   element and, where SpiffWorkflow's structural alignment finds one, the likely match;
2. finished tasks whose element B no longer has are history only: they leave the task tree (their
   record stays in the engine's history);
3. predicted tasks (what the old version would have done next) are dropped and predicted again
   from B's flows; a waiting task whose element changed (or was mapped) is reset, so it is entered
   again as B draws it, keeping its task id (a boundary event B attaches to it is armed) — except a
   job already sent, which keeps waiting for
   its answer unless the caller asks for it to run again (``rerun``: a job that became an incident);
   an unchanged timer keeps its due date;
4. the result is serialised and restored on B's spec before anything is stored: an instance that
   does not survive that is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.serializer.helpers.dictionary import DictionaryConverter
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import serializer
from .specs import JobServiceTask

LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
DISPOSABLE = TaskState.PREDICTED_MASK | TaskState.FUTURE


@dataclass
class MigrationPlan:
    """What moving one instance to B means (or why it cannot)."""

    problems: list[str] = field(default_factory=list)  # why it cannot move
    waiting: list[dict[str, Any]] = field(default_factory=list)  # {"task", "to", "state", "kind", "reset"}
    history_only: list[str] = field(default_factory=list)  # finished elements B no longer has
    suggestions: dict[str, str] = field(default_factory=dict)  # old id -> a likely id in B
    rerun: list[str] = field(default_factory=list)  # job tasks that will be sent again

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "waiting": self.waiting,
            "history_only": self.history_only,
            "suggestions": self.suggestions,
            "rerun": self.rerun,
        }


def _kind(task: Task) -> str:
    spec = task.task_spec
    if isinstance(spec, JobServiceTask):
        return "job"
    if spec.manual:
        return "user task"
    if task.state == TaskState.ERROR:
        return "failed step"
    if getattr(spec, "event_definition", None) is not None:
        return "event"
    return type(spec).__name__


def _element(spec: TaskSpec) -> str:
    name: str = getattr(spec, "bpmn_id", None) or spec.name
    return name


def _changed(registry: DictionaryConverter, old_spec: TaskSpec, new_spec: TaskSpec) -> bool:
    a, b = registry.convert(old_spec), registry.convert(new_spec)
    return bool(a != b)


def _plan_one(
    workflow: BpmnBaseWorkflow,
    new_spec: BpmnProcessSpec,
    mapping: Mapping[str, str],
    plan: MigrationPlan,
    rerun_ids: Collection[str],
    registry: DictionaryConverter,
) -> tuple[dict[TaskSpec, TaskSpec | None], list[Task]]:
    """Align ``workflow``'s tasks to ``new_spec``; fills ``plan``; returns (alignment, resets)."""
    old_spec = workflow.spec
    alignment: dict[TaskSpec, TaskSpec | None] = {}
    for spec in old_spec.task_specs.values():
        target_name = mapping.get(spec.name, spec.name)
        alignment[spec] = new_spec.task_specs.get(target_name)
    for old_name, new_name in mapping.items():
        if old_name in old_spec.task_specs and new_name not in new_spec.task_specs:
            plan.problems.append(f"--map {old_name}={new_name}: B has no element '{new_name}'")
    try:
        structural = SpecDiff(registry, old_spec, new_spec).alignment
    except Exception:  # noqa: BLE001 - suggestions only
        structural = {}
    resets: list[Task] = []
    for task in workflow.get_tasks(skip_subprocesses=True):
        spec = task.task_spec
        target = alignment.get(spec)
        if task.has_state(DISPOSABLE):
            continue
        name = _element(spec)
        if task.has_state(LIVE):
            if target is None:
                guess = structural.get(spec)
                hint = (
                    f" (it looks like '{_element(guess)}': --map {name}={_element(guess)})"
                    if guess is not None
                    else f" (map it: --map {name}=<an element of B>)"
                )
                if guess is not None:
                    plan.suggestions[name] = _element(guess)
                plan.problems.append(f"waits at '{name}' ({_kind(task)}), which B does not have{hint}")
                continue
            changed = spec.name in mapping or _changed(registry, spec, target)
            reset = changed and (task.state != TaskState.STARTED or str(task.id) in rerun_ids)
            if task.state == TaskState.STARTED and str(task.id) in rerun_ids:
                plan.rerun.append(name)
            plan.waiting.append(
                {
                    "task": name,
                    "to": _element(target),
                    "kind": _kind(task),
                    "state": TaskState.get_name(task.state),
                    "changed": changed,
                    "reset": reset,
                }
            )
            if reset:
                resets.append(task)
        elif target is None and name not in plan.history_only:
            plan.history_only.append(name)
    return alignment, resets


def _apply(
    workflow: BpmnBaseWorkflow,
    new_spec: BpmnProcessSpec,
    alignment: dict[TaskSpec, TaskSpec | None],
    resets: list[Task],
) -> None:
    # Predicted tasks follow the old version's flows: drop them (B's are predicted again below).
    for task in list(workflow.get_tasks(skip_subprocesses=True)):
        if (
            task.id in workflow.tasks
            and task.has_state(DISPOSABLE)
            and task.parent is not None
            and not task.parent.has_state(DISPOSABLE)
        ):
            workflow._remove_task(task.id)
    # Finished tasks whose element is gone leave the tree; their children move up to their parent.
    for task in list(workflow.get_tasks(skip_subprocesses=True)):
        if alignment.get(task.task_spec) is None and task.parent is not None:
            parent = task.parent
            index = parent._children.index(task.id)
            parent._children[index : index + 1] = list(task._children)
            for child in task.children:
                child._parent = parent.id
            workflow.tasks.pop(task.id)
            if workflow.last_task is task:
                workflow.last_task = parent
    workflow.spec = new_spec
    for task in workflow.get_tasks(skip_subprocesses=True):
        task.task_spec = alignment[task.task_spec]
    for task in resets:
        if task.id in workflow.tasks:
            _enter_as_drawn(workflow, task)
            task.reset_branch(None)
    for task in list(workflow.get_tasks(skip_subprocesses=True)):
        if task.id in workflow.tasks and task.has_state(TaskState.READY | TaskState.STARTED | TaskState.WAITING):
            task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE | task.state)


def _enter_as_drawn(workflow: BpmnBaseWorkflow, task: Task) -> None:
    """A waiting task B enters through an element the old version did not have between it and the
    task before — a boundary event now attached to it (SpiffWorkflow's BoundaryEventSplit) — is
    put behind that element, so the boundary events are armed as if the task had been entered on B."""
    parent = task.parent
    spec = task.task_spec
    if parent is None or parent.task_spec in spec.inputs:
        return
    between = [s for s in spec.inputs if not getattr(s, "bpmn_id", None) and parent.task_spec in s.inputs]
    if len(between) != 1:
        return
    split = Task(workflow, between[0], parent=parent, state=TaskState.COMPLETED)
    split.data = dict(parent.data)
    parent._children.remove(task.id)
    task._parent = split.id
    split._children.append(task.id)
    split._sync_children(split.task_spec.outputs, TaskState.FUTURE)
    for child in split.children:
        if child is not task:
            child.data = dict(split.data)
            child.task_spec._update(child)


def plan(
    workflow: BpmnBaseWorkflow,
    new_spec: BpmnProcessSpec,
    new_subprocess_specs: Mapping[str, BpmnProcessSpec],
    mapping: Mapping[str, str] | None = None,
    rerun_ids: Collection[str] = (),
) -> MigrationPlan:
    """Check moving ``workflow`` to ``new_spec``: a :class:`MigrationPlan` (nothing is changed)."""
    result = MigrationPlan()
    registry = serializer.SERIALIZER.registry
    mapping = dict(mapping or {})
    unknown = [
        old
        for old in mapping
        if old not in workflow.spec.task_specs
        and not any(old in sp.spec.task_specs for sp in workflow.subprocesses.values())
    ]
    for old in unknown:
        result.problems.append(f"--map {old}={mapping[old]}: version A has no element '{old}'")
    _plan_one(workflow, new_spec, mapping, result, set(rerun_ids), registry)
    for sub in workflow.subprocesses.values():
        target = new_subprocess_specs.get(sub.spec.name)
        if target is None:
            result.problems.append(f"runs sub-process '{sub.spec.name}', which B does not have")
            continue
        _plan_one(sub, target, mapping, result, set(rerun_ids), registry)
    return result


def migrate(
    workflow: BpmnBaseWorkflow,
    new_spec: BpmnProcessSpec,
    new_subprocess_specs: Mapping[str, BpmnProcessSpec],
    mapping: Mapping[str, str] | None = None,
    rerun_ids: Collection[str] = (),
) -> MigrationPlan:
    """Move ``workflow`` (changed in place) onto ``new_spec``; returns the :class:`MigrationPlan`.
    When the plan is not ``ok`` nothing is changed."""
    registry = serializer.SERIALIZER.registry
    mapping = dict(mapping or {})
    result = plan(workflow, new_spec, new_subprocess_specs, mapping, rerun_ids)
    if not result.ok:
        return result
    scratch = MigrationPlan()
    work = [(workflow, new_spec)] + [
        (sub, new_subprocess_specs[sub.spec.name]) for sub in workflow.subprocesses.values()
    ]
    prepared = [(wf, spec, *_plan_one(wf, spec, mapping, scratch, set(rerun_ids), registry)) for wf, spec in work]
    workflow.subprocess_specs = new_subprocess_specs
    for wf, spec, alignment, resets in prepared:
        _apply(wf, spec, alignment, resets)
    return result
