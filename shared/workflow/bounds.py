"""Bounds on what SpiffWorkflow does with a diagram, beyond its scripts and expressions.

The sandbox (:mod:`shared.sandbox`) limits every script and expression. But the engine process
itself then does work that a value or a loop can make unbounded, all on the green thread that
every other instance shares:

- **A timer's value.** SpiffWorkflow turns a duration into days month by month: ``P99999999Y``
  is 1.2 billion turns of a loop, hours of the engine's CPU in one call. A repeating interval of
  zero (``R/PT0S``) is due again the moment it fires, for ever. So a timer's value, literal (checked
  at deploy, :func:`timer_problem`) or the result of its expression (checked at run time, before
  SpiffWorkflow reads it), is at most :data:`MAX_TIMER_YEARS` years ahead, and a repeating
  interval at least :data:`MIN_CYCLE_SECONDS` long.
- **A multi-instance activity's count.** SpiffWorkflow makes every instance of a parallel one at
  once: ``loopCardinality`` ``10**7`` is ten million tasks in memory. A cardinality, literal or
  evaluated, and an input collection already in the data are at most :data:`MAX_INSTANCES`.
- **A step that never reaches a wait.** A standard loop whose condition stays true, or a cycle of
  script tasks and gateways, runs tasks for ever without waiting for anything. One step (a start,
  a completed task, a job's result, a message, a timer) runs at most :data:`MAX_TASKS_PER_STEP`
  tasks, and stops once it has run :data:`MANY_TASKS` and is still running after
  :data:`STEP_SECONDS` (:class:`StepBudget`). A step of a real diagram runs a few dozen tasks in
  milliseconds; one script of many seconds (an element's ``timeLimit``) alone is not stopped.

Past a bound the step fails with :class:`RunawayStep`, which the runtime reports as a step that
ran past a limit: an incident naming the element (never the caller's fault), with the state
reached between two tasks saved, and every other instance untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.task import Task

MAX_TIMER_YEARS = 100
MAX_TIMER_DAYS = MAX_TIMER_YEARS * 365.25
MIN_CYCLE_SECONDS = 1
MAX_INSTANCES = 1_000
MAX_TASKS_PER_STEP = 5_000
# A step that has run this many tasks and is still running after this long is a loop too: each
# turn of SpiffWorkflow's standard loop walks the whole task tree, so a thousand turns take seconds.
MANY_TASKS, STEP_SECONDS = 100, 10.0

TIMER_KINDS = {
    DurationTimerEventDefinition: "timeDuration",
    TimeDateEventDefinition: "timeDate",
    CycleTimerEventDefinition: "timeCycle",
}
_DURATION = re.compile(r"^P", re.IGNORECASE)


class RunawayStep(Exception):
    """A step went past one of this module's bounds; ``element`` is the element that did."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(message)
        self.element = element


def duration_problem(parsed: Mapping[str, float]) -> str | None:
    """Why a duration SpiffWorkflow parsed (``{'years': 1, 'days': 2, ...}``) is too long, or None."""
    months = parsed.get("years", 0) * 12 + parsed.get("months", 0)
    days = (
        parsed.get("weeks", 0) * 7
        + parsed.get("days", 0)
        + parsed.get("hours", 0) / 24
        + parsed.get("minutes", 0) / 1440
        + parsed.get("seconds", 0) / 86400
    )
    if months * 365.25 / 12 + days > MAX_TIMER_DAYS:
        return f"is longer than a timer may wait: at most {MAX_TIMER_YEARS} years"
    return None


