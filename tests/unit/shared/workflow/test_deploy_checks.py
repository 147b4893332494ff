"""The deploy checks: every problem of a diagram in one run, each with line, id, label and a hint."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from services.ztc.cli import main as ztc
from shared.workflow import expressions
from shared.workflow.lint import RULES, lint
from shared.workflow.parser import DiagramError, DiagramProblem, _spiff_problem, parse
from shared.workflow.problems import Document
from shared.workflow.runtime import StepFailed, WorkflowRuntime, failing_element

from .bpmn_documents import HEAD, definitions, line_of, script_process, timer_process

REPO = Path(__file__).resolve().parents[4]


def _problems(files: dict) -> list[DiagramProblem]:
    with pytest.raises(DiagramError) as info:
        parse(files)
    problems = info.value.problems
    assert problems and all(p.line for p in problems), problems
    return problems


def _by_id(problems) -> dict:
    return {p.element_id: p for p in problems}


def gateway_with(condition: str, default: str | None = "f_no", language: str = "") -> str:
    """start -> gateway ``decide`` -> ``f_yes`` (conditional) / ``f_no`` -> end."""
    lang = f' xsi:type="bpmn:tFormalExpression" language="{language}"' if language else ""
    default_attr = f' default="{default}"' if default else ""
    return definitions(f"""\
    <bpmn:startEvent id="start" name="Asked"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="decide" name="Approved?"{default_attr}/>
    <bpmn:endEvent id="end_yes" name="Done"/>
    <bpmn:endEvent id="end_no" name="Declined"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="f_yes" name="yes" sourceRef="decide" targetRef="end_yes">
      <bpmn:conditionExpression{lang}>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" name="no" sourceRef="decide" targetRef="end_no"/>
""").replace("xmlns:bpmn=", 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:bpmn=', 1)


# -- 1. every problem at once -------------------------------------------------------------------------

FOUR_MISTAKES = definitions("""\
    <bpmn:startEvent id="start" name="Submitted"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="record" name="Record the submission">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="record_submission" resultVariable="submission">
          <spiffworkflow:parameters/>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:exclusiveGateway id="decide" name="Approved?" default="f_no"/>
    <bpmn:intermediateCatchEvent id="wait" name="Three days pass">
      <bpmn:timerEventDefinition id="TimerDef_wait"><bpmn:timeDuration>'P3 days'</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end" name="Done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="record"/>
    <bpmn:sequenceFlow id="f2" sourceRef="record" targetRef="decide"/>
    <bpmn:sequenceFlow id="f_yes" name="yes" sourceRef="decide" targetRef="wait">
      <bpmn:conditionExpression>=approved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" name="no" sourceRef="decide" targetRef="end"/>
    <bpmn:sequenceFlow id="f_wait_end" sourceRef="wait" targetRef="end"/>
    <bpmn:sequenceFlow id="f_lost" name="escalate" sourceRef="wait" targetRef="Activity_gone"/>
