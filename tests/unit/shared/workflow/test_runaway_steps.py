"""What SpiffWorkflow would loop or multiply on is bounded (``shared/workflow/bounds.py``): a
timer's value, a multi-instance activity's count, a step that never reaches a wait. Each is a
failed step naming the element and the bound, at once, never an engine busy for hours; literal
values are refused at deploy."""

from __future__ import annotations

import time

import pytest

from shared.workflow import bounds
from shared.workflow.parser import DiagramError, parse
from shared.workflow.runtime import StepFailed, WorkflowRuntime
from tests.unit.shared.workflow.bpmn_documents import definitions, multi_instance_process, timer_process

# However loaded the machine, a bounded step ends in well under this (unbounded, these ran for hours).
QUICKLY_SECONDS = 20.0


def boundary_cycle_process(cycle: str) -> str:
    """start -> user task ``review`` with a non-interrupting repeating timer ``nag`` -> end."""
    return definitions(f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_review</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review">
      <bpmn:incoming>f_start_review</bpmn:incoming>
      <bpmn:outgoing>f_review_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="nag" name="Nag" attachedToRef="review" cancelActivity="false">
      <bpmn:outgoing>f_nag_noted</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerDef_nag"><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="noted" name="Note the nag">
      <bpmn:incoming>f_nag_noted</bpmn:incoming>
      <bpmn:outgoing>f_noted_end</bpmn:outgoing>
      <bpmn:script>nagged = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f_review_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_nag"><bpmn:incoming>f_noted_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_review" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f_review_end" sourceRef="review" targetRef="end"/>
    <bpmn:sequenceFlow id="f_nag_noted" sourceRef="nag" targetRef="noted"/>
    <bpmn:sequenceFlow id="f_noted_end" sourceRef="noted" targetRef="end_nag"/>
""")


def loop_process(condition: str, maximum: str = "") -> str:
    """start -> script task ``again`` with a standard loop -> end."""
    most = f' loopMaximum="{maximum}"' if maximum else ""
    return definitions(f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_again</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="again" name="Count">
      <bpmn:incoming>f_start_again</bpmn:incoming>
      <bpmn:outgoing>f_again_end</bpmn:outgoing>
      <bpmn:standardLoopCharacteristics{most}><bpmn:loopCondition>{condition}</bpmn:loopCondition></bpmn:standardLoopCharacteristics>
      <bpmn:script>counter = counter + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f_again_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_again" sourceRef="start" targetRef="again"/>
    <bpmn:sequenceFlow id="f_again_end" sourceRef="again" targetRef="end"/>
""")


def run(document: str, data: dict):
    (definition,) = parse({"runaway.bpmn": document})
    runtime = WorkflowRuntime()
    workflow = runtime.create(definition.spec, data)
    return runtime, workflow, runtime.run(workflow)


def fails_quickly(document: str, data: dict, element: str, words: str) -> StepFailed:
    started = time.monotonic()
    with pytest.raises(StepFailed) as failed:
        run(document, data)
    assert failed.value.task_name == element
    assert words in failed.value.message
    assert failed.value.limit_exceeded, "past a bound is the diagram's doing: an incident, never a 400"
    assert time.monotonic() - started < QUICKLY_SECONDS
    return failed.value


# -- at run time: what an expression gave --------------------------------------------------------------


@pytest.mark.parametrize("duration", ["P99999999Y", "P1201M", "P101Y", "P40000D", "PT1000000H"])
def test_a_timer_too_far_ahead_from_the_data_fails_its_step_at_once(duration):
    fails_quickly(timer_process("wait_for"), {"wait_for": duration}, "wait", "at most 100 years")


def test_a_timer_within_the_bound_waits_as_before():
    _, _, state = run(timer_process("wait_for"), {"wait_for": "P100Y"})
    assert state.status == "waiting" and state.next_timer is not None


