"""The evaluator SpiffWorkflow uses for every script and expression of a diagram.

The language is :mod:`shared.restricted` (RestrictedPython: no imports, no dunders, no builtins
that reach the file system, the network or the interpreter; :func:`check` runs the same rules at
deploy time). Every evaluation is contained (:mod:`shared.sandbox`): code that is bounded by
construction runs inline; anything else runs in a sandbox process under a time limit (default 1 s;
an element may ask for more with the ``timeLimit`` property, in seconds, up to a cap) and a memory
limit (default 128 MB). Past a limit the evaluation raises :class:`LimitExceeded`, which the
runtime turns into a failed step naming the element — an incident, never a frozen engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task

from shared import config, restricted, sandbox
from shared.restricted import FORBIDDEN_CALLS, GLOBALS, UnsafeScript, check  # noqa: F401 - re-exported
from shared.sandbox import LimitExceeded, Limits

TIME_LIMIT_PROPERTY = "timeLimit"
_DEFAULTS: tuple[Limits, float] | None = None


def default_limits() -> tuple[Limits, float]:
    """(the default limits, the cap on a diagram's own time limit), from the settings."""
    global _DEFAULTS
    if _DEFAULTS is None:
        settings = config.load()
        _DEFAULTS = (
            Limits(settings.script_time_limit_seconds, settings.script_memory_limit_mb),
            settings.script_time_limit_max_seconds,
        )
    return _DEFAULTS


def requested_time_limit(properties: Mapping[str, object] | None) -> float | None:
    """The time limit an element asks for (``timeLimit`` property), or None; ValueError if it is
    not a positive number of seconds."""
    raw = (properties or {}).get(TIME_LIMIT_PROPERTY)
    if raw in (None, ""):
        return None
    value = float(raw)  # type: ignore[arg-type]  # anything else is the TypeError callers expect
    if not value > 0:
        raise ValueError(f"{TIME_LIMIT_PROPERTY} must be a positive number of seconds, not {raw!r}")
    return value


def limits_for(task: Task) -> Limits:
    """The limits of evaluations done for ``task``: the defaults, or the element's own time
    limit, capped."""
    limits, cap = default_limits()
    spec = getattr(task, "task_spec", None)
    properties = (getattr(spec, "extensions", None) or {}).get("properties") if spec is not None else None
    try:
        asked = requested_time_limit(properties)
    except (TypeError, ValueError):
        asked = None  # refused at deploy; an older version runs with the defaults
    if asked is None:
        return limits
    return Limits(min(asked, cap), limits.memory_mb)


def evaluate(
    expression: str, context: Mapping[str, Any], extra: Mapping[str, Any] | None = None, limits: Limits | None = None
) -> Any:
    """The value of ``expression`` over ``context``, contained."""
    source = expression.strip()
    restricted.check(source, "eval")
    if sandbox.is_bounded(source, "eval"):
        return restricted.evaluate(source, context, extra)
    value, _ = sandbox.pool().run("eval", source, context, extra, limits or default_limits()[0])
    return value


def execute(
    script: str, context: dict[str, Any], extra: Mapping[str, Any] | None = None, limits: Limits | None = None
) -> None:
    """Run ``script`` over ``context`` (changed in place), contained."""
    restricted.check(script, "exec")
    if sandbox.is_bounded(script, "exec"):
        restricted.execute(script, context, extra)
        return
    _, changed = sandbox.pool().run("exec", script, context, extra, limits or default_limits()[0])
    assert changed is not None  # exec answers with the changed context
    context.clear()
    context.update(changed)


class RestrictedEnvironment(TaskDataEnvironment):  # type: ignore[misc]  # SpiffWorkflow ships no types
    """SpiffWorkflow's task-data environment, evaluating through the contained evaluator."""

    def __init__(self, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__({})
        self.extra: Mapping[str, Any] = extra or {}

    def _extra(self, external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        extra = dict(self.extra)
        extra.update(external_context or {})
        return extra

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
        limits: Limits | None = None,
    ) -> Any:
        return evaluate(expression, context, self._extra(external_context), limits)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
        limits: Limits | None = None,
    ) -> bool:
        execute(script, context, self._extra(external_context), limits)
        return True


class ContainedScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # SpiffWorkflow ships no types
    """SpiffWorkflow's script engine, passing each element's limits down to the environment."""

    def evaluate(self, task: Task, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context, limits_for(task))
        except SpiffWorkflowException as se:
            se.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as e:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}'", task=task, exception=e) from e

    def execute(self, task: Task, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        try:
            done: bool = self.environment.execute(script, task.data, external_context or {}, limits_for(task))
            return done
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err


def script_engine(extra: Mapping[str, Any] | None = None) -> PythonScriptEngine:
    return ContainedScriptEngine(environment=RestrictedEnvironment(extra))


__all__ = ["LimitExceeded", "Limits", "UnsafeScript", "check", "evaluate", "execute", "script_engine"]