""")


def test_a_diagram_with_several_mistakes_is_refused_in_one_run_listing_every_one():
    problems = _problems({"four.bpmn": FOUR_MISTAKES})
    found = _by_id(problems)
    assert set(found) == {"record", "f_yes", "wait", "f_lost"}, problems
    expected = {
        "record": ('<bpmn:serviceTask id="record"', "Record the submission", "bpmn:serviceTask"),
        "f_yes": ('<bpmn:sequenceFlow id="f_yes"', "yes (Approved? → Three days pass)", "bpmn:sequenceFlow"),
        "wait": ('<bpmn:intermediateCatchEvent id="wait"', "Three days pass", "bpmn:intermediateCatchEvent"),
        "f_lost": ('<bpmn:sequenceFlow id="f_lost"', "escalate (Three days pass → Activity_gone)", "bpmn:sequenceFlow"),
    }
    for element_id, (fragment, label, kind) in expected.items():
        problem = found[element_id]
        assert problem.file == "four.bpmn"
        assert problem.line == line_of(FOUR_MISTAKES, fragment), problem
        assert problem.label == label and problem.element_type == kind
        assert problem.hint, problem
    assert "'<service>.<operation>'" in found["record"].message
    assert "FEEL" in found["f_yes"].message and found["f_yes"].hint.endswith(": approved")
    assert "P3 days" in found["wait"].message and "'P3D'" in found["wait"].hint
    assert "Activity_gone" in found["f_lost"].message


def test_a_problem_reads_as_file_line_element_label_type_message_and_hint():
    problem = DiagramProblem(
        "a.bpmn", "Flow_1", "bpmn:sequenceFlow", "leads nowhere", 12, "yes (Approved? → Archive)", "reconnect it"
    )
    assert str(problem) == (
        "a.bpmn:12: element 'Flow_1' \"yes (Approved? → Archive)\" (bpmn:sequenceFlow) leads nowhere — reconnect it"
    )
    assert str(DiagramProblem("a.bpmn", "", "", "no executable process")) == "a.bpmn: no executable process"
    assert problem.to_dict()["label"] == "yes (Approved? → Archive)"
    assert problem.to_dict()["hint"] == "reconnect it"


def test_our_checks_and_spiffworkflow_both_report_without_repeating_the_same_cause():
    # A service task without an operator: we and SpiffWorkflow both see it; one problem remains.
    # The callActivity calling a process that is in none of the files: only SpiffWorkflow sees it.
    document = definitions("""\
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="pay" name="Pay"/>
    <bpmn:callActivity id="call" name="Ask the unit" calledElement="elsewhere"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="pay"/>
    <bpmn:sequenceFlow id="f3" sourceRef="pay" targetRef="end"/>
""")
    problems = _problems({"calls.bpmn": document})
    assert [p.element_id for p in problems].count("pay") == 1, problems
    call = _by_id(problems)["call"]
    assert "'elsewhere'" in call.message and call.line == line_of(document, '<bpmn:callActivity id="call"')


def _operator_task(task_id: str, operation: str) -> str:
    return definitions(f"""\
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="{task_id}" name="Do it">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="out">
          <spiffworkflow:parameters/>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{task_id}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="{task_id}" targetRef="end"/>
