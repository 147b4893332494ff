"""Containment: a runaway script or expression of any kind becomes a failed step naming the
element and the limit, within the limit, while the event loop keeps serving everything else."""

from __future__ import annotations

import itertools
import time
from xml.sax.saxutils import escape

import eventlet
import pytest

from shared import evaluator, sandbox
from shared.sandbox import LimitExceeded, Limits, is_bounded
from shared.workflow.parser import parse
from shared.workflow.runtime import StepFailed, WorkflowRuntime
from tests.unit.shared.workflow.bpmn_documents import (
    gateway_process,
    multi_instance_process,
    script_process,
    service_process,
    timer_process,
)

TEST_LIMITS = Limits(seconds=0.3, memory_mb=128)

# The four ways designers' code ran away in the field, as a statement and as an expression.
RUNAWAY_SCRIPTS = {
    "endless loop": "while True: pass",
    "huge power": "x = 10**10**10",
    "huge range": "x = sum(range(10**15))",
    "huge string": "x = 'a' * 10**10",
}
RUNAWAY_EXPRESSIONS = {
    "endless loop": "sum(1 for _ in range(10**18))",
    "huge power": "10**10**10",
    "huge range": "sum(range(10**15))",
    "huge string": "'a' * 10**10",
}


@pytest.fixture(autouse=True)
def short_limits(monkeypatch):
    """A 0.3 s limit keeps the matrix quick; the default (1 s) is the same code path."""
    monkeypatch.setattr(evaluator, "_DEFAULTS", (TEST_LIMITS, 30.0))


def documents(kind: str, case: str) -> tuple[str, str]:
    """(the diagram with the runaway code in an element of ``kind``, that element's id)."""
    expression = escape(RUNAWAY_EXPRESSIONS[case])
    if kind == "script":
        return script_process(escape(RUNAWAY_SCRIPTS[case])), "calc"
    if kind == "condition":
        return gateway_process(condition=expression, script="total = 1"), "decide"
    if kind == "timer":
        return timer_process(duration=expression), "wait"
    if kind == "parameter":
        return service_process(parameter_value=expression.replace('"', "&quot;")), "record"
    if kind == "multi-instance":
        return multi_instance_process(f"<bpmn:loopCardinality>{expression}</bpmn:loopCardinality>"), "each"
    raise AssertionError(kind)


def run_to_wait(document: str):
    (definition,) = parse({"runaway.bpmn": document})
    runtime = WorkflowRuntime()
    workflow = runtime.create(definition.spec, {"price": 1, "quantity": 1})
    return runtime.run(workflow)


# How much later than its limit a runaway may be stopped on a loaded machine (three test lanes on two
# cores): the limit's precision is not what these tests hold; that it ends, and how, is.
SLACK_SECONDS = 10.0


@pytest.mark.parametrize("case", sorted(RUNAWAY_SCRIPTS))
@pytest.mark.parametrize("kind", ["script", "condition", "timer", "parameter", "multi-instance"])
def test_runaway_code_fails_its_step_naming_the_element_and_the_limit(kind, case):
    document, element = documents(kind, case)
    started = time.monotonic()
    with pytest.raises(StepFailed) as failed:
        run_to_wait(document)
    assert failed.value.task_name == element
    assert "limit of" in failed.value.message
    limit = "0.3 s" if "time limit" in failed.value.message else "128 MB"
    assert limit in failed.value.message
    assert time.monotonic() - started < TEST_LIMITS.seconds + SLACK_SECONDS


@pytest.mark.parametrize("kind", ["script", "condition", "timer", "parameter", "multi-instance"])
def test_the_event_loop_goes_on_while_runaway_code_runs_elsewhere(kind, monkeypatch):
    """A 1 s runaway: were it run in this process the loop would stall for the whole second."""
    monkeypatch.setattr(evaluator, "_DEFAULTS", (Limits(seconds=1.0, memory_mb=128), 30.0))
    document, _ = documents(kind, "endless loop" if kind == "script" else "huge range")
    ticks = []

    def ticker():
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    other = eventlet.spawn(ticker)
    try:
        with pytest.raises(StepFailed, match="time limit of 1 s"):
            run_to_wait(document)
    finally:
        other.kill()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10 and max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


