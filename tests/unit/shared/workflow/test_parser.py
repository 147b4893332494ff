"""Deploy-time parsing and validation of designers' diagrams."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.workflow.parser import DiagramError, DiagramProblem, ProcessDefinition, parse, version_of

from .bpmn_documents import (
    HEAD,
    definitions,
    gateway_process,
    line_of,
    script_process,
    service_process,
)

REPO = Path(__file__).resolve().parents[4]


def _problems(files: dict) -> list[DiagramProblem]:
    with pytest.raises(DiagramError) as info:
        parse(files)
    problems = info.value.problems
    assert problems, "a refused diagram must say why"
    assert all(isinstance(p, DiagramProblem) for p in problems)
    return problems


def _only_problem(files: dict) -> DiagramProblem:
    problems = _problems(files)
    assert len(problems) == 1, problems
    return problems[0]


# -- a diagram that deploys ------------------------------------------------------------------------


def test_minimal_valid_process_deploys_as_one_definition():
    document = script_process()
    (definition,) = parse({"proposal.bpmn": document})
    assert isinstance(definition, ProcessDefinition)
    assert definition.process_id == "proposal"
    assert definition.name == "Proposal"
    assert definition.files == {"proposal.bpmn": document}
    assert set(definition.spec) == {"spec", "subprocess_specs"}
    assert "calc" in definition.spec["spec"]["task_specs"]


def test_version_is_a_sixteen_hex_digit_content_hash():
    (definition,) = parse({"proposal.bpmn": script_process()})
    assert re.fullmatch(r"[0-9a-f]{16}", definition.version)
    assert definition.version == version_of({"proposal.bpmn": script_process()})


def test_same_content_deploys_with_the_same_version_whether_bytes_or_text():
    document = script_process()
    (first,) = parse({"proposal.bpmn": document})
    (again,) = parse({"proposal.bpmn": document})
    (as_bytes,) = parse({"proposal.bpmn": document.encode()})
    assert first.version == again.version == as_bytes.version
    assert as_bytes.files == {"proposal.bpmn": document}


def test_changed_content_deploys_with_a_different_version():
    (before,) = parse({"proposal.bpmn": script_process("total = price * quantity")})
    (after,) = parse({"proposal.bpmn": script_process("total = price * quantity + 1")})
    assert before.version != after.version


def test_a_process_is_versioned_by_its_own_file_whatever_is_deployed_beside_it():
    files = {"a.bpmn": script_process(process_id="first"), "b.bpmn": script_process(process_id="second")}
    deployed = {d.process_id: d for d in parse(files)}
    assert set(deployed) == {"first", "second"}
    for name, process_id in (("a.bpmn", "first"), ("b.bpmn", "second")):
        (alone,) = parse({name: files[name]})
        assert deployed[process_id].version == alone.version == version_of({name: files[name]})
        assert deployed[process_id].files == {name: files[name]}


CALLER = definitions(
    """\
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="call" name="Compute elsewhere" calledElement="second"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end"/>
""",
    process_id="caller",
)


def test_a_caller_is_versioned_with_the_file_it_calls_and_the_called_without_its_callers():
    called = script_process(process_id="second")
    deployed = {d.process_id: d for d in parse({"caller.bpmn": CALLER, "second.bpmn": called})}
    assert deployed["caller"].version == version_of({"caller.bpmn": CALLER, "second.bpmn": called})
    assert set(deployed["caller"].files) == {"caller.bpmn", "second.bpmn"}
    (alone,) = parse({"second.bpmn": called})
    assert deployed["second"].version == alone.version  # deployed beside its caller: unchanged
    (changed,) = [
        d
        for d in parse({"caller.bpmn": CALLER, "second.bpmn": script_process("total = 1", process_id="second")})
        if d.process_id == "caller"
    ]
    assert changed.version != deployed["caller"].version  # the called process changed: so did the caller


def test_gateway_with_a_default_flow_and_a_conditional_flow_deploys():
    (definition,) = parse({"order.bpmn": gateway_process(default="f_small")})
    assert definition.process_id == "proposal"


def test_service_task_with_a_known_service_operation_deploys():
    (definition,) = parse({"intake.bpmn": service_process("intake.record_submission", "title")})
    assert "record" in definition.spec["spec"]["task_specs"]


def test_smoke_diagram_parses_into_the_smoke_definition():
    path = REPO / "bpmn" / "smoke.bpmn"
    (definition,) = parse({"smoke.bpmn": path.read_bytes()})
    assert definition.process_id == "smoke"
    assert definition.name == "Smoke test"
    assert re.fullmatch(r"[0-9a-f]{16}", definition.version)


# -- refusals ------------------------------------------------------------------------------------


def test_not_well_formed_xml_is_refused_with_its_line_number():
    document = (
        HEAD + '  <bpmn:process id="p" isExecutable="true">\n    <bpmn:startEvent id="start">\n'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )
    problem = _only_problem({"broken.bpmn": document})
    assert problem.file == "broken.bpmn"
    assert "not well-formed XML" in problem.message
    assert problem.line == line_of(document, "</bpmn:process>")
    assert problem.element_id == ""


def test_not_well_formed_file_does_not_hide_problems_in_the_other_files():
    problems = _problems({"broken.bpmn": "<bpmn:definitions", "calc.bpmn": script_process("import os")})
    assert {p.file for p in problems} == {"broken.bpmn", "calc.bpmn"}


def test_file_without_an_executable_process_is_refused_clearly():
    document = script_process(executable=False)
    problem = _only_problem({"draft.bpmn": document})
    assert problem.file == "draft.bpmn"
    assert "no executable process" in problem.message
    assert 'isExecutable="true"' in problem.hint
    # it points at the process that is not executable
    assert problem.element_id == "proposal" and problem.element_type == "bpmn:process"
    assert problem.line == line_of(document, '<bpmn:process id="proposal"')


def test_definitions_without_any_process_are_refused_as_not_executable():
    document = HEAD + "</bpmn:definitions>\n"
    problem = _only_problem({"empty.bpmn": document})
    assert "no executable process" in problem.message
    assert problem.line == line_of(document, "<bpmn:definitions")


def test_script_with_import_is_refused_naming_the_task():
    document = script_process("import os")
    problem = _only_problem({"calc.bpmn": document})
    assert problem.file == "calc.bpmn"
    assert problem.element_id == "calc"
    assert problem.element_type == "bpmn:scriptTask"
    assert "imports are not allowed" in problem.message
    assert problem.line == line_of(document, '<bpmn:scriptTask id="calc"')


def test_script_with_from_import_is_refused_naming_the_task():
    problem = _only_problem({"calc.bpmn": script_process("from os import path")})
    assert problem.element_id == "calc"
    assert "imports are not allowed" in problem.message


def test_script_calling_open_is_refused_naming_the_builtin():
    problem = _only_problem({"calc.bpmn": script_process("secret = open('/etc/passwd').read()")})
    assert problem.element_id == "calc"
    assert "open" in problem.message


def test_condition_using_a_dunder_is_refused_naming_the_flow():
    document = gateway_process(condition="total.__class__")
    problem = _only_problem({"order.bpmn": document})
    assert problem.element_id == "f_big"
    assert problem.element_type == "bpmn:sequenceFlow"
    assert "__class__" in problem.message
    assert problem.line == line_of(document, '<bpmn:sequenceFlow id="f_big"')


def test_condition_carrying_its_own_id_is_still_refused_naming_the_flow():
    # Modelers may give the conditionExpression element an id of its own; the designer still
    # finds the sequence flow, not the expression, in the diagram.
    document = gateway_process(condition="total.__class__", condition_id="Expr_big")
    problem = _only_problem({"order.bpmn": document})
    assert "__class__" in problem.message
    assert problem.element_id == "f_big"


@pytest.mark.parametrize("operation", ["record_submission", "payroll.pay", "intake"])
def test_service_operation_not_naming_a_known_service_is_refused_with_the_expected_form(operation):
    problem = _only_problem({"intake.bpmn": service_process(operation)})
    assert problem.file == "intake.bpmn"
    assert f"'{operation}'" in problem.message
    assert "'<service>.<operation>'" in problem.message
    assert "intake" in problem.message and "evaluation" in problem.message


@pytest.mark.parametrize("operation", ["record_submission", "payroll.pay"])
def test_service_operation_not_naming_a_known_service_is_refused_naming_the_service_task(operation):
    problem = _only_problem({"intake.bpmn": service_process(operation)})
    assert problem.element_id == "record"
    assert problem.element_type == "bpmn:serviceTask"


@pytest.mark.parametrize(
    "value, named",
    [
        ("open('/etc/passwd').read()", "open"),
        ("title.__class__", "__class__"),
        ("getattr(submission, 'id')", "getattr"),
    ],
)
def test_service_parameter_with_unsafe_value_is_refused_naming_the_parameter(value, named):
    problem = _only_problem({"intake.bpmn": service_process("intake.record_submission", value)})
    assert "parameter 'title'" in problem.message
    assert "intake.record_submission" in problem.message
    assert named in problem.message


def test_service_parameter_with_unsafe_value_is_refused_naming_the_service_task():
    problem = _only_problem({"intake.bpmn": service_process("intake.record_submission", "title.__class__")})
    assert problem.element_id == "record"
    assert problem.element_type == "bpmn:serviceTask"


def test_exclusive_gateway_flow_without_condition_or_default_is_refused_naming_the_flow():
    document = gateway_process(default=None)
    problem = _only_problem({"order.bpmn": document})
    assert problem.element_id == "f_small"
    assert problem.element_type == "bpmn:sequenceFlow"
    assert "decide" in problem.message and "condition" in problem.message
    assert "default" in problem.hint
    assert problem.line == line_of(document, '<bpmn:sequenceFlow id="f_small"')


def test_every_problem_of_a_diagram_is_reported_at_once():
    document = gateway_process(condition="total.__class__", default=None, script="import os")
    problems = _problems({"order.bpmn": document})
    assert {p.element_id for p in problems} == {"calc", "f_big", "f_small"}


def test_diagram_error_message_names_file_line_and_element():
    document = script_process("import os")
    with pytest.raises(DiagramError) as info:
        parse({"calc.bpmn": document})
    text = str(info.value)
    line = line_of(document, '<bpmn:scriptTask id="calc"')
    assert f"calc.bpmn:{line}:" in text
    assert "'calc'" in text and "imports are not allowed" in text


def test_diagram_problem_str_without_element_names_only_the_file():
    assert str(DiagramProblem("a.bpmn", "", "", "no executable process")) == "a.bpmn: no executable process"