""")


@pytest.mark.parametrize(
    ("operation", "hint"),
    [
        ("assign_unit", "write 'assignment.assign_unit'"),  # the service left out
        ("record_submission", "write 'intake.record_submission'"),
        ("asignment.assign_unit", "write 'assignment.assign_unit'"),  # the service misspelt
        ("intak.record_submision", "did you mean 'intake.record_submission'?"),  # and the operation
        ("nothing_like_it", "e.g. intake.record_submission"),
    ],
)
def test_an_operation_without_its_service_is_refused_once_with_the_name_to_write(operation, hint):
    # The task's id is the operation's own name, as designers coming from other modelers write it:
    # SpiffWorkflow then found the operation's node by the task's id and added "There is no support
    # implemented for this task type" for the same element.
    problems = _problems({"op.bpmn": _operator_task(operation.split(".")[-1], operation)})
    assert len(problems) == 1, problems
    [problem] = problems
    assert problem.code == "service-operation-name" and problem.hint == hint
    assert "no support" not in str(problem)


# -- 2. every refusal has a line ----------------------------------------------------------------------


def test_a_spiffworkflow_problem_without_a_line_gets_the_line_of_the_element_it_names():
    doc = Document("x.bpmn", _root(FOUR_MISTAKES), FOUR_MISTAKES)
    problem = _spiff_problem(ValidationException("Something odd", id="decide"), doc)
    assert problem.element_id == "decide" and problem.label == "Approved?"
    assert problem.line == line_of(FOUR_MISTAKES, '<bpmn:exclusiveGateway id="decide"')
    assert problem.hint


def test_a_spiffworkflow_problem_naming_no_element_gets_the_line_of_its_process_else_of_the_root():
    doc = Document("x.bpmn", _root(FOUR_MISTAKES), FOUR_MISTAKES)
    process = doc.by_id["proposal"]
    about_process = _spiff_problem(ValidationException("Signal identifier is missing"), doc, process)
    assert about_process.element_id == "proposal"
    assert about_process.line == line_of(FOUR_MISTAKES, '<bpmn:process id="proposal"')
    about_file = _spiff_problem(ValueError("boom"), doc)
    assert about_file.line == line_of(FOUR_MISTAKES, "<bpmn:definitions") and "ValueError" in about_file.message


def _root(document):
    from lxml import etree

    return etree.fromstring(document.encode())


# -- 3. FEEL, JUEL and XPath ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition, language, python",
    [
        ("=approved", "FEEL", "approved"),
        ("= x > 3", "FEEL", "x > 3"),
        ("=not(approved)", "FEEL", "not approved"),
        ('= some risk in risks satisfies risk = "red"', "FEEL", 'any(risk == "red" for risk in risks)'),
        ("${approved}", "JUEL", "approved"),
        ("${!approved}", "JUEL", "not approved"),
        ("#{a == 'x'}", "JUEL", "a == 'x'"),
        ("${a == 'x' && b}", "JUEL", "a == 'x' and b"),
        ("${a || !b}", "JUEL", "a or not b"),
        ("${clarified eq null}", "JUEL", "clarified is None"),
        ("bpmn:getDataObject('approved')", "XPath", "approved"),
        ("not(bpmn:getDataObject('approved'))", "XPath", "not approved"),
        ("bpmn:getDataObject('clarified') = 'no'", "XPath", "clarified == 'no'"),
    ],
)
def test_a_condition_in_another_language_is_answered_with_the_python_to_write(condition, language, python):
    document = gateway_with(condition)
    [problem] = _problems({"lang.bpmn": document})
    assert problem.element_id == "f_yes" and problem.code == "expression-language"
    assert language in problem.message and "Python" in problem.message
    assert "invalid syntax" not in str(problem)
    assert problem.hint == f"write it in Python: {python}"
    # ...and the Python it suggests deploys.
    (definition,) = parse({"lang.bpmn": gateway_with(python)})
    assert definition.process_id == "proposal"


def test_a_declared_feel_condition_with_names_with_spaces_gets_a_python_name():
    [problem] = _problems(
        {
            "feel.bpmn": gateway_with(
                'Vacation Approval = "Approved"', language="https://www.omg.org/spec/DMN/20191111/FEEL/"
            )
        }
    )
    assert "FEEL" in problem.message
    assert 'vacation_approval == "Approved"' in problem.hint and "one name" in problem.hint


def test_a_foreign_condition_without_an_exact_translation_still_says_what_to_write():
    [problem] = _problems({"feel.bpmn": gateway_with("= if a then b else c")})
    assert "FEEL" in problem.message and "Python expression" in problem.hint


def test_python_is_python_whatever_the_file_declares():
    assert expressions.foreign("not(approved)", "http://www.w3.org/1999/XPath") is None
    assert expressions.foreign("amount > 1000", "https://www.omg.org/spec/DMN/20191111/FEEL/") is None
    (definition,) = parse({"py.bpmn": gateway_with("not(approved)", language="http://www.w3.org/1999/XPath")})
    assert definition.process_id == "proposal"


def test_a_plain_python_syntax_error_is_still_refused_with_a_hint():
    [problem] = _problems({"bad.bpmn": gateway_with("approved ==")})
    assert "syntax" in problem.message and problem.hint


# -- 4. timers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, value",
    [
        ("timeDuration", "'P3D'"),
        ("timeDuration", "'PT1H30M'"),
        ("timeDuration", '"P1DT12H"'),
        ("timeDate", "'2026-05-01T09:00:00+08:00'"),
        ("timeDate", "'2026-05-01'"),
        ("timeCycle", "'R3/PT1H'"),
        ("timeCycle", "'R/P1D'"),
        ("timeDuration", "reply_within"),
        ("timeDate", "dispatching['take_due']"),
        ("timeDuration", "'P' + str(days) + 'D'"),
    ],
)
def test_valid_timer_literals_and_expressions_deploy(kind, value):
    document = timer_process(escape(value)).replace("timeDuration", kind)
    (definition,) = parse({"timer.bpmn": document})
    assert definition.process_id == "proposal"


@pytest.mark.parametrize(
    "kind, value, hint",
    [
        ("timeDuration", "'P3 days'", "write 'P3D'"),
        ("timeDuration", "'3 days'", "write 'P3D'"),
        ("timeDuration", "'PT'", "'PT4H'"),
        ("timeDate", "'P3D'", "'2026-05-01T09:00:00+08:00'"),
        ("timeDate", "'tomorrow'", "'2026-05-01T09:00:00+08:00'"),
        ("timeCycle", "'P1D'", "'R3/PT1H'"),
        ("timeCycle", "'R3/every hour'", "'R3/PT1H'"),
    ],
)
def test_a_timer_literal_that_is_not_iso_8601_is_refused_with_a_valid_one(kind, value, hint):
    document = timer_process(escape(value)).replace("timeDuration", kind)
    [problem] = _problems({"timer.bpmn": document})
    assert problem.element_id == "wait" and problem.label == "Wait for the deadline"
    assert problem.element_type == "bpmn:intermediateCatchEvent"
    assert problem.line == line_of(document, '<bpmn:intermediateCatchEvent id="wait"')
    assert kind in problem.message and hint in problem.hint


def test_timer_literals_are_checked_with_spiffworkflows_own_parsers():
    # SpiffWorkflow's duration parser refuses what ours refuses, and the same runs the timers.
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    with pytest.raises(Exception, match="Invalid duration"):
        TimerEventDefinition.parse_iso_duration("P3 days")
    assert expressions.timer_value_problem("timeDuration", "P3 days")
    assert expressions.timer_value_problem("timeDuration", "P3D") is None
    assert expressions.timer_value_problem("timeCycle", "R3/PT1H") is None


@pytest.mark.parametrize(
    "kind, value",
    [("timeDuration", "P7D"), ("timeDuration", "PT2H"), ("timeCycle", "R6/P1D"), ("timeDate", "2026-05-01T09:00:00")],
)
def test_an_unquoted_iso_value_is_refused_asking_for_a_string(kind, value):
    document = timer_process(value).replace("timeDuration", kind)
    [problem] = _problems({"timer.bpmn": document})
    assert problem.element_id == "wait" and "not quoted" in problem.message
    assert problem.hint == f"write it as a string: '{value}'"


def test_an_unquoted_value_gone_wrong_is_refused_as_a_timer_not_as_bare_syntax():
    [problem] = _problems({"timer.bpmn": timer_process("P3 days")})
    assert problem.element_id == "wait" and problem.code == "timer"
    assert "write it as a string" in problem.hint and "'P3D'" in problem.hint


def test_a_timer_without_a_time_is_refused_once_naming_the_event():
    document = timer_process().replace("<bpmn:timeDuration>'PT1H'</bpmn:timeDuration>", "")
    [problem] = _problems({"timer.bpmn": document})
    assert problem.element_id == "wait" and "no time" in problem.message


def test_a_timer_expression_over_variables_is_compiled_only():
    [problem] = _problems({"timer.bpmn": timer_process("deadline.__class__")})
    assert problem.element_id == "wait" and "__class__" in problem.message


# -- 5. dangling flows and tasks with several ways out ---------------------------------------------


def _dangling(source="calc", target="end"):
    return definitions(f"""\
    <bpmn:startEvent id="start" name="Begin"/>
    <bpmn:scriptTask id="calc" name="Compute the total"><bpmn:script>total = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end" name="Done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <bpmn:sequenceFlow id="Flow_0x7" name="then" sourceRef="{source}" targetRef="{target}"/>