def _asking(seconds: str) -> str:
    return script_process("while True: pass").replace(
        '<bpmn:scriptTask id="calc" name="Compute the total">',
        '<bpmn:scriptTask id="calc" name="Compute the total"><bpmn:extensionElements>'
        f'<spiffworkflow:properties><spiffworkflow:property name="timeLimit" value="{seconds}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>",
    )


def test_a_time_limit_an_element_asks_for_is_used():
    started = time.monotonic()
    with pytest.raises(StepFailed, match="time limit of 0.6 s"):
        run_to_wait(_asking("0.6"))
    assert 0.6 <= time.monotonic() - started < 0.6 + SLACK_SECONDS


def test_a_time_limit_above_todays_cap_is_capped_at_run_time(monkeypatch):
    (definition,) = parse({"runaway.bpmn": _asking("20")})  # deployed under a cap of 30
    monkeypatch.setattr(evaluator, "_DEFAULTS", (TEST_LIMITS, 0.5))
    runtime = WorkflowRuntime()
    started = time.monotonic()
    with pytest.raises(StepFailed, match="time limit of 0.5 s"):
        runtime.run(runtime.create(definition.spec, {}))
    assert 0.5 <= time.monotonic() - started < 0.5 + SLACK_SECONDS


def test_code_within_the_limits_gives_the_same_answers_in_the_sandbox():
    context = {"price": 3, "items": [3, 1, 2], "name": "Li"}
    assert not is_bounded("price * 2", "eval")
    assert evaluator.evaluate("price * 2", dict(context)) == 6
    assert evaluator.evaluate("sorted(i * 10 for i in items)", dict(context)) == [10, 20, 30]
    data = dict(context)
    evaluator.execute("total = 0\nfor i in items:\n    total += i * price\ndel name", data)
    assert data == {"price": 3, "items": [3, 1, 2], "total": 18, "i": 2}


def test_the_sandbox_gives_back_the_designers_error_as_its_own_type():
    with pytest.raises(ZeroDivisionError):
        evaluator.evaluate("price * 2 / 0", {"price": 1})
    with pytest.raises(NameError):
        evaluator.evaluate("missing * 2", {})
    with pytest.raises(TypeError, match="not data"):
        evaluator.execute("class Note:\n    pass\nnote = Note()", {})


def test_a_script_that_exits_does_not_take_the_sandbox_down():
    with pytest.raises(sandbox.SandboxError, match="SystemExit"):  # never a SystemExit here
        evaluator.execute("raise SystemExit(3)", {})
    assert evaluator.evaluate("price * 2", {"price": 2}) == 4


def test_a_warmed_sandbox_runs_as_many_scripts_without_starting_a_worker():
    pool = sandbox.Sandbox()
    try:
        pool.warm(2)
        workers = set(pool._all)
        assert len(workers) == 2 and all(w.alive() for w in workers)
        pool.warm(2)  # already warm: nothing more is started
        assert pool._all == workers
        limits = Limits()
        assert pool.run("eval", "price * 2", {"price": 3}, None, limits)[0] == 6
        assert pool._all == workers  # the run took a warm worker and gave it back
    finally:
        pool.close()


def test_ctrl_c_in_the_terminal_leaves_the_sandbox_to_its_service():
    # The terminal's SIGINT reaches every process of the launcher's group; a worker used to die of
    # it with a KeyboardInterrupt traceback while its service was still stopping.
    import os
    import signal
    import time

    pool = sandbox.Sandbox()
    try:
        pool.warm(1)
        [worker] = pool._all
        os.kill(worker.proc.pid, signal.SIGINT)
        time.sleep(0.3)
        assert worker.alive()
        assert pool.run("eval", "price * 2", {"price": 3}, None, Limits())[0] == 6
        assert pool._all == {worker}
    finally:
        pool.close()


@pytest.mark.parametrize(
    "source, mode",
    [
        ("decision == 'not_filed'", "eval"),
        ("len(cosigners) > 0", "eval"),
        ("approved", "eval"),
        ("proposal_id", "eval"),
        ("override_category or reply['category']", "eval"),
        ("any(u == 'transport' for u in units)", "eval"),
        ("extensions = extensions + 1", "exec"),
        ("proposers = [proposer]", "exec"),
        ("round = round + 1\nif round > 2:\n    late = True", "exec"),
    ],
)
def test_the_product_diagrams_everyday_code_runs_inline(source, mode):
    assert is_bounded(source, mode)


