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

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

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


def requested_time_limit(properties: dict | None) -> float | None:
    """The time limit an element asks for (``timeLimit`` property), or None; ValueError if it is
    not a positive number of seconds."""
    raw = (properties or {}).get(TIME_LIMIT_PROPERTY)
    if raw in (None, ""):
        return None
    value = float(raw)
    if not value > 0:
        raise ValueError(f"{TIME_LIMIT_PROPERTY} must be a positive number of seconds, not {raw!r}")
    return value


def limits_for(task) -> Limits:
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


def evaluate(expression: str, context: dict, extra: dict | None = None, limits: Limits | None = None):
    """The value of ``expression`` over ``context``, contained."""
    source = expression.strip()
    restricted.check(source, "eval")
    if sandbox.is_bounded(source, "eval"):
        return restricted.evaluate(source, context, extra)
    value, _ = sandbox.pool().run("eval", source, context, extra, limits or default_limits()[0])
    return value


def execute(script: str, context: dict, extra: dict | None = None, limits: Limits | None = None) -> None:
    """Run ``script`` over ``context`` (changed in place), contained."""
    restricted.check(script, "exec")
    if sandbox.is_bounded(script, "exec"):
        restricted.execute(script, context, extra)
        return
    _, changed = sandbox.pool().run("exec", script, context, extra, limits or default_limits()[0])
    context.clear()
    context.update(changed)


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, evaluating through the contained evaluator."""

    def __init__(self, extra: dict | None = None):
        super().__init__({})
        self.extra = extra or {}

    def _extra(self, external_context):
        extra = dict(self.extra)
        extra.update(external_context or {})
        return extra

    def evaluate(self, expression, context, external_context=None, limits: Limits | None = None):
        return evaluate(expression, context, self._extra(external_context), limits)

    def execute(self, script, context, external_context=None, limits: Limits | None = None):
        execute(script, context, self._extra(external_context), limits)
        return True


class ContainedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, passing each element's limits down to the environment."""

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context, limits_for(task))
        except SpiffWorkflowException as se:
            se.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as e:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}'", task=task, exception=e) from e

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context or {}, limits_for(task))
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err


def script_engine(extra: dict | None = None) -> PythonScriptEngine:
    return ContainedScriptEngine(environment=RestrictedEnvironment(extra))


__all__ = ["LimitExceeded", "Limits", "UnsafeScript", "check", "evaluate", "execute", "script_engine"]
