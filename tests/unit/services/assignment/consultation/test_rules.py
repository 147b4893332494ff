"""The micro-consultation rulebook: loaded and checked, deadlines with provenance, bad files refused."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.assignment.consultation import rules
from shared.calendar import DataFileError
from shared.config import ROOT

SOURCE = (ROOT / "bpmn" / "rules" / "micro_consultation.yaml").read_text(encoding="utf-8")


def test_the_rulebook_loads_with_every_duration_and_the_diagrams_outcomes():
    rulebook = rules.load_consultation_rules()
    assert rulebook.name == "micro_consultation" and rulebook.content_hash.startswith("sha256:")
    assert rules.codes(rulebook, "outcomes") == ["answered", "opinion", "proposal", "meeting"]
    assert rules.codes(rulebook, "meeting_forms") == ["in_person", "on_site", "online"]
    assert rulebook.rules["reopen_on"] == ["unsatisfied"]


def test_a_deadline_records_the_rule_and_the_rulebook_it_came_from():
    due, provenance = rules.due(
        rules.load_consultation_rules(), "follow_up", datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)
    )
    assert provenance["rule"] == "follow_up" and provenance["due"] == "2026-12-02"
    assert provenance["rulebook"] == "micro_consultation" and provenance["rulebook_version"] == "2027.2"
    assert due == "2026-12-02T16:00:00+00:00", "the end of the due day, Chinese time"


@pytest.mark.parametrize(
    "change,field",
    [
        (("  follow_up: {amount: 30, unit: days}", ""), "durations"),
        (("  - {code: meeting, zh: 协商议事, en: Taken to a consultation meeting}\n", ""), "outcomes"),
        (("reopen_on: [unsatisfied]", "reopen_on: [furious]"), "reopen_on"),
        (("  - {code: converted,", "  - {code: carried_on,"), "close_reasons"),
    ],
)
def test_a_rulebook_that_does_not_fit_the_diagram_is_refused(tmp_path, change, field):
    path = tmp_path / "micro_consultation.yaml"
    assert change[0] in SOURCE
    path.write_text(SOURCE.replace(*change), encoding="utf-8")
    with pytest.raises(DataFileError) as refused:
        rules.load_consultation_rules(path)
    assert field in str(refused.value)
