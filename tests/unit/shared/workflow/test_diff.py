"""The diff of two versions of a diagram (shared/workflow/diff.py), element by element: what the
console draws on both diagrams and lists, and ``ztc versions diff`` prints."""

from __future__ import annotations

import pytest

from shared.config import ROOT
from shared.workflow import diff

SMOKE = (ROOT / "bpmn" / "smoke.bpmn").read_text(encoding="utf-8")


def variant(*pairs) -> dict:
    """smoke.bpmn with each ``(old, new)`` text replaced (each must be there exactly once)."""
    text = SMOKE
    for old, new in pairs:
        assert text.count(old) == 1, f"{old!r} is not in smoke.bpmn exactly once"
        text = text.replace(old, new)
    return {"smoke.bpmn": text}


def compare(*pairs) -> dict:
    return diff.diff({"smoke.bpmn": SMOKE}, variant(*pairs), "smoke")


def changes_of(result, element_id) -> list[str]:
    [row] = [r for r in result["changed"] if r["id"] == element_id]
    return row["changes"]


def test_the_same_file_and_a_moved_shape_differ_in_nothing():
    assert compare() == {"process_id": "smoke", "added": [], "removed": [], "changed": []}
    moved = compare(
        (
            'bpmnElement="review">\n        <dc:Bounds x="420" y="85"',
            'bpmnElement="review">\n        <dc:Bounds x="999" y="85"',
        )
    )
    assert moved["changed"] == [] and moved["added"] == [] and moved["removed"] == []


def test_a_renamed_element_is_changed_with_its_old_and_new_label():
    result = compare(
        ('id="record_submission" name="Record the submission"', 'id="record_submission" name="Register the submission"')
    )
    [row] = result["changed"]
    assert (row["id"], row["type"], row["label"], row["old_label"]) == (
        "record_submission",
        "serviceTask",
        "Register the submission",
        "Record the submission",
    )
    assert row["changes"] == ["label: 'Record the submission' → 'Register the submission'"]


def test_an_operation_a_condition_a_timer_and_a_form_are_each_named_as_changed():
    result = compare(
        ('serviceTaskOperator id="intake.record_submission"', 'serviceTaskOperator id="intake.file_submission"'),
        (
            "<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
            "<bpmn:conditionExpression>approved and eligible</bpmn:conditionExpression>",
        ),
        ("<bpmn:timeDuration>reply_within</bpmn:timeDuration>", "<bpmn:timeDuration>'P10D'</bpmn:timeDuration>"),
        ('name="formSchema" value="smoke.review"', 'name="formSchema" value="smoke.review_v2"'),
    )
    assert {r["id"] for r in result["changed"]} == {"record_submission", "f_decide_assign", "deadline", "review"}
    [operation] = changes_of(result, "record_submission")
    assert (
        operation.startswith("properties")
        and "intake.record_submission" in operation
        and "intake.file_submission" in operation
    )
    [condition] = changes_of(result, "f_decide_assign")
    assert condition.startswith("condition changed") and "approved and eligible" in condition
    [timer] = changes_of(result, "deadline")
    assert timer.startswith("timer changed") and "'P10D'" in timer
    [form] = changes_of(result, "review")
    assert "smoke.review_v2" in form
    assert result["added"] == [] and result["removed"] == []


def test_a_changed_type_is_named():
    start = SMOKE.index('<bpmn:serviceTask id="escalate"')
    end = SMOKE.index("</bpmn:serviceTask>", start) + len("</bpmn:serviceTask>")
    element = SMOKE[start:end]
    result = compare((element, element.replace("bpmn:serviceTask", "bpmn:sendTask")))
    assert changes_of(result, "escalate") == ["type: 'serviceTask' → 'sendTask'"]


def test_an_element_whose_id_changed_is_removed_and_added_and_marked_on_its_own_diagram():
    result = compare(
        ('<bpmn:scriptTask id="set_outcome_overdue"', '<bpmn:scriptTask id="set_outcome_late"'),
        (
            "<bpmn:flowNodeRef>set_outcome_overdue</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>set_outcome_late</bpmn:flowNodeRef>",
        ),
        ('sourceRef="escalate" targetRef="set_outcome_overdue"', 'sourceRef="escalate" targetRef="set_outcome_late"'),
        ('sourceRef="set_outcome_overdue"', 'sourceRef="set_outcome_late"'),
        ('name="Smoke test"', 'name="Smoke test, revised"'),
    )
    assert result["removed"] == [{"id": "set_outcome_overdue", "type": "scriptTask", "label": "Outcome: overdue"}]
    assert result["added"] == [{"id": "set_outcome_late", "type": "scriptTask", "label": "Outcome: overdue"}]
    assert {r["id"] for r in result["changed"]} == {"smoke", "f_escalate_outcome", "f_overdue_record"}
    assert any("to: 'set_outcome_overdue' → 'set_outcome_late'" in c for c in changes_of(result, "f_escalate_outcome"))
    marks = diff.markers(result)
    # A removed element is drawn on the old diagram only; the new one cannot show it.
    assert marks["old"]["set_outcome_overdue"] == ["removed"] and "set_outcome_overdue" not in marks["new"]
    assert marks["new"]["set_outcome_late"] == ["added"] and "set_outcome_late" not in marks["old"]
    assert marks["old"]["f_escalate_outcome"] == marks["new"]["f_escalate_outcome"] == ["changed"]
    assert "smoke" not in marks["old"] and "smoke" not in marks["new"]  # the process is no shape


def test_the_file_holding_a_process_is_found_among_the_files_deployed_together():
    files = {
        "a.dmn": "<definitions/>",
        "other.bpmn": SMOKE.replace('<bpmn:process id="smoke"', '<bpmn:process id="other"'),
        "smoke.bpmn": SMOKE,
    }
    assert diff.file_of(files, "smoke") == "smoke.bpmn"
    assert diff.file_of(files, "other") == "other.bpmn"
    with pytest.raises(LookupError, match="no file of the version holds process 'missing'"):
        diff.file_of(files, "missing")
