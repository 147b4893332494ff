"""Evaluation's jobs, as plain functions of a session and validated input.

Rating rounds are in ``ratings.py``, the checklist rules in ``checklist.py`` and the units' annual
assessment in ``assessment.py``; this module holds the remaining jobs the engine sends.
"""

from __future__ import annotations

import re

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from shared import clock
from shared.calendar import local_date
from shared.errors import InvalidInput
from shared.rulebook import load_rulebook
from shared.contracts.jobs.evaluation import GradeQuality as GradeQualityParams
from shared.contracts.jobs.evaluation import RecordFollowup as RecordFollowupParams
from shared.contracts.jobs.evaluation import RecordOutcome as RecordOutcomeParams
from shared.validation import load

from . import checklist
from .quality import score_checklist
from .models import FollowUp, HandlingScore, Outcome, QualityGrade

_NUMBER = fields.String(required=True, validate=validate.Length(min=1, max=50))


def record_outcome(session, params: dict, principal: dict | None) -> dict:
    data = load(RecordOutcomeParams, params, "evaluation.record_outcome parameters")
    row = Outcome(submission_id=data["submission_id"], outcome=data["outcome"], recorded_at=clock.now())
    session.add(row)
    session.flush()
    return {"outcome_id": row.id, "outcome": row.outcome}


def record_followup(session, params: dict, principal: dict | None) -> dict:
    """A unit's further reply on a B-category answer, perhaps reaching a milestone."""
    data = load(RecordFollowupParams, params, "evaluation.record_followup parameters")
    row = FollowUp(
        number=data["number"], milestone=data["milestone"], due=data["due"], reply=data["text"], replied_at=clock.now()
    )
    session.add(row)
    session.flush()
    return {"followup_id": row.id}


def grade_quality(session, params: dict, principal: dict | None, rulebook=None) -> dict:
    """The committee's grade of a proposal, one of the rulebook's ``quality_grades``; grading
    again replaces the grade."""
    data = load(GradeQualityParams, params, "evaluation.grade_quality parameters")
    rulebook = rulebook or load_rulebook("proposal")
    checklist = None
    if data["quality_checklist"] is not None:
        checklist = score_checklist(rulebook, data["quality_checklist"])
        data["grade"] = checklist["grade"]
    grades = [grade.code for grade in rulebook.quality_grades()]
    if data["grade"] not in grades:
        raise InvalidInput(
            "evaluation.grade_quality parameters are not valid",
            {"grade": [f"not a quality grade of the rulebook; one of: {', '.join(grades)}"]},
        )
    row = session.scalars(select(QualityGrade).where(QualityGrade.number == data["number"])).first()
    if row is None:
        row = QualityGrade(number=data["number"])
        session.add(row)
    row.grade, row.graded_by, row.graded_at = data["grade"], data["graded_by"], clock.now()
    row.points, row.checklist = (checklist["points"], checklist) if checklist else (None, None)
    session.flush()
    return {"grade": row.grade, "points": row.points}


def _count():
    return fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0))


def _score_params(rulebook):
    categories = [c.code for c in rulebook.reply_categories()]  # enabled ones only
    levels = [level.code for level in rulebook.satisfaction_levels()]
    facts = Schema.from_dict(
        {
            "signed_on_time": fields.Boolean(required=True),
            "face_to_face": fields.Boolean(required=True),
            "replied_on_time": fields.Boolean(required=True),
            "extensions": _count(),
            "rehandling_rounds": _count(),
            "category": fields.String(required=True, validate=validate.OneOf(categories)),
            "satisfaction": fields.List(fields.String(validate=validate.OneOf(levels)), load_default=list),
        },
        name="HandlingFacts",
    )
    return Schema.from_dict(
        {
            "number": _NUMBER,
            "unit": fields.String(required=True, validate=validate.Length(min=1, max=100)),
            "facts": fields.Nested(facts, required=True),
        },
        name="ScoreHandlingParams",
    )


def assessment_year(number: str) -> int:
    """The session year in a number like ``2027-0001``; for any other number, this year."""
    match = re.match(r"^(\d{4})-", number)
    return int(match.group(1)) if match else local_date(clock.now()).year


def score_handling(session, params: dict, principal: dict | None, rulebook=None) -> dict:
    """Score a unit's handling of a proposal on the checklist; scoring again replaces the score."""
    rulebook = rulebook or load_rulebook("proposal")
    data = load(_score_params(rulebook), params, "evaluation.score_handling parameters")
    scored = checklist.score(data["facts"], rulebook)
    row = session.scalars(
        select(HandlingScore).where(HandlingScore.number == data["number"], HandlingScore.unit == data["unit"])
    ).first()
    if row is None:
        row = HandlingScore(number=data["number"], unit=data["unit"])
        session.add(row)
    row.year, row.items, row.total = assessment_year(data["number"]), scored["items"], scored["total"]
    row.facts, row.scored_at = data["facts"], clock.now()
    row.rulebook_version, row.rulebook_hash = rulebook.version, rulebook.content_hash
    session.flush()
    return {**scored, "rulebook_version": rulebook.version}
