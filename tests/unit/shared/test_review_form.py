"""The reply review form reads the proposal rulebook: a category the rulebook disables (D by
default) is refused at the form, field by field, so no job ends as an incident for it; a reply
recategorised to B carries its milestones (at least one, at most the rulebook's, each ahead)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from shared import rulebook as rulebooks
from shared.forms import ReviewReplyForm


AHEAD = [{"what": "完成设计", "due": "2099-06-30"}]


def test_an_enabled_category_is_taken():
    loaded = ReviewReplyForm().load({"action": "accept", "override_category": "B", "override_milestones": AHEAD})
    assert loaded["override_category"] == "B"
    assert loaded["override_milestones"] == [{"milestone": 1, "what": "完成设计", "due": "2099-06-30"}]
    assert ReviewReplyForm().load({"action": "accept", "override_category": "C"})["override_milestones"] == []


@pytest.mark.parametrize(
    "data, why",
    [
        ({"override_category": "B"}, "at least one"),
        ({"override_category": "B", "override_milestones": [{"what": "x", "due": "2020-01-01"}]}, "must be after"),
        ({"override_category": "B", "override_milestones": AHEAD * 11}, "at most 10"),
        ({"override_category": "A", "override_milestones": AHEAD}, "leave them out"),
        ({"override_milestones": AHEAD}, "leave them out"),
    ],
)
def test_a_recategorisation_to_b_carries_its_milestones_and_no_other_does(data, why):
    with pytest.raises(ValidationError) as refused:
        ReviewReplyForm().load({"action": "accept", **data})
    assert why in str(refused.value.messages["override_milestones"])


def test_a_category_the_rulebook_disables_is_refused_at_the_form():
    with pytest.raises(ValidationError) as refused:
        ReviewReplyForm().load({"action": "accept", "override_category": "D"})
    assert "override_category" in refused.value.messages
    assert "A, B, C" in refused.value.messages["override_category"][0]


def test_a_committee_that_enables_d_may_choose_it(tmp_path, monkeypatch):
    text = (rulebooks.RULES_DIRECTORY / "proposal.yaml").read_text(encoding="utf-8")
    (tmp_path / "proposal.yaml").write_text(
        text.replace(
            "en: Explained (cannot be adopted), enabled: false", "en: Explained (cannot be adopted), enabled: true"
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(rulebooks, "RULES_DIRECTORY", tmp_path)
    assert ReviewReplyForm().load({"action": "accept", "override_category": "D"})["override_category"] == "D"


def test_an_extension_is_approved_until_a_date_after_today_or_as_asked(skipping_clock):
    """A date already past can never move a deadline: refused when staff complete the task, not
    found later by supervision with the instance stuck on an incident."""
    from datetime import datetime, timezone

    from shared.forms import ApproveExtensionForm

    skipping_clock.set(datetime(2026, 12, 3, 4, 0, tzinfo=timezone.utc))  # noon in Beijing
    for past in ("2020-01-01", "2026-12-03"):
        with pytest.raises(ValidationError) as refused:
            ApproveExtensionForm().load({"approved": True, "until": past})
        assert "after today (2026-12-03)" in str(refused.value.messages["until"])
    assert ApproveExtensionForm().load({"approved": True, "until": "2026-12-04"})["until"] == "2026-12-04"
    assert ApproveExtensionForm().load({"approved": True})["until"] is None  # as the unit asked
    assert ApproveExtensionForm().load({"approved": False, "until": None})["approved"] is False