""")


@pytest.mark.parametrize(
    "source, target, missing, role",
    [
        ("calc", "Activity_deleted", "Activity_deleted", "leads to"),
        ("Gateway_deleted", "end", "Gateway_deleted", "comes from"),
    ],
)
def test_a_dangling_flow_is_refused_naming_the_flow_and_the_missing_element(source, target, missing, role):
    document = _dangling(source, target)
    problems = _problems({"dangling.bpmn": document})
    flow = _by_id(problems)["Flow_0x7"]
    assert flow.element_type == "bpmn:sequenceFlow"
    assert flow.label.startswith("then (") and missing in flow.label
    assert f"{role} '{missing}'" in flow.message and "not an element of its process" in flow.message
    assert flow.line == line_of(document, '<bpmn:sequenceFlow id="Flow_0x7"')
    assert flow.hint
    assert not any("perhaps a form" in str(p) for p in problems)


def test_a_flow_into_another_pool_is_refused_suggesting_a_message_flow():
    document = (
        HEAD
        + """\
  <bpmn:process id="a" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>
    <bpmn:sequenceFlow id="f_out" sourceRef="start" targetRef="theirs"/>
  </bpmn:process>
  <bpmn:process id="b" isExecutable="false"><bpmn:task id="theirs" name="Their task"/></bpmn:process>
