"""Designers' scenario files: ``<diagram>.scenarios.yaml`` next to a diagram, run by ``ztc test``.

A scenario says what is given (the start data), what happens (a user task completed with data, a
job answering with a result or a BPMN error, a message arriving, time passing) and what must hold
then (where the instance waits, its variables, whether and where it ended). It runs on the runtime
alone — no database, no broker, no service — with a clock that skips, the job results written in
the file, and a save and restore at every wait. See docs/designing.md for the whole format::

    diagram: smoke.bpmn            # beside this file; default: the file's own stem
    actor: staff.wang              # who completes user tasks unless a step says
    data: {title: Repair the bus shelter, unit: transport, reply_within: P30D}
    steps:                         # named steps a scenario can 'use'
      approved:
        - job: intake.record_submission
          result: {id: 41}
        - task: review
          data: {approved: true}
    scenarios:
      - name: the unit replies in time
        when:
          - use: approved
          - job: assignment.assign_unit
            params: {unit: transport}           # what the job was sent with (these keys at least)
            result: {assignment_id: 7}
          - message: unit_reply
            payload: {text: Repaired}
          - job: evaluation.record_outcome
            params: {outcome: answered}
        then:
          completed: true
          ended_at: [end]

Values may say ``${now}``, ``${now + P60D}`` or ``${now - PT1H}``: the scenario clock's time then.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from shared import clock as clock_module
from shared import yamlio

from . import parser as diagram_parser
from .runtime import StepFailed, WorkflowRuntime
from .testing import Instance, ScenarioFailure

SUFFIX = ".scenarios.yaml"
ACTIONS = ("task", "job", "error", "message", "wait", "use", "then")
CHECKS = (
    "waits_at",
    "waits_only_at",
    "user_tasks",
    "roles",
    "users",
    "jobs",
    "messages",
    "variables",
    "completed",
    "ended_at",
    "next_timer",
)
_NOW = re.compile(r"\$\{\s*now\s*(?:([+-])\s*(P[0-9A-Z.,]+))?\s*\}")
DEFAULT_START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class ScenarioFileError(ValueError):
    """The scenario file itself is wrong (not the diagram): the message says where."""


@dataclass
class Suite:
    """A scenario file and the diagram it tests."""

    path: Path
    diagram_path: Path
    definition: diagram_parser.ProcessDefinition
    actor: str
    data: dict[str, Any]
    steps: dict[str, Any]  # named steps, as the file writes them
    scenarios: list[dict[str, Any]]
    start: datetime = DEFAULT_START

    @property
    def name(self) -> str:
        return self.diagram_path.name


@dataclass
class Result:
    scenario: str
    passed: bool
    message: str = ""
    step: int | None = None  # 1-based index of the failing step ("when"), 0 for the start
    reached: set[str] = field(default_factory=set)
    flows: set[tuple[str, str]] = field(default_factory=set)  # (source, target) of each step taken
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "passed": self.passed,
            "message": self.message,
            "step": self.step,
            "seconds": round(self.seconds, 3),
        }


# -- loading ------------------------------------------------------------------------------------------


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The scenario files named by ``paths``: a scenario file, a diagram (its ``.scenarios.yaml``
    beside it), or a directory (every scenario file in it)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(path.glob(f"*{SUFFIX}")))
        elif path.name.endswith(SUFFIX):
            found.append(path)
        elif path.suffix == ".bpmn":
            beside = path.with_name(path.stem + SUFFIX)
            if not beside.exists():
                raise ScenarioFileError(f"{path}: no scenario file beside it ({beside.name})")
            found.append(beside)
        else:
            raise ScenarioFileError(f"{path}: neither a diagram, a scenario file nor a directory")
    return list(dict.fromkeys(found))


def load(path: str | os.PathLike[str], files: Mapping[str, bytes | str] | None = None) -> Suite:
    """Read a scenario file and parse its diagram (``files`` replaces the diagram's content: a
    changed copy to test, as the mutation tests do)."""
    path = Path(path)
    try:
        raw = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ScenarioFileError(f"{path}: not YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("scenarios"), list):
        raise ScenarioFileError(f"{path}: needs a list 'scenarios'")
    diagram_path = path.with_name(raw.get("diagram") or path.name[: -len(SUFFIX)] + ".bpmn")
    if files is None:
        if not diagram_path.exists():
            raise ScenarioFileError(f"{path}: its diagram {diagram_path.name} is not beside it")
        files = {diagram_path.name: diagram_path.read_bytes()}
    try:
        definitions = diagram_parser.parse(files)
    except diagram_parser.DiagramError as exc:
        raise ScenarioFileError(
            f"{diagram_path.name} would be refused at deploy:\n  - " + "\n  - ".join(str(p) for p in exc.problems)
        ) from None
    wanted = raw.get("process")
    chosen = [d for d in definitions if wanted in (None, d.process_id)]
    if not chosen:
        raise ScenarioFileError(f"{path}: {diagram_path.name} has no executable process '{wanted}'")
    if len(chosen) > 1:
        raise ScenarioFileError(f"{path}: {diagram_path.name} has several processes; say which: process: ID")
    start = raw.get("clock")
    suite = Suite(
        path=path,
        diagram_path=diagram_path,
        definition=chosen[0],
        actor=raw.get("actor") or "designer",
        data=dict(raw.get("data") or {}),
        steps=dict(raw.get("steps") or {}),
        scenarios=raw["scenarios"],
        start=_datetime(start) if start else DEFAULT_START,
    )
    for n, scenario in enumerate(suite.scenarios, 1):
        if not isinstance(scenario, dict) or not scenario.get("name"):
            raise ScenarioFileError(f"{path}: scenario {n} needs a name")
        unknown = set(scenario) - {"name", "given", "when", "then"}
        if unknown:
            raise ScenarioFileError(
                f"{path}: scenario '{scenario['name']}': unknown keys {sorted(unknown)} "
                "(a scenario has name, given, when, then)"
            )
    return suite


def _datetime(value: object) -> datetime:
    return clock_module.as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


# -- values -----------------------------------------------------------------------------------------------


def _duration(now: datetime, text: str) -> timedelta:
    parsed = TimerEventDefinition.parse_iso_duration(text)
    delta: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed, now)
    return delta


def render(value: Any, now: datetime) -> Any:  # a YAML value, with its times filled in
    """``value`` with every ``${now ± duration}`` replaced by that time (ISO 8601)."""
    if isinstance(value, str):

        def one(m: re.Match[str]) -> str:
            when = now
            if m.group(2):
                delta = _duration(now, m.group(2))
                when = now + delta if m.group(1) == "+" else now - delta
            return when.isoformat()

        return _NOW.sub(one, value)
    if isinstance(value, dict):
        return {k: render(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, now) for v in value]
    return value


# -- running ----------------------------------------------------------------------------------------------


def _expand(steps: Iterable[Any] | None, suite: Suite, seen: tuple[str, ...] = ()) -> list[Any]:
    """Steps with ``use`` replaced by the named steps, and nested lists (YAML anchors) flattened."""
    out: list[Any] = []
    for step in steps or []:
        if isinstance(step, list):
            out.extend(_expand(step, suite, seen))
        elif isinstance(step, dict) and "use" in step:
            name = step["use"]
            if name not in suite.steps:
                raise ScenarioFileError(f"use: '{name}' names no steps (known: {sorted(suite.steps)})")
            if name in seen:
                raise ScenarioFileError(f"use: '{name}' uses itself")
            out.extend(_expand(suite.steps[name], suite, (*seen, name)))
        else:
            out.append(step)
    return out


def _describe(step: Any) -> str:
    kind = next((k for k in ACTIONS if k in step), None)
    if kind == "then":
        return "then"
    return f"{kind} {step[kind]}" if kind else str(step)


def run(suite: Suite, scenario: Mapping[str, Any], runtime: WorkflowRuntime | None = None) -> Result:
    """Run one scenario of ``suite``; a failure is reported, never raised."""
    name = scenario["name"]
    started = time.monotonic()
    fake = clock_module.SkippingClock(suite.start)
    previous = clock_module.install(fake)
    instance = None
    index: int | None = 0
    try:
        given = scenario.get("given") or {}
        actor = given.get("actor") or suite.actor
        data = {**suite.data, **(given.get("data") or {})}
        for key in given.get("without") or []:
            data.pop(key, None)
        data = render(data, fake.now())
        expected_failure = given.get("fails")
        try:
            instance = Instance(fake, suite.definition, data, version_key=f"scenario:{suite.path}", runtime=runtime)
            instance.default_actor = actor
        except StepFailed as exc:
            if expected_failure:
                _check_failure(exc, expected_failure)
                return Result(name, True, seconds=time.monotonic() - started)
            raise
        if expected_failure:
            raise ScenarioFailure(
                f"the start was expected to fail at '{expected_failure.get('element')}', but it did not"
            )
        for index, step in enumerate(_expand(scenario.get("when"), suite), 1):  # noqa: B007 (read by the except clause)
            _step(instance, step, fake)
        index = None
        check(instance, render(scenario.get("then") or {}, fake.now()))
        return Result(
            name, True, reached=instance.reached, flows=instance.reached_flows, seconds=time.monotonic() - started
        )
    except (ScenarioFailure, StepFailed, ValidationError, ScenarioFileError, KeyError, TypeError, ValueError) as exc:
        where = "then" if index is None else (f"step {index}" if index else "the start")
        message: object = exc.messages if isinstance(exc, ValidationError) else exc
        if isinstance(exc, ValidationError):
            message = f"the form refused the data: {message}"
        return Result(
            name,
            False,
            f"{where}: {message}",
            step=index,
            reached=instance.reached if instance else set(),
            flows=instance.reached_flows if instance else set(),
            seconds=time.monotonic() - started,
        )
    finally:
        clock_module.install(previous)


def _check_failure(exc: StepFailed, expected: Mapping[str, Any]) -> None:
    element = expected.get("element")
    if element and exc.task_name != element:
        raise ScenarioFailure(f"failed at '{exc.task_name}', not at '{element}': {exc}")
    text = expected.get("message")
    if text and text not in str(exc):
        raise ScenarioFailure(f"failed without '{text}' in the reason: {exc}")


def _step(instance: Instance, step: Any, clock: clock_module.Clock) -> None:
    if not isinstance(step, dict):
        raise ScenarioFileError(f"a step must be a mapping such as 'task: ID', not {step!r}")
    step = render(step, clock.now())
    kinds = [k for k in ACTIONS if k in step]
    if len(kinds) != 1:
        raise ScenarioFileError(f"a step names one of {', '.join(ACTIONS)}; this one names {kinds or 'none'}: {step}")
    kind = kinds[0]
    expected_failure = step.get("fails")
    try:
        if kind == "task":
            _task(instance, step)
        elif kind == "job":
            _params(step, instance.job(step["job"], step.get("result")))
        elif kind == "error":
            _params(
                step,
                instance.error(
                    step["error"], step.get("code") or step["error"], step.get("reason"), step.get("caught", True)
                ),
            )
        elif kind == "message":
            instance.message(step["message"], step.get("payload"))
        elif kind == "wait":
            instance.timers(seconds=_duration(clock.now(), str(step["wait"])).total_seconds())
        elif kind == "then":
            check(instance, step["then"] or {})
    except StepFailed as exc:
        if not expected_failure:
            raise
        _check_failure(exc, expected_failure)
        return
    if expected_failure:
        raise ScenarioFailure(
            f"'{_describe(step)}' was expected to fail at '{expected_failure.get('element')}', but it did not"
        )


def _task(instance: Instance, step: Mapping[str, Any]) -> None:
    """Complete the task; with ``refused: {field: text}`` its form must refuse the data instead,
    naming each field (with ``text`` in what it says of it, if given), and the task stays open."""
    refused = step.get("refused")
    if refused is not None and not isinstance(refused, Mapping):
        raise ScenarioFileError(f"'refused' names the fields the form refuses, e.g. {{approved: required}}: {step}")
    try:
        instance.task(step["task"], step.get("data") or {}, step.get("actor"))
    except ValidationError as exc:
        if refused is None:
            raise
        said = exc.messages if isinstance(exc.messages, Mapping) else {"_schema": exc.messages}
        for name, text in refused.items():
            if name not in said:
                raise ScenarioFailure(f"the form refused {said}, but not '{name}'") from None
            if text and str(text) not in str(said[name]):
                raise ScenarioFailure(f"the form refused '{name}' without '{text}': {said[name]}") from None
        return
    if refused is not None:
        raise ScenarioFailure(
            f"the form of '{step['task']}' was expected to refuse {sorted(refused)}, but took the data"
        )


def _params(step: Any, params: Any) -> None:
    expected = step.get("params")
    if expected is None:
        return
    wrong = {k: _lookup(params, k) for k, v in expected.items() if _lookup(params, k) != v}
    if wrong:
        raise ScenarioFailure(
            f"the job '{step.get('job') or step.get('error')}' was sent with "
            + ", ".join(f"{k}={v!r} (expected {expected[k]!r})" for k, v in wrong.items())
        )


def check(instance: Instance, then: Mapping[str, Any]) -> None:
    """What must hold now: raise ScenarioFailure naming what differs."""
    unknown = set(then) - set(CHECKS)
    if unknown:
        raise ScenarioFileError(f"unknown checks {sorted(unknown)} (known: {', '.join(CHECKS)})")
    wait = instance.wait_state()
    waiting = set(wait.waiting_tasks)
    problems = []
    if "waits_at" in then and not set(then["waits_at"]) <= waiting:
        problems.append(f"waits at {sorted(waiting) or 'nothing'}, not at {sorted(set(then['waits_at']) - waiting)}")
    if "waits_only_at" in then and set(then["waits_only_at"]) != waiting:
        problems.append(f"waits at {sorted(waiting) or 'nothing'}, expected exactly {sorted(then['waits_only_at'])}")
    names = [u.task_name for u in wait.user_tasks]
    if "user_tasks" in then and names != list(then["user_tasks"]):
        problems.append(f"open user tasks are {names}, expected {list(then['user_tasks'])}")
    if "roles" in then:
        roles = [u.properties.get("candidateRole") or u.lane for u in wait.user_tasks]
        if roles != list(then["roles"]):
            problems.append(f"open user tasks are for roles {roles}, expected {list(then['roles'])}")
    if "users" in then:
        users = [instance.candidate_user(u) for u in wait.user_tasks]
        if users != list(then["users"]):
            problems.append(f"open user tasks are for users {users}, expected {list(then['users'])}")
    if "jobs" in then:
        jobs = [j.operation for j in wait.new_jobs]
        if jobs != list(then["jobs"]):
            problems.append(f"jobs waiting to be answered are {jobs}, expected {list(then['jobs'])}")
    if "messages" in then and sorted(wait.waiting_messages) != sorted(then["messages"]):
        problems.append(f"waits for messages {wait.waiting_messages}, expected {sorted(then['messages'])}")
    if "variables" in then:
        data = instance.data
        for key, value in then["variables"].items():
            found = _lookup(data, key)
            if found != value:
                problems.append(f"variable {key} is {found!r}, expected {value!r}")
    if "completed" in then and bool(then["completed"]) != instance.done:
        problems.append(
            "the instance completed"
            if instance.done
            else f"the instance has not completed: it waits at {sorted(waiting) or 'nothing'}"
        )
    if "ended_at" in then and instance.ended_at() != set(then["ended_at"]):
        problems.append(
            f"ended at {sorted(instance.ended_at()) or 'no end event'}, expected {sorted(then['ended_at'])}"
        )
    if "next_timer" in then:
        due = wait.next_timer.isoformat() if wait.next_timer else None
        expected = then["next_timer"]
        if (due and expected and _datetime(due) != _datetime(expected)) or (bool(due) != bool(expected)):
            problems.append(f"the next timer is due {due}, expected {expected}")
    if problems:
        raise ScenarioFailure("; ".join(problems))


_MISSING = "(not set)"


def _lookup(data: object, dotted: str) -> object:
    """``a.b.0.c`` in nested dicts and lists."""
    value = data
    for part in str(dotted).split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def run_suite(suite: Suite, only: str | None = None, runtime: WorkflowRuntime | None = None) -> list[Result]:
    return [run(suite, s, runtime) for s in suite.scenarios if not only or only.lower() in s["name"].lower()]
