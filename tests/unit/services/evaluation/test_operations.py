"""Evaluation's rules on a real SQLite session: rating rounds, the handling checklist, follow-ups,
quality grades and the units' annual assessment."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime, timezone

import openpyxl

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from services.evaluation import assessment, operations, ratings
from services.evaluation.assessment import unit_assessment
from services.evaluation.models import (
    Base,
    FollowUp,
    HandlingScore,
    Outbox,
    Outcome,
    QualityGrade,
    Rating,
    RatingRound,
)
from services.evaluation.ratings import open_round, rate, ratings_of
from shared import contracts
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from shared.calendar import DataFileError
from shared.rulebook import RULES_DIRECTORY, load_rulebook
from services.evaluation.rules import RulebookRules

from .fakes import sql_ports, sql_uow

NUMBER = "2027-0001"
LI = {"user": "member.li", "roles": ["member"]}
ZHAO = {"user": "member.zhao", "roles": ["member"]}
WU = {"user": "member.wu", "roles": ["member"]}
STAFF = {"user": "staff.wang", "roles": ["staff"]}
LEADER = {"user": "vice.chair.chen", "roles": ["leader"]}
HANDLER = {"user": "handler.sun", "roles": ["unit"], "unit": "transport"}


@pytest.fixture
def session(tmp_path, skipping_clock):
    engine = create_engine(f"sqlite:///{tmp_path}/evaluation.db")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        yield s
    engine.dispose()


def open_first_round(session, *proposers):
    return open_round(*sql_ports(session), {"number": NUMBER, "proposers": [p["user"] for p in proposers]})


def ratings_complete_messages(session):
    rows = session.scalars(
        select(Outbox).where(Outbox.routing_key == contracts.MESSAGE_ROUTING_KEY).order_by(Outbox.id)
    ).all()
    return [row.payload for row in rows]


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


# -- who rates ------------------------------------------------------------------------------------


def test_a_proposer_of_the_open_round_rates_the_reply(session):
    open_first_round(session, LI, ZHAO)
    rating = rate(*sql_ports(session), NUMBER, "satisfied", "basically_satisfied", "quick and clear", LI)
    assert (rating["rater"], rating["round"], rating["round_closed"]) == ("member.li", 1, False)
    assert count(session, Rating) == 1


def merged_into_number(session, merged_number, *proposers):
    from services.evaluation import merged

    members = [{"member": p["user"], "role": "lead" if i == 0 else "co"} for i, p in enumerate(proposers)]
    return merged.hear(
        sql_uow(session),
        {
            "event_id": f"proposal.filed:{merged_number}",
            "name": "proposal.filed",
            "occurred_at": "2027-03-01T00:00:00+00:00",
            "subject": merged_number,
            "members": members,
            "payload": {"number": merged_number, "merged_into": NUMBER},
        },
    )


def test_a_merged_proposals_proposers_rate_the_answer_they_share_through_their_own_number(session):
    assert merged_into_number(session, "2027-0002", WU)
    assert merged_into_number(session, "2027-0002", WU)  # heard twice: remembered once
    opened = open_first_round(session, LI)
    assert opened["round"] == 1
    assert session.scalars(select(RatingRound)).one().proposers == ["member.li", "member.wu"]
    rating = rate(*sql_ports(session), "2027-0002", "satisfied", "satisfied", "", WU)
    assert (rating["number"], rating["rater"], rating["round_closed"]) == (NUMBER, "member.wu", False)
    assert rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", "", LI)["round_closed"]
    again = open_round(*sql_ports(session), {"number": NUMBER, "proposers": ["member.li"], "round": 1})  # the job again
    assert again["round"] == 1 and count(session, RatingRound) == 1


def test_a_filed_proposal_that_joined_nothing_is_no_merge(session):
    from services.evaluation import merged

    assert not merged.hear(
        sql_uow(session),
        {
            "event_id": "proposal.filed:2027-0003",
            "name": "proposal.filed",
            "occurred_at": "2027-03-01T00:00:00+00:00",
            "subject": "2027-0003",
            "members": [{"member": "member.li", "role": "lead"}],
            "payload": {},
        },
    )
    open_first_round(session, LI)
    with pytest.raises(NotFound):  # another member: as if there were no round to rate
        rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", "", WU)


@pytest.mark.parametrize(
    "outsider, refusal",
    [(STAFF, Forbidden), (LEADER, Forbidden), (HANDLER, Forbidden), (WU, NotFound)],
    ids=["staff", "leader", "unit", "other_member"],
)
def test_nobody_but_a_proposer_may_rate(session, outsider, refusal):
    """Roles that never rate are refused; another member hears 404, the words said of a proposal
    with no round open, so a number tried tells them nothing."""
    open_first_round(session, LI)
    with pytest.raises(refusal) as refused:
        rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, outsider)
    assert count(session, Rating) == 0
    if refusal is NotFound:
        with pytest.raises(NotFound) as never:
            rate(*sql_ports(session), "2026-0999", "satisfied", "satisfied", None, outsider)
        assert str(refused.value).replace(NUMBER, "N") == str(never.value).replace("2026-0999", "N")


def test_staff_cannot_rate_on_a_members_behalf_even_under_the_members_name(session):
    open_first_round(session, LI)
    with pytest.raises(Forbidden):
        rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, {"user": "member.li", "roles": ["staff"]})
    assert count(session, Rating) == 0


def test_rating_without_a_principal_is_unauthenticated(session):
    open_first_round(session, LI)
    with pytest.raises(Unauthenticated):
        rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, None)


def test_rating_a_proposal_without_a_round_is_not_found(session):
    with pytest.raises(NotFound):
        rate(*sql_ports(session), "2027-0404", "satisfied", "satisfied", None, LI)


def test_each_rating_keeps_two_scores_handling_and_result(session):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "unsatisfied", "polite, but nothing changed", LI)
    row = session.scalars(select(Rating)).one()
    assert (row.handling, row.result, row.comment) == ("satisfied", "unsatisfied", "polite, but nothing changed")


def test_a_second_rating_by_the_same_proposer_in_a_round_is_a_conflict(session):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    with pytest.raises(Conflict):
        rate(*sql_ports(session), NUMBER, "unsatisfied", "unsatisfied", None, LI)
    assert session.scalars(select(Rating.handling)).all() == ["satisfied"]


def test_levels_outside_the_rulebook_are_refused_field_by_field(session):
    open_first_round(session, LI)
    with pytest.raises(InvalidInput) as refused:
        rate(*sql_ports(session), NUMBER, "delighted", "meh", None, LI)
    assert set(refused.value.details) == {"handling", "result"}
    assert count(session, Rating) == 0


# -- closing a round -------------------------------------------------------------------------------


def test_the_round_closes_when_every_proposer_has_rated_and_tells_the_engine_once(session):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    assert ratings_complete_messages(session) == []

    last = rate(*sql_ports(session), NUMBER, "basically_satisfied", "satisfied", "fine", ZHAO)
    assert last["round_closed"] is True
    with pytest.raises(Conflict, match="is closed"):
        rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)

    [message] = ratings_complete_messages(session)
    assert (message["name"], message["correlation_key"], message["message_id"]) == (
        "ratings_complete",
        NUMBER,
        f"ratings-{NUMBER}-1",
    )
    assert message["payload"]["round"] == 1 and message["payload"]["rehandle"] is False
    assert [(r["rater"], r["handling"], r["result"]) for r in message["payload"]["ratings"]] == [
        ("member.li", "satisfied", "satisfied"),
        ("member.zhao", "basically_satisfied", "satisfied"),
    ]
    closed = session.scalars(select(RatingRound)).one()
    assert closed.closed_at is not None and closed.outcome == "accepted"


def test_a_round_is_reported_once_even_when_a_racing_rater_also_finds_it_complete(session):
    open_first_round(session, LI)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    rating_round = session.scalars(select(RatingRound)).one()
    # A second transaction that passed the same checks tries to close the round as well.
    assert ratings._close_when_everyone_rated(*sql_ports(session), rating_round) is False
    assert len(ratings_complete_messages(session)) == 1


@pytest.mark.parametrize("handling, result", [("unsatisfied", "satisfied"), ("satisfied", "unsatisfied")])
def test_any_unsatisfied_score_sends_the_reply_back_for_rehandling(session, handling, result):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    rate(*sql_ports(session), NUMBER, handling, result, None, ZHAO)
    [message] = ratings_complete_messages(session)
    assert message["payload"]["rehandle"] is True
    assert session.scalars(select(RatingRound.outcome)).one() == "rehandle"


def test_after_rehandling_a_second_round_is_rated_and_reported_on_its_own(session, skipping_clock):
    open_first_round(session, LI)
    rate(*sql_ports(session), NUMBER, "basically_satisfied", "unsatisfied", "not solved", LI)
    skipping_clock.advance(days=30)

    assert open_round(*sql_ports(session), {"number": NUMBER, "proposers": ["member.li"]})["round"] == 2
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", "solved now", LI)

    first, second = ratings_complete_messages(session)
    assert (first["message_id"], first["payload"]["rehandle"]) == (f"ratings-{NUMBER}-1", True)
    assert (second["message_id"], second["payload"]["rehandle"]) == (f"ratings-{NUMBER}-2", False)
    assert second["payload"]["ratings"][0]["comment"] == "solved now"


def test_opening_the_same_round_again_is_a_repeat(session):
    first = open_first_round(session, LI, ZHAO)
    assert first["round"] == 1
    assert (
        open_round(*sql_ports(session), {"number": NUMBER, "proposers": ["member.li", "member.zhao"], "round": 1})
        == first
    )
    assert count(session, RatingRound) == 1


def test_a_newer_round_supersedes_an_unfinished_one_without_a_message(session):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    open_round(*sql_ports(session), {"number": NUMBER, "proposers": ["member.li", "member.zhao"], "round": 2})
    outcomes = session.scalars(select(RatingRound.outcome).order_by(RatingRound.round)).all()
    assert outcomes == ["superseded", None]
    assert ratings_complete_messages(session) == []


def test_a_round_needs_proposers(session):
    with pytest.raises(InvalidInput) as refused:
        open_round(*sql_ports(session), {"number": NUMBER, "proposers": []})
    assert "proposers" in refused.value.details


# -- the rating window ----------------------------------------------------------------------------


def test_a_round_is_open_for_the_rulebooks_rating_window(session, skipping_clock, tmp_path):
    opened = open_first_round(session, LI)
    start = skipping_clock.now()
    due = datetime.fromisoformat(opened["due"])
    assert 28 <= (due - start).days <= 32  # one month by default
    text = (
        (RULES_DIRECTORY / "proposal.yaml")
        .read_text(encoding="utf-8")
        .replace("rating_window: {amount: 1, unit: months}", "rating_window: {amount: 10, unit: days}")
    )
    path = tmp_path / "proposal.yaml"
    path.write_text(text, encoding="utf-8")
    shorter = open_round(
        *sql_ports(session, load_rulebook("proposal", path)), {"number": "2027-0002", "proposers": ["member.li"]}
    )
    assert 10 <= (datetime.fromisoformat(shorter["due"]) - start).days <= 11


def test_when_the_window_ends_silent_proposers_are_recorded_as_not_given_and_the_round_closes(session):
    open_first_round(session, LI, ZHAO, WU)
    rate(*sql_ports(session), NUMBER, "basically_satisfied", "satisfied", None, ZHAO)

    closed = ratings.close_window(*sql_ports(session), {"number": NUMBER, "round": 1})

    assert (closed["closed"], closed["outcome"], closed["not_given"]) == (True, "accepted", ["member.li", "member.wu"])
    [message] = ratings_complete_messages(session)
    assert message["message_id"] == f"ratings-{NUMBER}-1"
    assert message["payload"]["rehandle"] is False
    assert [r["rater"] for r in message["payload"]["ratings"]] == ["member.zhao"]
    assert message["payload"]["not_given"] == ["member.li", "member.wu"]
    recorded = {r.rater: (r.handling, r.result) for r in session.scalars(select(Rating))}
    assert recorded["member.li"] == recorded["member.wu"] == ("not_given", "not_given")
    with pytest.raises(Conflict, match="is closed"):
        rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    [seen] = ratings_of(sql_uow(session), NUMBER, STAFF)["rounds"]
    assert sorted(r["handling"] for r in seen["ratings"]) == ["basically_satisfied", "not_given", "not_given"]


def test_an_unsatisfied_rating_given_before_the_window_ended_still_sends_the_reply_back(session):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "unsatisfied", None, LI)
    closed = ratings.close_window(*sql_ports(session), {"number": NUMBER, "round": 1})
    assert (closed["outcome"], closed["not_given"]) == ("rehandle", ["member.zhao"])
    assert ratings_complete_messages(session)[0]["payload"]["rehandle"] is True


def test_nobody_rating_closes_the_round_as_accepted_with_every_proposer_not_given(session):
    open_first_round(session, LI)
    closed = ratings.close_window(*sql_ports(session), {"number": NUMBER, "round": 1})
    assert (closed["outcome"], closed["not_given"]) == ("accepted", ["member.li"])
    assert ratings_complete_messages(session)[0]["payload"]["ratings"] == []


def test_closing_a_round_the_last_rating_already_closed_sends_nothing_more(session):
    open_first_round(session, LI)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    closed = ratings.close_window(*sql_ports(session), {"number": NUMBER, "round": 1})
    assert (closed["closed"], closed["outcome"], closed["not_given"]) == (False, "accepted", [])
    assert len(ratings_complete_messages(session)) == 1
    assert ratings.close_window(*sql_ports(session), {"number": NUMBER, "round": 1})["closed"] is False


def test_closing_an_unknown_round_is_not_found(session):
    with pytest.raises(NotFound):
        ratings.close_window(*sql_ports(session), {"number": NUMBER, "round": 1})


# -- who sees ratings ------------------------------------------------------------------------------


def test_a_proposer_sees_only_their_own_ratings_and_staff_see_all(session):
    open_first_round(session, LI, ZHAO)
    rate(*sql_ports(session), NUMBER, "satisfied", "satisfied", None, LI)
    rate(*sql_ports(session), NUMBER, "unsatisfied", "unsatisfied", None, ZHAO)

    [own_round] = ratings_of(sql_uow(session), NUMBER, LI)["rounds"]
    assert [r["rater"] for r in own_round["ratings"]] == ["member.li"]
    [all_round] = ratings_of(sql_uow(session), NUMBER, STAFF)["rounds"]
    assert [r["rater"] for r in all_round["ratings"]] == ["member.li", "member.zhao"]
    assert all_round["outcome"] == "rehandle"


def test_outsiders_do_not_see_ratings(session):
    open_first_round(session, LI)
    with pytest.raises(Forbidden):  # a unit never sees ratings
        ratings_of(sql_uow(session), NUMBER, HANDLER)
    # Another member hears what they would of a proposal never rated: not that this one was.
    with pytest.raises(NotFound) as hidden:
        ratings_of(sql_uow(session), NUMBER, WU)
    with pytest.raises(NotFound) as never_rated:
        ratings_of(sql_uow(session), "2026-9999", WU)
    assert str(hidden.value).replace(NUMBER, "N") == str(never_rated.value).replace("2026-9999", "N")


# -- the handling checklist -----------------------------------------------------------------------

EXEMPLARY = {
    "signed_on_time": True,
    "face_to_face": True,
    "replied_on_time": True,
    "extensions": 0,
    "rehandling_rounds": 0,
    "category": "A",
    "satisfaction": ["satisfied", "satisfied"],
}


def score(session, facts, unit="transport", number=NUMBER, rulebook=None, role="answering"):
    """One unit of the proposal scored; its score (tests/unit/services/evaluation/test_split_scoring.py
    scores several units at once)."""
    params = {"number": number, "units": [{"unit": unit, "role": role, "facts": facts}]}
    [scored] = operations.score_handling(*sql_ports(session, rulebook), params, None)["units"]
    return scored


def by_item(scored):
    return {i["item"]: i for i in scored["items"]}


def test_exemplary_handling_earns_every_point_of_the_checklist(session):
    scored = score(session, EXEMPLARY)
    assert scored["total"] == 120 and scored["max"] == 120
    assert {i["item"]: (i["points"], i["max"]) for i in scored["items"]} == {
        "organisation": (20, 20),
        "procedure": (20, 20),
        "face_to_face": (20, 20),
        "timeliness": (20, 20),
        "result": (40, 40),
    }


def test_each_checklist_item_is_scored_by_its_rule_and_says_why(session):
    facts = {
        "signed_on_time": False,
        "face_to_face": False,
        "replied_on_time": True,
        "extensions": 1,
        "rehandling_rounds": 1,
        "category": "B",
        "satisfaction": ["satisfied", "basically_satisfied", "unsatisfied"],
    }
    scored = score(session, facts)
    items = by_item(scored)
    assert {code: item["points"] for code, item in items.items()} == {
        "organisation": 10,
        "procedure": 15,
        "face_to_face": 0,
        "timeliness": 15,
        "result": 25,
    }
    assert scored["total"] == 65 == sum(item["points"] for item in scored["items"])
    assert "late" in items["organisation"]["why"]
    assert "1 round of re-handling" in items["procedure"]["why"]
    assert "no face-to-face" in items["face_to_face"]["why"]
    assert "1 extension" in items["timeliness"]["why"]
    assert "category B" in items["result"]["why"] and "1 unsatisfied" in items["result"]["why"]


def test_a_late_reply_earns_no_timeliness_and_extensions_never_push_an_on_time_reply_below_half(session):
    late = by_item(score(session, {**EXEMPLARY, "replied_on_time": False}))["timeliness"]
    many_extensions = by_item(score(session, {**EXEMPLARY, "extensions": 5}, unit="education"))["timeliness"]
    assert (late["points"], many_extensions["points"]) == (0, 10)


def test_checklist_points_are_rounded_to_one_decimal_and_still_add_up(session):
    facts = {**EXEMPLARY, "category": "C", "satisfaction": ["satisfied", "satisfied", "basically_satisfied"]}
    scored = score(session, facts)
    assert by_item(scored)["result"]["points"] == 26.7  # 40 x (1/2 + 5/6) / 2
    assert scored["total"] == 106.7


def test_checklist_weights_come_from_the_rulebook(session, tmp_path):
    text = (RULES_DIRECTORY / "proposal.yaml").read_text(encoding="utf-8")
    text = text.replace("en: Organisation, points: 20}", "en: Organisation, points: 30}")
    text = text.replace("en: Result, points: 40}", "en: Result, points: 30}")
    path = tmp_path / "proposal.yaml"
    path.write_text(text, encoding="utf-8")
    scored = score(session, {**EXEMPLARY, "signed_on_time": False}, rulebook=load_rulebook("proposal", path))
    assert (by_item(scored)["organisation"]["points"], by_item(scored)["organisation"]["max"]) == (15, 30)
    assert by_item(scored)["result"]["max"] == 30


def test_a_category_the_rulebook_disables_is_refused(session):
    with pytest.raises(InvalidInput) as refused:
        score(session, {**EXEMPLARY, "category": "D"})
    assert "category" in refused.value.details["units"]["0"]["facts"]
    assert count(session, HandlingScore) == 0


def test_scoring_again_replaces_the_units_score_and_keeps_the_facts(session):
    score(session, EXEMPLARY)
    score(session, {**EXEMPLARY, "face_to_face": False})
    row = session.scalars(select(HandlingScore)).one()
    assert (row.total, row.facts["face_to_face"], row.year) == (100, False, 2027)
    assert row.rulebook_hash.startswith("sha256:")


# -- follow-ups, quality grades, outcomes ---------------------------------------------------------


def test_a_followup_reply_is_recorded_with_its_milestone(session):
    due = datetime(2027, 9, 30, tzinfo=timezone.utc)
    done = operations.record_followup(
        sql_uow(session),
        {"number": NUMBER, "text": "the shelter is built", "milestone": "construction", "due": due.isoformat()},
        None,
    )
    row = session.get(FollowUp, done["followup_id"])
    assert (row.reply, row.milestone, row.due.date()) == ("the shelter is built", "construction", due.date())


def test_the_committee_grades_proposal_quality_and_may_regrade(session):
    assert operations.grade_quality(
        *sql_ports(session), {"number": NUMBER, "grade": "good", "graded_by": "committee"}, None
    ) == {
        "grade": "good",
        "points": None,
    }
    operations.grade_quality(*sql_ports(session), {"number": NUMBER, "grade": "excellent", "graded_by": "chair"}, None)
    row = session.scalars(select(QualityGrade)).one()
    assert (row.grade, row.graded_by) == ("excellent", "chair")
    with pytest.raises(InvalidInput):
        operations.grade_quality(*sql_ports(session), {"number": NUMBER, "grade": "superb", "graded_by": "chair"}, None)


def test_recording_an_outcome_still_works_for_the_smoke_diagram(session):
    result = operations.record_outcome(sql_uow(session), {"submission_id": 7, "outcome": "answered"}, None)
    assert result["outcome"] == "answered" and count(session, Outcome) == 1


# -- the units' annual assessment -----------------------------------------------------------------


def rated_round(session, number, *scores):
    """Open a round for one proposer per (handling, result) pair and let each rate."""
    raters = [f"member.{number}.{i}" for i in range(len(scores))]
    open_round(*sql_ports(session), {"number": number, "proposers": raters})
    for rater, (handling, result) in zip(raters, scores, strict=True):
        rate(*sql_ports(session), number, handling, result, None, {"user": rater, "roles": ["member"]})


def test_the_unit_assessment_aggregates_scores_and_final_ratings(session):
    score(session, EXEMPLARY, unit="transport", number="2027-0001")
    score(session, {**EXEMPLARY, "replied_on_time": False, "face_to_face": False}, unit="transport", number="2027-0002")
    score(session, EXEMPLARY, unit="education", number="2027-0003")
    score(session, EXEMPLARY, unit="transport", number="2026-0009")  # another year
    rated_round(session, "2027-0001", ("unsatisfied", "unsatisfied"))  # round 1, sent back
    rated_round(session, "2027-0001", ("satisfied", "satisfied"))  # round 2 is final
    rated_round(session, "2027-0002", ("basically_satisfied", "satisfied"), ("satisfied", "unsatisfied"))

    table = unit_assessment(*sql_ports(session), 2027, STAFF)
    assert table["year"] == 2027 and [u["unit"] for u in table["units"]] == ["education", "transport"]
    transport = table["units"][1]
    assert transport["proposals_handled"] == 2
    assert transport["average_handling_score"] == 100  # (120 + 80) / 2
    assert transport["on_time_rate"] == 0.5
    assert (transport["face_to_face_rate"], table["units"][0]["face_to_face_rate"]) == (0.5, 1)
    assert transport["satisfaction"]["ratings"] == 3
    assert transport["satisfaction"]["handling"] == {
        "satisfied": 0.6667,
        "basically_satisfied": 0.3333,
        "unsatisfied": 0,
    }
    assert transport["satisfaction"]["result"] == {"satisfied": 0.6667, "basically_satisfied": 0, "unsatisfied": 0.3333}
    education = table["units"][0]
    assert education["satisfaction"] == {
        "ratings": 0,
        "not_given": 0,
        "handling": {"satisfied": None, "basically_satisfied": None, "unsatisfied": None},
        "result": {"satisfied": None, "basically_satisfied": None, "unsatisfied": None},
    }


@pytest.mark.parametrize("who", [LI, HANDLER], ids=["member", "unit"])
def test_only_staff_committee_and_leaders_see_the_unit_assessment(session, who):
    with pytest.raises(Forbidden):
        unit_assessment(*sql_ports(session), 2027, who)


def test_the_assessment_takes_the_years_every_other_route_takes(session):
    """1900-2999, as the gateway's year path and the public notice: a year inside with nothing in
    it is an empty table (the notice of that year is an empty notice), not a refusal."""
    assert unit_assessment(*sql_ports(session), 1900, STAFF)["units"] == []
    assert unit_assessment(*sql_ports(session), 2999, STAFF)["units"] == []
    for year in (1899, 3000):
        with pytest.raises(InvalidInput):
            unit_assessment(*sql_ports(session), year, STAFF)


# -- the units' 目标考核 scores, ranking and export ------------------------------------------------


def assessed_year(session):
    score(session, EXEMPLARY, unit="transport", number="2027-0001")
    score(session, {**EXEMPLARY, "replied_on_time": False, "face_to_face": False}, unit="transport", number="2027-0002")
    score(session, EXEMPLARY, unit="education", number="2027-0003")
    rated_round(session, "2027-0001", ("satisfied", "satisfied"))
    rated_round(session, "2027-0002", ("basically_satisfied", "satisfied"), ("satisfied", "unsatisfied"))


def test_each_unit_gets_a_weighted_score_and_a_rank(session):
    assessed_year(session)
    table = assessment.ranking(*sql_ports(session), 2027, STAFF)
    # transport: 0.6 x 200/240 + 0.2 x 1/2 + 0.2 x (1+1+1/2+1+1+0)/6 = 0.75; education was not
    # rated, so handling and on time count alone: (0.6 x 1 + 0.2 x 1) / 0.8 = 1
    assert [(u["rank"], u["unit"], u["score"]) for u in table["units"]] == [(1, "education", 100), (2, "transport", 75)]
    assert table["weights"] == {"handling": 0.6, "on_time": 0.2, "satisfaction": 0.2}


def test_the_weights_are_the_rulebooks_and_equal_scores_share_a_rank(session, tmp_path):
    assessed_year(session)
    text = (
        (RULES_DIRECTORY / "proposal.yaml")
        .read_text(encoding="utf-8")
        .replace("handling: 0.6 ", "handling: 0 ")
        .replace("on_time: 0.2 ", "on_time: 0.8 ")
    )
    path = tmp_path / "proposal.yaml"
    path.write_text(text, encoding="utf-8")
    table = assessment.ranking(*sql_ports(session, load_rulebook("proposal", path)), 2027, STAFF)
    # transport: 0.8 x 1/2 + 0.2 x 3/4 = 0.55
    assert [(u["rank"], u["unit"], u["score"]) for u in table["units"]] == [(1, "education", 100), (2, "transport", 55)]
    score(session, EXEMPLARY, unit="health", number="2027-0004")
    ranked = assessment.ranking(*sql_ports(session, load_rulebook("proposal", path)), 2027, STAFF)
    assert [(u["rank"], u["unit"]) for u in ranked["units"]] == [(1, "education"), (1, "health"), (3, "transport")]


def test_weights_that_do_not_add_up_to_one_are_refused_naming_the_field(tmp_path):
    text = (RULES_DIRECTORY / "proposal.yaml").read_text(encoding="utf-8").replace("handling: 0.6 ", "handling: 0.7 ")
    path = tmp_path / "proposal.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"unit_assessment\.weights: the weights add up to 1.1"):
        load_rulebook("proposal", path)


def test_the_ranked_assessment_exports_as_xlsx_with_the_expected_figures(session):
    assessed_year(session)
    exported = assessment.export(*sql_ports(session), 2027, "xlsx", STAFF)
    assert exported["filename"] == "unit-assessment-2027.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(exported["content_base64"])))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:2] == ("排名 Rank", "承办单位 Unit") and rows[0][-1] == "考核得分 Score"
    assert rows[1] == (1, "education", 1, 120, 0, None, 1, 0, 1, None, 0, 100)
    assert rows[2] == (2, "transport", 2, 100, 0, None, 0.5, 0, 0.5, 0.6667, 0, 75)
    assert "weights handling 0.6, on_time 0.2, satisfaction 0.2" in rows[4][0]


def test_overdue_work_not_done_counts_as_not_on_time_and_a_unit_that_owes_only_that_is_ranked(session):
    """A unit that has not answered must not rank above one that answered late: supervision's
    overdue replies and co-unit inputs of the year count in each unit's on-time share."""
    assessed_year(session)
    asked = []

    def overdue(year):
        asked.append(year)
        item = {"number": "2027-0004", "kind": "reply", "due": "2027-06-30", "days_overdue": 30}
        return {"education": [item, {**item, "number": "2027-0005"}], "health": [{**item, "number": "2027-0006"}]}

    table = assessment.ranking(*sql_ports(session), 2027, STAFF, overdue)
    assert asked == [2027]
    by_unit = {u["unit"]: u for u in table["units"]}
    # education: one reply on time, two overdue: (0.6 x 1 + 0.2 x 1/3) / 0.8 = 0.8333
    assert (by_unit["education"]["on_time_rate"], by_unit["education"]["overdue_not_done"]) == (0.3333, 2)
    assert by_unit["education"]["score"] == 83.3
    # health owes overdue work and has nothing scored: its on-time share alone, none of three
    assert by_unit["health"]["proposals_handled"] == 0 and by_unit["health"]["on_time_rate"] == 0
    assert by_unit["health"]["score"] == 0 and by_unit["health"]["average_handling_score"] is None
    assert by_unit["transport"]["overdue_not_done"] == 0 and by_unit["transport"]["score"] == 75
    assert [(u["rank"], u["unit"]) for u in table["units"]] == [(1, "education"), (2, "transport"), (3, "health")]
    # and the export says it
    exported = assessment.export(*sql_ports(session), 2027, "csv", STAFF, overdue)
    rows = list(csv.reader(io.StringIO(base64.b64decode(exported["content_base64"]).decode("utf-8-sig"))))
    assert rows[0][7] == "逾期未办 Overdue, not done" and rows[3][1] == "health" and rows[3][7] == "1"


