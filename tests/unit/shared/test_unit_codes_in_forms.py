"""Every form that names departments checks their codes against the unit directory: a typo in an
assignment, a forwarding or a meeting record is a 400 naming the field and the closest codes, not
an incident (assignment's ``no_unit``, which the proposal diagram does not catch) or a task that
comes back with no reason (the opinion and meeting jobs' errors)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from shared.forms import AssignForm, ConsultationMeetingForm, OpinionForwardForm
from shared.names import seeded_units

MEETING = {"meeting_form": "online", "held_on": "2026-01-10", "summary": "现场协商"}


@pytest.mark.parametrize(
    "form, data, field",
    [
        (AssignForm, {"mode": "single", "units": ["transprot"]}, "units"),
        (AssignForm, {"mode": "several", "units": ["transport", "nowhere"]}, "units"),
        (AssignForm, {"mode": "lead_co", "lead": "nowhere", "co_units": ["education"]}, "lead"),
        (AssignForm, {"mode": "lead_co", "lead": "transport", "co_units": ["educaton"]}, "co_units"),
        (OpinionForwardForm, {"forward": True, "units": ["housing", "nowhere"]}, "units"),
        (ConsultationMeetingForm, {**MEETING, "units": ["nowhere"]}, "units"),
    ],
)
def test_a_unit_the_directory_lacks_is_refused_by_the_form(form, data, field):
    with pytest.raises(ValidationError) as refused:
        form().load(data)
    said = str(refused.value.messages[field])
    assert "is not a unit of the directory" in said


def test_the_refusal_suggests_the_closest_codes():
    with pytest.raises(ValidationError) as refused:
        AssignForm().load({"mode": "single", "units": ["transprot"]})
    assert refused.value.messages["units"] == {
        0: ["'transprot' is not a unit of the directory; did you mean transport?"]
    }


def test_every_unit_of_the_directory_is_taken():
    codes = sorted(seeded_units())
    assert len(codes) >= 3
    assert AssignForm().load({"mode": "several", "units": codes})["units"] == codes
    assert OpinionForwardForm().load({"forward": True, "units": codes})["units"] == codes
    loaded = AssignForm().load({"mode": "lead_co", "lead": codes[0], "co_units": codes[1:]})
    assert (loaded["lead"], loaded["co_units"]) == (codes[0], codes[1:])
    assert ConsultationMeetingForm().load({**MEETING, "units": codes[:2]})["units"] == codes[:2]