</bpmn:definitions>
"""
    )
    problems = _problems({"pools.bpmn": document})
    flow = _by_id(problems)["f_out"]
    assert "another process" in flow.message and "message flow" in flow.hint


def test_spiffworkflows_misleading_dangling_flow_message_is_rewritten():
    doc = Document("d.bpmn", _root(_dangling("calc", "Activity_deleted")), _dangling("calc", "Activity_deleted"))
    raw = ValidationException(
        "When looking for a task spec, we found two items, perhaps a form has the same ID? (Activity_deleted)",
        id="calc",
        tag="bpmn:scriptTask",
    )
    problem = _spiff_problem(raw, doc)
    assert problem.element_id == "Flow_0x7" and "perhaps" not in str(problem)
    assert "'Activity_deleted'" in problem.message and problem.code == "dangling-flow"


SPLIT = definitions("""\
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review"/>
    <bpmn:endEvent id="end_a" name="Archived"/><bpmn:endEvent id="end_b" name="Published"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end_a"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end_b"/>
""")


def test_a_task_with_several_outgoing_flows_is_refused_in_a_full_sentence_with_the_fix():
    [problem] = _problems({"split.bpmn": SPLIT})
    assert problem.element_id == "review" and problem.label == "Review"
    assert problem.message == (
        'has 2 outgoing flows (to "Archived", "Published"), but a bpmn:userTask can leave by one flow only'
    )
    assert "gateway" in problem.hint


def test_spiffworkflows_cut_off_multiple_flows_message_is_rewritten():
    doc = Document("split.bpmn", _root(SPLIT), SPLIT)
    raw = ValidationException(
        "Multiple outgoing flows are not supported for tasks of type", id="review", tag="bpmn:userTask"
    )
    problem = _spiff_problem(raw, doc)
    assert not problem.message.endswith("of type")
    assert "bpmn:userTask" in problem.message and "parallel gateway" in problem.hint
    assert problem.line == line_of(SPLIT, '<bpmn:userTask id="review"')


# -- 6. candidate and multi-instance expressions -------------------------------------------------------


def _user_task(properties: str = "", loop: str = "") -> str:
    return definitions(f"""\
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review the proposal">
      <bpmn:extensionElements><spiffworkflow:properties>{properties}</spiffworkflow:properties></bpmn:extensionElements>
      {loop}
    </bpmn:userTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