@pytest.mark.parametrize(
    "source, mode",
    [
        ("a * b", "eval"),
        ("a ** b", "eval"),
        ("'%0999999999d' % 1", "eval"),
        ("a << b", "eval"),
        ("f'{a:>999999999}'", "eval"),
        ("'x'.ljust(10**10)", "eval"),
        ("pow(10, 10**10)", "eval"),
        ("sum(range(n))", "eval"),
        ("[x for x in items for y in items]", "eval"),
        ("while True: pass", "exec"),
        ("for i in items:\n    s += s", "exec"),
        ("\n".join(["s = s + s"] * 20), "exec"),
        ("def f():\n    return 1", "exec"),
    ],
)
def test_code_that_could_run_away_goes_to_the_sandbox(source, mode):
    assert not is_bounded(source, mode)


def test_limits_exceeded_say_which_limit():
    with pytest.raises(LimitExceeded, match="time limit of 0.3 s"):
        evaluator.evaluate("sum(range(10**15))", {})
    with pytest.raises(LimitExceeded, match="memory limit of 128 MB"):
        evaluator.evaluate("'a' * 10**10", {})


@pytest.mark.parametrize("value", ["0", "-1", "soon", "31"])
def test_a_time_limit_outside_the_cap_is_refused_at_deploy(value):
    from shared.workflow.parser import DiagramError

    document = script_process("done = True").replace(
        '<bpmn:scriptTask id="calc" name="Compute the total">',
        '<bpmn:scriptTask id="calc" name="Compute the total"><bpmn:extensionElements>'
        f'<spiffworkflow:properties><spiffworkflow:property name="timeLimit" value="{value}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>",
    )
    with pytest.raises(DiagramError) as refused:
        parse({"limits.bpmn": document})
    [problem] = refused.value.problems
    assert "timeLimit" in str(problem) and "at most 30" in str(problem) and problem.line


def _paused_for(worker, seconds: float) -> None:
    """Hold ``worker`` off every core for ``seconds`` (as a machine whose cores are all busy
    would), then let it run again."""
    import os
    import signal
    import threading

    def resume() -> None:
        if worker.alive():
            os.kill(worker.proc.pid, signal.SIGCONT)

    os.kill(worker.proc.pid, signal.SIGSTOP)
    timer = threading.Timer(seconds, resume)
    timer.daemon = True
    timer.start()


def test_a_script_kept_off_the_cores_past_its_limit_is_not_stopped_for_that_time():
    """The time limit counts the worker's CPU time: a quick script whose worker got no core for
    longer than its limit (a loaded machine) still answers; a runaway is still stopped."""
    pool = sandbox.Sandbox(max_workers=1)
    try:
        pool.warm(1)
        [worker] = pool._all
        _paused_for(worker, TEST_LIMITS.seconds * 3)
        started = time.monotonic()
        assert pool.run("eval", "price * 2", {"price": 3}, None, TEST_LIMITS)[0] == 6
        assert time.monotonic() - started >= TEST_LIMITS.seconds * 2  # it did wait past the limit
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="time limit"):
            pool.run("exec", "while True: pass", {}, None, TEST_LIMITS)
        assert time.monotonic() - started < TEST_LIMITS.seconds * sandbox.WALL_BACKSTOP_FACTOR + 1
    finally:
        pool.close()


def test_a_worker_that_never_gets_a_core_is_stopped_at_the_backstop():
    pool = sandbox.Sandbox(max_workers=1)
    try:
        pool.warm(1)
        [worker] = pool._all
        _paused_for(worker, 10)  # killed long before
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="time limit"):
            pool.run("eval", "price * 2", {"price": 3}, None, TEST_LIMITS)
        waited = time.monotonic() - started
        assert TEST_LIMITS.seconds * sandbox.WALL_BACKSTOP_FACTOR - 0.05 <= waited < 5
        assert not worker.alive()
    finally:
        pool.close()
