"""The reply review form reads the proposal rulebook: a category the rulebook disables (D by
default) is refused at the form, field by field, so no job ends as an incident for it."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from shared import rulebook as rulebooks
from shared.forms import ReviewReplyForm


def test_an_enabled_category_is_taken():
    assert ReviewReplyForm().load({"action": "accept", "override_category": "B"})["override_category"] == "B"


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
