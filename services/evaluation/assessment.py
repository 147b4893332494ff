"""The units' annual assessment (目标考核), computed from handling scores and ratings, never typed.

For each unit with handling scores in the year: the proposals it handled, their average checklist
score, the share replied on time (a fact of each score), and the proposers' satisfaction with the
handling work and with the result, counted over the final rating round of each of its proposals
(the newest round that closed with every proposer's rating; a superseded round does not count).
"""
from __future__ import annotations

from collections import defaultdict

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from shared.rulebook import load_rulebook
from shared.validation import load

from .access import principal_of, require_overseer
from .checklist import points
from .models import HandlingScore, RatingRound
from .ratings import NOT_GIVEN, SCORES, given

FINAL_OUTCOMES = ("accepted", "rehandle")


class AssessmentInput(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=1949, max=9999))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _final_ratings(session, numbers) -> dict:
    rounds = session.scalars(select(RatingRound).where(RatingRound.number.in_(numbers),
                                                       RatingRound.outcome.in_(FINAL_OUTCOMES))
                             .order_by(RatingRound.round)).all()
    final = {r.number: r for r in rounds}  # ordered by round: the newest wins
    return {number: list(r.ratings) for number, r in final.items()}


def _satisfaction(all_ratings, levels) -> dict:
    """Shares of each level among the ratings given; ``not_given`` counts the proposers silent
    when their round's rating window ended, who are in no share."""
    ratings = given(all_ratings)
    shares = {score: {level: _rate(sum(getattr(r, score) == level for r in ratings), len(ratings))
                      for level in levels} for score in SCORES}
    return {"ratings": len(ratings), "not_given": sum(r.handling == NOT_GIVEN for r in all_ratings),
            **shares}


def unit_assessment(session, year, principal, rulebook=None) -> dict:
    """``{year, units: [{unit, proposals_handled, average_handling_score, on_time_rate,
    satisfaction: {ratings, handling: {level: share}, result: {level: share}}}]}``, by unit."""
    caller = principal_of(principal)
    require_overseer(caller, "the units' assessment")
    data = load(AssessmentInput, {"year": year}, "the assessment year")
    levels = [level.code for level in (rulebook or load_rulebook("proposal")).satisfaction_levels()]
    scores = session.scalars(select(HandlingScore).where(HandlingScore.year == data["year"])
                             .order_by(HandlingScore.unit, HandlingScore.number)).all()
    ratings = _final_ratings(session, sorted({s.number for s in scores}))
    by_unit = defaultdict(list)
    for row in scores:
        by_unit[row.unit].append(row)
    units = []
    for unit, rows in by_unit.items():
        rated = [r for row in rows for r in ratings.get(row.number, [])]
        units.append({
            "unit": unit,
            "proposals_handled": len(rows),
            "average_handling_score": points(sum(row.total for row in rows) / len(rows)),
            "on_time_rate": _rate(sum(bool(row.facts.get("replied_on_time")) for row in rows), len(rows)),
            "satisfaction": _satisfaction(rated, levels),
        })
    return {"year": data["year"], "units": units}