def timer_problem(kind: str, value: object) -> str | None:
    """Why ``value`` is outside the bounds of a ``kind`` timer (see the module's docstring), or
    None. A value that is not ISO 8601 at all is :func:`~shared.workflow.expressions.timer_value_problem`'s
    to say; here only what is too long or too short, checked before SpiffWorkflow's own
    arithmetic runs on it."""
    if not isinstance(value, str):
        return None
    if kind == "timeDuration":
        parts = [value.strip()]
    elif kind == "timeCycle":
        parts = value.strip().upper().replace("--", "/").lstrip("R").split("/")[1:]
    else:
        return None
    for part in parts:
        if not _DURATION.match(part.strip()):
            continue
        try:
            parsed = TimerEventDefinition.parse_iso_duration(part.strip())
        except Exception:  # noqa: BLE001 - not a duration: for the format check to say
            return None
        too_long = duration_problem(parsed)
        if too_long:
            return f"'{value}' {too_long}"
    if kind == "timeCycle":
        try:
            _cycles, _start, interval = TimerEventDefinition.parse_iso_recurring_interval(value.strip())
        except Exception:  # noqa: BLE001 - not a repeating interval: for the format check to say
            return None
        if interval < timedelta(seconds=MIN_CYCLE_SECONDS):
            return f"'{value}' repeats every {interval.total_seconds():g} s: at least every {MIN_CYCLE_SECONDS} s"
    return None


def instances_problem(count: object) -> str | None:
    """Why ``count`` instances of one multi-instance activity are too many, or None."""
    if isinstance(count, bool) or not isinstance(count, int):
        return None  # not a count: SpiffWorkflow says so itself
    if count > MAX_INSTANCES:
        return f"{count} instances of one multi-instance activity: at most {MAX_INSTANCES}"
    return None


def _timer_kinds(task: Task, expression: str) -> list[str]:
    definition = getattr(task.task_spec, "event_definition", None)
    definitions = (
        list(definition.event_definitions) if isinstance(definition, MultipleEventDefinition) else [definition]
    )
    return [
        kind
        for d in definitions
        if isinstance(d, TimerEventDefinition) and d.expression == expression
        for cls, kind in TIMER_KINDS.items()
        if isinstance(d, cls)
    ]


def check_evaluated(task: Task, expression: str, value: Any) -> None:
    """Raise :class:`RunawayStep` if ``value``, what ``expression`` gave on ``task``, is a timer's
    value or a multi-instance activity's cardinality past its bounds."""
    name = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    for kind in _timer_kinds(task, expression):
        problem = timer_problem(kind, value)
        if problem:
            raise RunawayStep(name, f"timer {kind} {problem}")
    spec = task.task_spec
    if isinstance(spec, MultiInstanceTask) and getattr(spec, "cardinality", None) == expression:
        problem = instances_problem(value)
        if problem:
            raise RunawayStep(name, problem)


def check_inputs_ahead(task: Task) -> None:
    """Before ``task`` runs: a multi-instance activity after it whose input collection is in the
    data already, and is longer than :data:`MAX_INSTANCES`, stops the step here (SpiffWorkflow
    would make every instance while this task completes)."""
    for spec in task.task_spec.outputs:
        data_input = getattr(spec, "data_input", None) if isinstance(spec, MultiInstanceTask) else None
        if data_input is None:
            continue
        collection = task.data.get(getattr(data_input, "bpmn_id", None))
        if isinstance(collection, (Sequence, Mapping)) and not isinstance(collection, str):
            problem = instances_problem(len(collection))
            if problem:
                raise RunawayStep(getattr(spec, "bpmn_id", None) or spec.name, problem)


class StepBudget:
    """SpiffWorkflow's callbacks around each task one step runs (see the module's docstring). A
    new budget for every step."""

    def __init__(self) -> None:
        self.most, self.many, self.seconds = MAX_TASKS_PER_STEP, MANY_TASKS, STEP_SECONDS
        self.ran = 0
        self.began = time.monotonic()

    def before(self, task: Task) -> None:
        check_inputs_ahead(task)

    def after(self, task: Task) -> None:
        self.ran += 1
        name = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
        if self.ran >= self.most:
            raise RunawayStep(
                name,
                f"the step ran {self.ran} tasks without reaching a wait (a loop that does not end?): "
                f"at most {self.most} a step",
            )
        if self.ran >= self.many and time.monotonic() - self.began >= self.seconds:
            raise RunawayStep(
                name,
                f"the step ran {self.ran} tasks for {self.seconds:g} s without reaching a wait "
                "(a loop that does not end?)",
            )
