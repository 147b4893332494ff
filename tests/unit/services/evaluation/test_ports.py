"""Evaluation's rules on its ports alone: the in-memory unit of work and calendar-day rules of
``tests/unit/services/evaluation/fakes.py``, no database and no calendar file. What is sent is checked
against the contracts by the fake (``tests/unit/shared/fakes.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.evaluation import appeals, assessment, merged, operations, ratings
from services.evaluation.points import excellence
from services.evaluation.points import rulebook as points_rulebook
from services.evaluation.points.rules import RulebookPointsRules
from services.evaluation.service import EvaluationService
from shared import rulebook as rulebooks
from shared.contracts.messages import APPEAL_LODGED, RATINGS_COMPLETE
from shared.errors import Conflict, TooLate

from .fakes import FakeEvaluationUnitOfWork, FakeRules

NUMBER = "2027-0001"
LI = {"user": "member.li", "roles": ["member"], "unit": None}
ZHAO = {"user": "member.zhao", "roles": ["member"], "unit": None}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
FACTS = {
    "signed_on_time": True,
    "face_to_face": True,
    "replied_on_time": True,
    "extensions": 0,
    "rehandling_rounds": 0,
    "category": "A",
    "satisfaction": ["satisfied"],
}


@pytest.fixture
def uow():
    return FakeEvaluationUnitOfWork()


@pytest.fixture
def rules():
    return FakeRules(rating_days=10, appeal_days=15)


def rate_all(uow, rules, level, *proposers):
    for who in proposers:
        ratings.rate(uow, rules, NUMBER, level, level, None, who)


def test_the_last_rating_closes_the_round_and_sends_one_ratings_complete(uow, rules, skipping_clock):
    opened = ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li", "member.zhao"]})
    assert opened["due"] == (skipping_clock.now() + timedelta(days=10)).isoformat()  # the rules' window
    assert [e["payload"]["round"] for e in uow.events("handling.rating_opened")] == [1]
    first = ratings.rate(uow, rules, NUMBER, "satisfied", "satisfied", None, LI)
    assert first["round_closed"] is False and uow.messages() == []
    last = ratings.rate(uow, rules, NUMBER, "satisfied", "unsatisfied", "not solved", ZHAO)
    assert last["round_closed"] is True
    [message] = uow.messages(RATINGS_COMPLETE)
    assert (message["correlation_key"], message["payload"]["rehandle"]) == (NUMBER, True)
    assert [r["rater"] for r in message["payload"]["ratings"]] == ["member.li", "member.zhao"]
    assert uow.ratings.rounds[0].outcome == "rehandle"
    with pytest.raises(Conflict):
        ratings.rate(uow, rules, NUMBER, "satisfied", "satisfied", None, LI)


def test_the_window_closing_records_the_silent_and_sends_once(uow, rules):
    ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li", "member.zhao"]})
    ratings.rate(uow, rules, NUMBER, "satisfied", "satisfied", None, LI)
    closed = ratings.close_window(uow, rules, {"number": NUMBER, "round": 1})
    assert (closed["closed"], closed["outcome"], closed["not_given"]) == (True, "accepted", ["member.zhao"])
    again = ratings.close_window(uow, rules, {"number": NUMBER, "round": 1})
    assert again == {"round": 1, "closed": False, "outcome": "accepted", "not_given": ["member.zhao"]}
    [message] = uow.messages(RATINGS_COMPLETE)
    assert message["payload"]["not_given"] == ["member.zhao"]


def test_a_merged_proposals_proposer_rates_through_their_own_number(uow, rules):
    filed = {
        "event_id": "proposal.filed:2027-0002",
        "name": "proposal.filed",
        "occurred_at": "2027-03-01T00:00:00+00:00",
        "subject": "2027-0002",
        "members": [{"member": "member.zhao", "role": "lead"}],
        "payload": {"merged_into": NUMBER},
    }
    assert merged.hear(uow, filed) and merged.hear(uow, filed)
    assert len(uow.ratings.merges) == 1
    ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]})
    assert uow.ratings.rounds[0].proposers == ["member.li", "member.zhao"]
    assert ratings.rate(uow, rules, "2027-0002", "satisfied", "satisfied", None, ZHAO)["number"] == NUMBER


def test_a_rehandled_reply_rated_unsatisfied_is_appealed_once_within_the_window(uow, rules, skipping_clock):
    ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]})
    rate_all(uow, rules, "unsatisfied", LI)
    ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]})
    rate_all(uow, rules, "unsatisfied", LI)
    second = uow.ratings.rounds[1]
    assert (second.outcome, second.appeal_due) == ("appealable", skipping_clock.now() + timedelta(days=15))
    lodged = appeals.appeal(uow, NUMBER, "still unsafe", LI)
    assert (lodged["round"], lodged["appellant"]) == (2, "member.li")
    [message] = uow.messages(APPEAL_LODGED)
    assert message["correlation_key"] == NUMBER
    assert [e["name"] for e in uow.events()][-2:] == ["handling.appealed", "notify.appeal_lodged"]
    with pytest.raises(Conflict):
        appeals.appeal(uow, NUMBER, "again", LI)
    decided = appeals.decide(uow, {"number": NUMBER, "round": 2, "decision": "upheld", "reason": "done"}, None)
    assert decided["decision"] == "upheld" and second.outcome == "upheld"
    assert len(uow.events("handling.appeal_decided")) == 1


def test_an_appeal_after_the_window_is_too_late(uow, rules, skipping_clock):
    for _ in range(2):
        ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]})
        rate_all(uow, rules, "unsatisfied", LI)
    skipping_clock.advance(days=16)
    with pytest.raises(TooLate):
        appeals.appeal(uow, NUMBER, "late", LI)
    assert uow.ratings.appeals == [] and uow.messages(APPEAL_LODGED) == []


def test_scores_are_kept_with_the_rules_identity_and_a_unit_no_longer_listed_loses_its_score(uow, rules):
    both = {
        "number": NUMBER,
        "units": [
            {"unit": "transport", "role": "answering", "facts": FACTS},
            {"unit": "police", "role": "co", "facts": {"signed_on_time": True, "input": "late"}},
        ],
    }
    result = operations.score_handling(uow, rules, both, None)
    assert result["rulebook_version"] == "0"
    assert {(s.unit, s.role, s.rulebook_hash) for s in uow.scores.scores} == {
        ("transport", "answering", "sha256:fake"),
        ("police", "co", "sha256:fake"),
    }
    operations.score_handling(uow, rules, {"number": NUMBER, "units": both["units"][:1]}, None)
    assert [s.unit for s in uow.scores.scores] == ["transport"]


def test_the_unit_assessment_counts_the_final_rounds_ratings(uow, rules):
    operations.score_handling(uow, rules, {"number": NUMBER, "unit": "transport", "facts": FACTS}, None)
    ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li"]})
    rate_all(uow, rules, "satisfied", LI)
    [unit] = assessment.ranking(uow, rules, 2027, STAFF)["units"]
    assert (unit["unit"], unit["rank"], unit["satisfaction"]["ratings"]) == ("transport", 1, 1)
    assert unit["satisfaction"]["result"]["satisfied"] == 1.0


def test_an_excellent_grade_tells_the_ledger_of_the_proposers(uow, rules):
    ratings.open_round(uow, rules, {"number": NUMBER, "proposers": ["member.li", "member.zhao"]})
    graded = operations.grade_quality(uow, rules, {"number": NUMBER, "grade": "excellent", "graded_by": "c"}, None)
    assert excellence.announce(uow, NUMBER, graded["grade"]) is True
    [event] = uow.events(excellence.EVENT)
    assert event["members"] == [{"member": "member.li", "role": "lead"}, {"member": "member.zhao", "role": "co"}]
    assert uow.scores.grades[NUMBER].grade == "excellent"


def test_each_worker_reads_the_rulebooks_as_they_are_now(tmp_path, monkeypatch):
    source = rulebooks.RULES_DIRECTORY / "proposal.yaml"
    (tmp_path / "proposal.yaml").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(rulebooks, "RULES_DIRECTORY", tmp_path)
    terms = tmp_path / "points"
    terms.mkdir()
    (terms / "14.yaml").write_text(RulebookPointsRules().term("14").path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(points_rulebook, "directory", lambda: terms)
    proposal_rules, points_rules = EvaluationService.rules, EvaluationService.points_rules
    assert "D" not in [c.code for c in proposal_rules.get_dependency(None).reply_categories()]
    assert points_rules.get_dependency(None).term("14").version == "14.1"

    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(
        proposal.read_text(encoding="utf-8").replace(
            "en: Explained (cannot be adopted), enabled: false", "en: Explained (cannot be adopted), enabled: true"
        ),
        encoding="utf-8",
    )
    term = terms / "14.yaml"
    term.write_text(term.read_text(encoding="utf-8").replace('version: "14.1"', 'version: "14.2b"'), encoding="utf-8")
    assert "D" in [c.code for c in proposal_rules.get_dependency(None).reply_categories()], "the next worker"
    assert points_rules.get_dependency(None).term("14").version == "14.2b"