def test_the_ranked_assessment_exports_as_csv(session):
    assessed_year(session)
    exported = assessment.export(*sql_ports(session), 2027, "csv", STAFF)
    text = base64.b64decode(exported["content_base64"]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["1", "education", "1", "120.0", "0", "", "1.0", "0", "1.0", "", "0", "100.0"]
    assert rows[2][-1] == "75.0"
    with pytest.raises(InvalidInput):
        assessment.export(*sql_ports(session), 2027, "pdf", STAFF)
    with pytest.raises(Forbidden):
        assessment.export(*sql_ports(session), 2027, "csv", LI)


# -- schemas made once ------------------------------------------------------------------------------


class WithoutCategoryA(RulebookRules):
    """The packaged rulebook with reply category A disabled."""

    def reply_categories(self):
        return [c for c in super().reply_categories() if c.code != "A"]


def test_the_facts_and_rating_schemas_are_made_once_for_each_set_of_the_rulebooks_codes(session):
    rules = RulebookRules()
    assert operations._facts_schemas(rules) is operations._facts_schemas(RulebookRules())
    assert ratings._rating_schema(("satisfied", "unsatisfied")) is ratings._rating_schema(("satisfied", "unsatisfied"))
    # Other codes get schemas of their own: category A is refused by the rulebook that disables it
    # and accepted again by the one that does not, whichever was asked first.
    params = {"number": NUMBER, "units": [{"unit": "transport", "role": "answering", "facts": EXEMPLARY}]}
    with pytest.raises(InvalidInput) as refused:
        operations.score_handling(sql_uow(session), WithoutCategoryA(), params, None)
    assert "category" in refused.value.details["units"]["0"]["facts"]
    assert operations.score_handling(sql_uow(session), rules, params, None)["units"][0]["total"] == 120