""")


@pytest.mark.parametrize("name", ["candidateUnit", "candidateUser"])
def test_candidate_expressions_are_compiled_at_deploy(name):
    (ok,) = parse({"ok.bpmn": _user_task(f'<spiffworkflow:property name="{name}" value="proposal[\'unit\']"/>')})
    assert ok.process_id == "proposal"
    [problem] = _problems({"bad.bpmn": _user_task(f'<spiffworkflow:property name="{name}" value="unit.__class__"/>')})
    assert problem.element_id == "review" and name in problem.message and "__class__" in problem.message
    [foreign] = _problems({"juel.bpmn": _user_task(f'<spiffworkflow:property name="{name}" value="${{unit}}"/>')})
    assert "JUEL" in foreign.message and foreign.hint == "write it in Python: unit"


def test_an_unknown_form_schema_is_refused_with_the_others_and_a_line():
    document = _user_task(
        '<spiffworkflow:property name="formSchema" value="smoke.appeal"/>'
        '<spiffworkflow:property name="candidateUser" value="open(1)"/>'
    )
    problems = _problems({"form.bpmn": document})
    assert len(problems) == 2
    form = next(p for p in problems if p.code == "form-schema")
    assert "'smoke.appeal'" in form.message and "smoke.review" in form.hint


@pytest.mark.parametrize(
    "loop, named",
    [
        ("<bpmn:loopCardinality>open('x')</bpmn:loopCardinality>", "open"),
        (
            "<bpmn:loopCardinality>3</bpmn:loopCardinality><bpmn:completionCondition>done.__class__"
            "</bpmn:completionCondition>",
            "__class__",
        ),
        ("<bpmn:loopDataInputRef>my reviewers</bpmn:loopDataInputRef>", "my reviewers"),
        (
            "<bpmn:loopCardinality>3</bpmn:loopCardinality><bpmn:loopDataOutputRef>_hidden</bpmn:loopDataOutputRef>",
            "_hidden",
        ),
        ("", "neither a loopCardinality nor a loopDataInputRef"),
        ("<bpmn:loopCardinality>${count}</bpmn:loopCardinality>", "JUEL"),
    ],
)
def test_multi_instance_expressions_and_names_are_checked_at_deploy(loop, named):
    document = _user_task(loop=f"<bpmn:multiInstanceLoopCharacteristics>{loop}</bpmn:multiInstanceLoopCharacteristics>")
    [problem] = _problems({"mi.bpmn": document})
    assert problem.element_id == "review" and named in problem.message
    assert problem.line == line_of(document, '<bpmn:userTask id="review"') and problem.hint


def test_a_well_formed_multi_instance_deploys():
    loop = (
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>reviewers</bpmn:loopDataInputRef>"
        '<bpmn:inputDataItem id="reviewer" name="reviewer"/>'
        "<bpmn:completionCondition>len(opinions) &gt;= 2</bpmn:completionCondition>"
        "</bpmn:multiInstanceLoopCharacteristics>"
    )
    (definition,) = parse({"mi.bpmn": _user_task(loop=loop)})
    assert definition.process_id == "proposal"


# -- 7. documentation pools ---------------------------------------------------------------------------


def _collaboration(doc_executable="false"):
    return (
        HEAD
        + f"""\
  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_run" name="Committee office" processRef="proposal"/>
    <bpmn:participant id="Participant_doc" name="The unit (for the record)" processRef="unit_side"/>
  </bpmn:collaboration>
  <bpmn:process id="proposal" name="Proposal" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="calc" name="Compute"><bpmn:script>total = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="end"/>
  </bpmn:process>
  <bpmn:process id="unit_side" isExecutable="{doc_executable}">
    <bpmn:startEvent id="u_start"/>
    <bpmn:serviceTask id="u_file" name="File it in our system"/>
    <bpmn:scriptTask id="u_script" name="Whatever"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="u_gw"/>
    <bpmn:endEvent id="u_end"/>
    <bpmn:sequenceFlow id="u1" sourceRef="u_start" targetRef="u_gw"/>
    <bpmn:sequenceFlow id="u2" sourceRef="u_gw" targetRef="u_file"><bpmn:conditionExpression>${{ok}}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="u3" sourceRef="u_gw" targetRef="u_script"/>
    <bpmn:sequenceFlow id="u4" sourceRef="u_file" targetRef="Nowhere"/>
  </bpmn:process>
