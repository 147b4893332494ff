"""The restricted evaluator that runs designers' scripts and expressions."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.util.task import TaskState

from shared import evaluator
from shared.evaluator import RestrictedEnvironment, UnsafeScript, check, evaluate, execute, script_engine
from shared.workflow import serializer
from shared.workflow.parser import parse

from tests.unit.shared.workflow.bpmn_documents import gateway_process


# -- expressions ------------------------------------------------------------------------------


def test_arithmetic_expression_follows_operator_precedence():
    assert evaluate("1 + 2 * 3 - 8 / 4", {}) == 5.0


def test_expression_reads_task_data_variables():
    assert evaluate("price * quantity", {"price": 12, "quantity": 3}) == 36


def test_expression_reaches_into_nested_dicts_and_lists():
    data = {"submission": {"id": 7, "signers": ["Li", "Wang", "Zhao"]}}
    assert evaluate("submission['signers'][1]", data) == "Wang"
    assert evaluate("submission['id'] + 1", data) == 8


def test_expression_with_list_comprehension_filters_and_maps():
    assert evaluate("[n * n for n in numbers if n % 2]", {"numbers": [1, 2, 3, 4, 5]}) == [1, 9, 25]


def test_expression_with_dict_comprehension_over_items():
    scores = {"a": 1, "b": 2}
    assert evaluate("{k: v * 10 for k, v in scores.items()}", {"scores": scores}) == {"a": 10, "b": 20}


def test_expression_can_use_safe_builtins_and_date_helpers():
    assert evaluate("sorted(xs)", {"xs": [3, 1, 2]}) == [1, 2, 3]
    assert evaluate("sum(range(5))", {}) == 10
    assert evaluate("max(len(a), len(b))", {"a": "ab", "b": "abc"}) == 3
    assert evaluate("datetime(2026, 3, 2) + timedelta(days=1)", {}) == datetime(2026, 3, 3)
    assert evaluate("date(2026, 3, 2)", {}) == date(2026, 3, 2)


def test_expression_string_methods_are_available():
    assert evaluate("title.strip().upper()", {"title": "  proposal "}) == "PROPOSAL"


def test_expression_can_read_extra_names_but_task_data_wins():
    assert evaluate("rate * 2", {}, extra={"rate": 5}) == 10
    assert evaluate("rate", {"rate": 1}, extra={"rate": 5}) == 1


def test_evaluating_an_expression_leaves_the_task_data_untouched():
    data = {"xs": [1, 2]}
    evaluate("[x for x in xs]", data)
    assert data == {"xs": [1, 2]}


def test_expression_with_surrounding_whitespace_is_accepted():
    # conditions in diagrams often carry the XML indentation
    assert evaluate("\n    approved and score >= 60\n  ", {"approved": True, "score": 75}) is True


# -- scripts ----------------------------------------------------------------------------------


def test_script_writes_new_variables_back_to_the_task_data():
    data = {"price": 12, "quantity": 3}
    execute("total = price * quantity\nlabel = 'big' if total > 30 else 'small'", data)
    assert data == {"price": 12, "quantity": 3, "total": 36, "label": "big"}


def test_script_augmented_assignment_updates_the_variable():
    data = {"count": 1, "text": "a", "items": [1]}
    execute("count += 5\ncount -= 1\ncount *= 3\ntext += 'b'\nitems += [2]", data)
    assert data == {"count": 15, "text": "ab", "items": [1, 2]}


def test_script_augmented_assignment_with_a_disallowed_operator_is_refused():
    data = {"bits": 1}
    with pytest.raises(UnsafeScript, match="<<="):
        execute("bits <<= 2", data)


def test_script_deleted_variable_is_removed_from_the_task_data():
    data = {"draft": "x", "keep": 1}
    execute("del draft", data)
    assert data == {"keep": 1}


def test_script_can_mutate_dicts_and_lists_in_place():
    data = {"submission": {"status": "new"}, "log": []}
    execute("submission['status'] = 'accepted'\nlog.append('accepted')", data)
    assert data == {"submission": {"status": "accepted"}, "log": ["accepted"]}


def test_script_comprehension_and_loop_with_tuple_unpacking():
    data = {"pairs": [("a", 1), ("b", 2)]}
    execute("total = 0\nfor name, value in pairs:\n    total += value\nsquares = {n: v * v for n, v in pairs}", data)
    assert data["total"] == 3
    assert data["squares"] == {"a": 1, "b": 4}
    # the loop variables are script variables too
    assert data["name"] == "b" and data["value"] == 2


def test_script_helper_functions_and_globals_do_not_leak_into_task_data():
    data = {"a": 2}
    execute("def double(x):\n    return x * 2\nb = double(a)", data, extra={"helper": 1})
    assert data == {"a": 2, "b": 4}


def test_script_can_use_extra_names_without_storing_them():
    data = {}
    execute("greeting = prefix + 'world'", data, extra={"prefix": "hello "})
    assert data == {"greeting": "hello world"}


def test_script_can_update_a_task_variable_named_like_a_date_helper():
    # A form field called "date" is ordinary task data; a script that sets it must be saved.
    data = {"date": "2026-03-02"}
    execute("date = '2026-03-03'", data)
    assert data["date"] == "2026-03-03"


# -- refusals by check() ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, mode, named",
    [
        ("import os", "exec", "imports are not allowed"),
        ("from os import path", "exec", "imports are not allowed"),
        ("x = 1\nimport subprocess", "exec", "line 2: imports are not allowed"),
        ("().__class__.__bases__", "eval", "__class__"),
        ("().__class__.__bases__", "eval", "__bases__"),
        ("_secret = 1", "exec", "_secret"),
        ("_secret", "eval", "_secret"),
        ("open('/etc/passwd')", "eval", "open"),
        ("eval('1 + 1')", "eval", "eval"),
        ("exec('x = 1')", "exec", "exec"),
        ("getattr(submission, 'id')", "eval", "getattr"),
        ("__import__('os')", "eval", "__import__"),
        ("globals()", "eval", "globals"),
    ],
)
def test_check_refuses_unsafe_source_naming_the_problem(source, mode, named):
    with pytest.raises(UnsafeScript) as info:
        check(source, mode)
    assert named in str(info.value)


@pytest.mark.parametrize("name", ["open", "eval", "exec", "getattr", "globals", "compile", "vars", "setattr"])
def test_check_names_the_forbidden_builtin(name):
    with pytest.raises(UnsafeScript, match=rf"the name {name} is not allowed"):
        check(f"{name}(x)", "eval")


def test_check_reports_a_syntax_error_as_unsafe_script_with_its_line():
    with pytest.raises(UnsafeScript, match="syntax error on line 2"):
        check("x = 1\nx = = 2", "exec")


def test_check_accepts_an_ordinary_script():
    check("total = sum(x['amount'] for x in rows)\nok = total > 0", "exec")
    check("approved and score >= 60", "eval")


def test_unsafe_script_is_a_value_error():
    assert issubclass(UnsafeScript, ValueError)


# -- refusals at run time -------------------------------------------------------------------------


def test_evaluating_an_expression_that_opens_a_file_raises():
    with pytest.raises(UnsafeScript, match="open"):
        evaluate("open('/etc/passwd').read()", {})


def test_evaluating_an_expression_with_a_dunder_raises():
    with pytest.raises(UnsafeScript, match="__class__"):
        evaluate("x.__class__", {"x": 1})


def test_executing_a_script_with_an_import_raises_and_leaves_data_alone():
    data = {"a": 1}
    with pytest.raises(UnsafeScript, match="imports are not allowed"):
        execute("a = 2\nimport os", data)
    assert data == {"a": 1}


@pytest.mark.parametrize("name", ["open", "eval", "exec", "getattr", "globals", "__import__", "input"])
def test_forbidden_builtins_are_absent_from_the_runtime_builtins(name):
    assert name not in evaluator.GLOBALS["__builtins__"]


def test_builtin_not_offered_to_diagrams_is_undefined_at_run_time():
    with pytest.raises(NameError):
        evaluate("type(x)", {"x": 1})


def test_str_format_is_refused_at_run_time():
    with pytest.raises(NotImplementedError):
        evaluate("'{0.__class__}'.format(x)", {"x": 1})


# -- SpiffWorkflow's script engine interface ------------------------------------------------------


def _workflow(document: str, engine: PythonScriptEngine, data: dict) -> BpmnWorkflow:
    (definition,) = parse({"order.bpmn": document})
    spec, subprocesses = serializer.specs_from_dict(definition.spec)
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def test_script_engine_is_a_spiff_python_script_engine_with_the_restricted_environment():
    engine = script_engine({"rate": 2})
    assert isinstance(engine, PythonScriptEngine)
    assert isinstance(engine.environment, RestrictedEnvironment)
    assert isinstance(engine.environment, TaskDataEnvironment)
    assert engine.environment.extra == {"rate": 2}


def test_restricted_environment_evaluates_and_executes_through_the_spiff_interface():
    env = RestrictedEnvironment({"rate": 3})
    context = {"amount": 10}
    assert env.evaluate("amount * rate", context) == 30
    assert env.evaluate("amount * rate", context, external_context={"rate": 4}) == 40
    assert env.execute("fee = amount * rate", context) is True
    assert context == {"amount": 10, "fee": 30}


def test_workflow_runs_its_script_task_and_takes_the_conditional_flow():
    workflow = _workflow(gateway_process(), script_engine(), {"price": 50, "quantity": 3})
    workflow.do_engine_steps()
    assert workflow.completed
    completed = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "end_big" in completed and "end_small" not in completed
    assert workflow.data["total"] == 150


def test_workflow_takes_the_default_flow_when_the_condition_is_false():
    workflow = _workflow(gateway_process(), script_engine(), {"price": 5, "quantity": 3})
    workflow.do_engine_steps()
    assert workflow.completed
    completed = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "end_small" in completed and "end_big" not in completed
    assert workflow.data["total"] == 15


def test_workflow_script_can_use_the_engine_extra_names():
    document = gateway_process(script="total = price * quantity * rate")
    workflow = _workflow(document, script_engine({"rate": 10}), {"price": 5, "quantity": 3})
    workflow.do_engine_steps()
    assert workflow.data["total"] == 150
    assert "rate" not in workflow.data


def test_script_engine_wraps_a_refused_expression_in_a_task_error():
    engine = script_engine()
    workflow = _workflow(gateway_process(), engine, {"price": 1, "quantity": 1})
    task = workflow.get_tasks(state=TaskState.READY)[0]
    with pytest.raises(WorkflowTaskException) as info:
        engine.evaluate(task, "price.__class__")
    assert info.value.error_type == "UnsafeScript"
    assert "price.__class__" in str(info.value)


def test_script_engine_refuses_a_script_with_an_import_at_run_time():
    engine = script_engine()
    workflow = _workflow(gateway_process(), engine, {"price": 1, "quantity": 1})
    task = workflow.get_tasks(state=TaskState.READY)[0]
    with pytest.raises(WorkflowTaskException, match="imports are not allowed"):
        engine.execute(task, "import os")
    assert "os" not in task.data
