"""opinion.bpmn driven through every path by the runtime alone, with a skipping clock and a
save/restore at every wait state: every scenario of bpmn/opinion.scenarios.yaml (what `ztc test`
runs). Job results stand in for intake; its rules are tested in their tiers."""

from __future__ import annotations

from shared.config import ROOT
from shared.forms import FORMS
from tests.bpmn import scenario_files

PASSED = {"political_ok": True, "facts_ok": True, "content_ok": True, "wording_ok": True}


@scenario_files.parametrize("opinion")
def test_opinion_scenario(scenario):
    scenario_files.run("opinion", scenario)


def test_the_edit_form_refuses_reporting_an_item_that_failed_a_check():
    import pytest
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as refused:
        FORMS["opinion.edit"]().load({**PASSED, "wording_ok": False, "decision": "report"})
    assert "decision" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["opinion.edit"]().load({**PASSED, "decision": "not_adopted"})
    assert "not_adopted_reason" in refused.value.messages


def test_the_editors_title_is_held_to_the_rulebooks_length_as_the_members_is():
    import pytest
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as refused:
        FORMS["opinion.edit"]().load({**PASSED, "decision": "report", "edited_title": "题" * 101})
    assert "max_title" in str(refused.value.messages["edited_title"])
    assert FORMS["opinion.edit"]().load({**PASSED, "decision": "report", "edited_title": "题" * 100})


def test_every_element_is_drawn_so_a_modeler_opens_the_diagram():
    from xml.etree import ElementTree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    root = ElementTree.parse(ROOT / "bpmn" / "opinion.bpmn").getroot()
    process = root.find("bpmn:process", ns)
    elements = {e.get("id") for e in process if e.get("id")}
    drawn = {e.get("bpmnElement") for e in root.iter() if e.tag.endswith("BPMNShape") or e.tag.endswith("BPMNEdge")}
    assert elements and elements == drawn - {"opinion"}