</bpmn:definitions>
"""
    )


def test_a_documentation_pool_is_not_checked_and_the_diagram_deploys_with_a_note():
    (definition,) = parse({"collab.bpmn": _collaboration()})
    assert definition.process_id == "proposal"
    [note] = definition.notes
    assert "'unit_side'" in note and '"The unit (for the record)"' in note
    assert "not executable: kept as documentation" in note
    assert note.startswith("collab.bpmn:")


def test_the_same_pool_marked_executable_is_checked_and_refused():
    problems = _problems({"collab.bpmn": _collaboration("true")})
    assert {"u_file", "u_script", "u2", "u3", "u4"} <= {p.element_id for p in problems}


def test_a_file_whose_only_processes_are_not_executable_is_refused_at_each_process():
    document = _collaboration().replace('isExecutable="true"', 'isExecutable="false"')
    problems = _problems({"collab.bpmn": document})
    assert {p.element_id for p in problems} == {"proposal", "unit_side"}
    assert all("no executable process" in p.message for p in problems)
    assert {p.line for p in problems} == {
        line_of(document, '<bpmn:process id="proposal"'),
        line_of(document, '<bpmn:process id="unit_side"'),
    }


# -- 8. run-time errors name the element --------------------------------------------------------------


def test_a_timer_value_that_is_not_iso_at_run_time_fails_naming_the_timer():
    (definition,) = parse({"timer.bpmn": timer_process("wait_for")})
    runtime = WorkflowRuntime()
    workflow = runtime.create(definition.spec, {"wait_for": "P3 days"})
    with pytest.raises(StepFailed) as failed:
        runtime.run(workflow)
    assert failed.value.task_name == "wait"
    assert "element 'wait'" in str(failed.value) and "?" not in failed.value.task_name


def test_the_failing_element_comes_from_the_workflow_when_nothing_else_names_it():
    (definition,) = parse({"timer.bpmn": timer_process()})
    runtime = WorkflowRuntime()
    workflow = runtime.create(definition.spec, {})
    assert failing_element(RuntimeError("no task anywhere"), None) == "?"
    named = failing_element(RuntimeError("no task anywhere"), workflow)
    specs = workflow.spec.task_specs.values()
    assert named != "?" and named in {s.bpmn_id for s in specs} | {s.name for s in specs}


# -- 9. ztc lint --------------------------------------------------------------------------------------

LINTED = definitions("""\
    <bpmn:startEvent id="start"/>
    <bpmn:startEvent id="start_2"/>
    <bpmn:task id="t1"/>
    <bpmn:exclusiveGateway id="gw"/>
    <bpmn:parallelGateway id="pass"/>
    <bpmn:task id="t2" name="Second"/>
    <bpmn:task id="orphan" name="Nobody comes here"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>
    <bpmn:sequenceFlow id="f1b" sourceRef="start" targetRef="t2"/>
    <bpmn:sequenceFlow id="f_s2" sourceRef="start_2" targetRef="t2"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="gw"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="pass"><bpmn:conditionExpression>ok</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" name="no" sourceRef="gw" targetRef="t2"><bpmn:conditionExpression>not ok</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="pass" targetRef="t2"/>
""")


def test_lint_reports_each_finding_under_its_bpmnlint_rule_without_refusing():
    result = lint({"style.bpmn": LINTED})
    assert result.problems == []
    rules = {}
    for finding in result.findings:
        rules.setdefault(finding.code, set()).add(finding.element_id)
        assert finding.line and finding.hint and finding.file == "style.bpmn"
    # A diagram without a drawing: every element is missing from it, and nothing can overlap.
    assert set(rules) == set(RULES) - {"no-overlapping-shapes"}, rules
    assert {"start", "t1", "gw", "pass", "orphan", "f1", "f5"} <= rules["di-complete"]
    assert {"start", "start_2", "t1", "gw", "f3"} <= rules["label-required"]
    assert rules["conditional-flows"] == {"gw"}
    assert rules["no-disconnected"] == {"orphan"}
    assert rules["no-implicit-split"] == {"start"}
    assert rules["single-blank-start-event"] == {"start_2"}
    assert rules["end-event-required"] == {"proposal"}
    assert rules["superfluous-gateway"] == {"pass"}


def test_ztc_lint_exits_0_on_findings_and_prints_them_with_their_rule(tmp_path):
    path = tmp_path / "style.bpmn"
    path.write_text(LINTED)
    out = CliRunner().invoke(ztc, ["lint", str(path)])
    assert out.exit_code == 0, out.output
    assert "superfluous-gateway: style.bpmn:" in out.output and "element 'pass'" in out.output
    assert "style.bpmn: deploys" in out.output


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "bpmn").glob("*.bpmn")))
def test_ztc_lint_on_a_product_diagram_finds_no_refusal(name):
    out = CliRunner().invoke(ztc, ["lint", "--json", str(REPO / "bpmn" / name)])
    assert out.exit_code == 0, out.output
    import json

    [result] = json.loads(out.output)
    assert result["refused"] is False and result["problems"] == []
    assert all(f["code"] in RULES and f["line"] for f in result["findings"])


def test_ztc_lint_exits_1_with_the_problems_of_a_refused_file(tmp_path):
    path = tmp_path / "four.bpmn"
    path.write_text(FOUR_MISTAKES)
    out = CliRunner().invoke(ztc, ["lint", "--json", str(path)])
    assert out.exit_code == 1
    import json

    [result] = json.loads(out.output)
    assert result["refused"] is True
    assert {p["element_id"] for p in result["problems"]} == {"record", "f_yes", "wait", "f_lost"}
    assert all(p["label"] and p["hint"] and p["line"] for p in result["problems"])


def test_ztc_lint_help_names_every_rule():
    out = CliRunner().invoke(ztc, ["lint", "--help"])
    assert out.exit_code == 0
    assert all(rule in out.output for rule in RULES) and "--json" in out.output


# -- references and empty scripts ---------------------------------------------------------------------


def test_a_script_task_without_a_script_is_refused_naming_it():
    document = script_process("x = 1").replace("<bpmn:script>x = 1</bpmn:script>", "<bpmn:script></bpmn:script>")
    [problem] = _problems({"empty.bpmn": document})
    assert problem.element_id == "calc" and problem.message == "script task has no script"


@pytest.mark.parametrize(
    "definition, declared", [("error", "Error_gone"), ("message", "Message_gone"), ("signal", "Signal_gone")]
)
def test_an_event_naming_an_undeclared_error_message_or_signal_is_refused_naming_the_reference(definition, declared):
    document = timer_process().replace(
        "<bpmn:timerEventDefinition id=\"TimerDef_wait\">\n        <bpmn:timeDuration>'PT1H'</bpmn:timeDuration>\n      </bpmn:timerEventDefinition>",
        f'<bpmn:{definition}EventDefinition id="Def_wait" {definition}Ref="{declared}"/>',
    )
    assert f'{definition}Ref="{declared}"' in document
    problems = _problems({"refs.bpmn": document})
    assert any(
        p.element_id == "wait" and f"{definition}Ref '{declared}' names no {definition}" in p.message for p in problems
    )
    assert not any("TypeError" in p.message for p in problems)


def _with_lane(task: str, lane: str) -> str:
    return definitions(f"""\
    <bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="{lane}"><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_review</bpmn:outgoing></bpmn:startEvent>
    {task}
    <bpmn:endEvent id="end"><bpmn:incoming>f_review_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_review" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f_review_end" sourceRef="review" targetRef="end"/>
