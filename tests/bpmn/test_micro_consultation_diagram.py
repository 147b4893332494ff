"""micro_consultation.bpmn driven through every path by the runtime alone, with a skipping clock
and a save/restore at every wait state: every scenario of bpmn/micro_consultation.scenarios.yaml
(what `ztc test` runs). Job results stand in for the assignment and intake services; their rules
are tested in their own tiers."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from shared.forms import FORMS
from tests.bpmn import scenario_files


@scenario_files.parametrize("micro_consultation")
def test_micro_consultation_scenario(scenario):
    scenario_files.run("micro_consultation", scenario)


def test_the_forms_refuse_what_does_not_fit():
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.decide"]().load({"outcome": "answered"})
    assert "answer" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.meeting"]().load({"meeting_form": "by_letter", "held_on": "2026-01-10", "summary": "s"})
    with pytest.raises(ValidationError) as ahead:  # recorded once it was held: a day to come is refused
        FORMS["consultation.meeting"]().load({"meeting_form": "on_site", "held_on": "2999-01-10", "summary": "s"})
    assert "record the meeting once it was held" in str(ahead.value.messages["held_on"])
    assert "meeting_form" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.return_visit"]().load({"reached": True, "satisfaction": "happy"})
    assert "satisfaction" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.dispatch"]().load({"dispatch_action": "close", "close_reason": "bored"})
    assert "close_reason" in refused.value.messages