@pytest.mark.parametrize("cycle", ["R/PT0S", "R100000/PT0S", "R/PT0.5S", "R/P99999999Y"])
def test_a_repeating_timer_that_would_fire_for_ever_or_loop_fails_its_step(cycle):
    failed = fails_quickly(boundary_cycle_process("nag_every"), {"nag_every": cycle}, "nag", "timer timeCycle")
    assert cycle in failed.message


def test_a_repeating_timer_of_a_second_or_more_runs():
    _, _, state = run(boundary_cycle_process("nag_every"), {"nag_every": "R3/PT1H"})
    assert [task.task_name for task in state.user_tasks] == ["review"] and state.next_timer is not None


def test_a_cardinality_past_the_bound_fails_before_any_instance_is_made():
    document = multi_instance_process("<bpmn:loopCardinality>how_many</bpmn:loopCardinality>")
    fails_quickly(document, {"how_many": 10**7}, "each", f"at most {bounds.MAX_INSTANCES}")


def test_an_input_collection_past_the_bound_fails_before_any_instance_is_made():
    document = multi_instance_process("<bpmn:loopDataInputRef>people</bpmn:loopDataInputRef>")
    fails_quickly(document, {"people": list(range(bounds.MAX_INSTANCES + 1))}, "each", "instances of one")


def test_multi_instance_within_the_bound_runs_every_instance():
    document = multi_instance_process("<bpmn:loopCardinality>how_many</bpmn:loopCardinality>")
    _, _, state = run(document, {"how_many": 3})
    assert state.status == "completed"


def test_a_loop_whose_condition_stays_true_fails_its_step_after_the_budget(monkeypatch):
    monkeypatch.setattr(bounds, "MAX_TASKS_PER_STEP", 300)  # the default's path, sooner
    failed = fails_quickly(loop_process("counter &gt;= 0"), {"counter": 0}, "again", "without reaching a wait")
    assert "at most 300 a step" in failed.message


def test_a_loop_still_running_after_many_tasks_and_seconds_fails_its_step(monkeypatch):
    monkeypatch.setattr(bounds, "STEP_SECONDS", 0.5)
    failed = fails_quickly(loop_process("counter &gt;= 0"), {"counter": 0}, "again", "for 0.5 s without reaching")
    assert "ran" in failed.message


def test_one_long_script_is_not_a_runaway_step(monkeypatch):
    monkeypatch.setattr(bounds, "STEP_SECONDS", 0.0)  # every step is past the time: only the tasks count
    _, _, state = run(loop_process("counter &lt; 5"), {"counter": 0})
    assert state.status == "completed"


def test_a_loop_that_ends_runs_to_its_end():
    _, workflow, state = run(loop_process("counter &lt; 5"), {"counter": 0})
    assert state.status == "completed" and workflow.data.get("counter", workflow.last_task.data["counter"]) == 5


# -- at deploy: what is written literally ---------------------------------------------------------------


def problems(document: str) -> list:
    with pytest.raises(DiagramError) as refused:
        parse({"runaway.bpmn": document})
    return refused.value.problems


@pytest.mark.parametrize(
    "document, element, words",
    [
        (timer_process("'P99999999Y'"), "wait", "at most 100 years"),
        (boundary_cycle_process("'R/PT0S'"), "nag", "at least every 1 s"),
        (boundary_cycle_process("'R/P99999999Y'"), "nag", "at most 100 years"),
        (multi_instance_process("<bpmn:loopCardinality>20000</bpmn:loopCardinality>"), "each", "at most 1000"),
        (loop_process("True"), "again", "never stop"),
    ],
)
def test_a_literal_past_a_bound_is_refused_at_deploy_naming_the_element(document, element, words):
    started = time.monotonic()
    [problem] = problems(document)
    assert problem.element_id == element and words in problem.message
    assert time.monotonic() - started < QUICKLY_SECONDS


def test_literals_within_the_bounds_deploy():
    for document in (
        timer_process("'P100Y'"),
        boundary_cycle_process("'R/PT1S'"),
        multi_instance_process("<bpmn:loopCardinality>1000</bpmn:loopCardinality>"),
        loop_process("True", maximum="5"),
    ):
        assert parse({"ok.bpmn": document})