""")


def _people_task(kind: str, role: str | None = None) -> str:
    props = (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="candidateRole" value="{role}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        if role is not None
        else ""
    )
    return (
        f'<bpmn:{kind} id="review" name="Review">{props}<bpmn:incoming>f_start_review</bpmn:incoming>'
        f"<bpmn:outgoing>f_review_end</bpmn:outgoing></bpmn:{kind}>"
    )


@pytest.mark.parametrize(
    "kind, role, lane, says",
    [
        ("userTask", "Staff", "staff", "role 'Staff' (its candidateRole)"),
        ("userTask", "'staff'", "staff", "write staff"),
        ("userTask", None, "services", "role 'services' (its lane)"),
        ("manualTask", None, "services", "make it a script or service task"),
        ("task", None, "clerks", "role 'clerks' (its lane)"),
    ],
)
def test_a_task_for_a_role_nobody_has_is_refused(kind, role, lane, says):
    [problem] = _problems({"roles.bpmn": _with_lane(_people_task(kind, role), lane)})
    assert problem.element_id == "review" and "nobody has" in problem.message
    assert says in problem.message + " " + problem.hint


def test_a_task_for_a_role_people_have_deploys():
    assert parse({"roles.bpmn": _with_lane(_people_task("userTask", "committee"), "staff")})
    assert parse({"roles.bpmn": _with_lane(_people_task("userTask"), "staff")})


def test_a_gateways_default_that_is_not_one_of_its_flows_is_named():
    document = gateway_with("x > 1", default="f_nowhere")
    problems = _problems({"default.bpmn": document})
    [named] = [p for p in problems if p.code == "gateway-default"]
    assert "default flow 'f_nowhere' is not one of the flows leaving" in named.message


def test_a_refusal_names_the_files_that_have_problems_only():
    from services.engine.deployments import Deployments
    from shared.errors import DiagramRefused

    good = timer_process()
    bad = script_process("x = 1").replace("<bpmn:script>x = 1</bpmn:script>", "<bpmn:script></bpmn:script>")
    bad = bad.replace('id="proposal"', 'id="other"')
    with pytest.raises(DiagramRefused) as refused:
        Deployments.validate(None, {"good.bpmn": good, "bad.bpmn": bad})
    assert refused.value.message == "1 problem(s) in bad.bpmn"
