"""Evaluation's jobs, as plain functions of the unit of work, the rules and validated input.

Rating rounds are in ``ratings.py``, the checklist rules in ``checklist.py`` and the units' annual
assessment in ``assessment.py``; this module holds the remaining jobs the engine sends.
"""

from __future__ import annotations

import functools
import re

from marshmallow import Schema, ValidationError, validate

from shared.contracts import field_types as fields

from shared.contracts.fields import INT32_MAX
from shared import clock
from shared.calendar import local_date
from shared.errors import InvalidInput
from shared.contracts.jobs.evaluation import CO_UNIT_INPUT
from shared.contracts.jobs.evaluation import GradeQuality as GradeQualityParams
from shared.contracts.jobs.evaluation import RecordFollowup as RecordFollowupParams
from shared.contracts.jobs.evaluation import RecordOutcome as RecordOutcomeParams
from shared.contracts.jobs.evaluation import ScoreHandling as ScoreHandlingParams
from shared.validation import load

from . import checklist
from .quality import score_checklist
from .models import FollowUp, HandlingScore, Outcome, QualityGrade
from .rules import EvaluationRules
from .unit_of_work import EvaluationUnitOfWork


def record_outcome(uow: EvaluationUnitOfWork, params: dict, principal: dict | None) -> dict:
    data = load(RecordOutcomeParams, params, "evaluation.record_outcome parameters")
    row = Outcome(submission_id=data["submission_id"], outcome=data["outcome"], recorded_at=clock.now())
    uow.scores.add_outcome(row)
    uow.flush()
    return {"outcome_id": row.id, "outcome": row.outcome}


def record_followup(uow: EvaluationUnitOfWork, params: dict, principal: dict | None) -> dict:
    """A unit's further reply on a B-category answer, perhaps reaching a milestone."""
    data = load(RecordFollowupParams, params, "evaluation.record_followup parameters")
    row = FollowUp(
        number=data["number"], milestone=data["milestone"], due=data["due"], reply=data["text"], replied_at=clock.now()
    )
    uow.scores.add_followup(row)
    uow.flush()
    return {"followup_id": row.id}


def grade_quality(uow: EvaluationUnitOfWork, rules: EvaluationRules, params: dict, principal: dict | None) -> dict:
    """The committee's grade of a proposal, one of the rulebook's ``quality_grades``; grading
    again replaces the grade."""
    data = load(GradeQualityParams, params, "evaluation.grade_quality parameters")
    checklist = None
    if data["quality_checklist"] is not None:
        checklist = score_checklist(rules, data["quality_checklist"])
        data["grade"] = checklist["grade"]
    grades = [grade.code for grade in rules.quality_grades()]
    if data["grade"] not in grades:
        raise InvalidInput(
            "evaluation.grade_quality parameters are not valid",
            {"grade": [f"not a quality grade of the rulebook; one of: {', '.join(grades)}"]},
        )
    row = uow.scores.quality_grade(data["number"])
    if row is None:
        row = QualityGrade(number=data["number"])
        uow.scores.add_quality_grade(row)
    row.grade, row.graded_by, row.graded_at = data["grade"], data["graded_by"], clock.now()
    row.points, row.checklist = (checklist["points"], checklist) if checklist else (None, None)
    uow.flush()
    return {"grade": row.grade, "points": row.points}


def _count():
    return fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=INT32_MAX))


def _facts_schemas(rules: EvaluationRules) -> dict[str, Schema]:
    """The facts each role's checklist is scored from, by role: a schema instance each."""
    categories = tuple(c.code for c in rules.reply_categories())  # enabled ones only
    levels = tuple(level.code for level in rules.satisfaction_levels())
    return _facts_schemas_of(categories, levels)


# Made once for each set of the rulebook's codes (a changed rulebook gets its own): making the two
# schema classes and their instances cost more than loading a job's facts with them.
@functools.lru_cache(maxsize=16)
def _facts_schemas_of(categories: tuple[str, ...], levels: tuple[str, ...]) -> dict[str, Schema]:
    answering = Schema.from_dict(
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
    co = Schema.from_dict(
        {
            "signed_on_time": fields.Boolean(required=True),
            "input": fields.String(required=True, validate=validate.OneOf(CO_UNIT_INPUT)),
        },
        name="CoUnitFacts",
    )
    return {"answering": answering(), "co": co()}


def _scored_units(rules: EvaluationRules, params: dict) -> tuple[str, list[dict]]:
    """The number and ``[{unit, role, facts}]``, each unit's facts checked for its role; the
    one-unit form (``unit`` with ``facts``) is one answering unit."""
    data = load(ScoreHandlingParams, params, "evaluation.score_handling parameters")
    units = data["units"] or [{"unit": data["unit"], "role": "answering", "facts": data["facts"]}]
    schemas, errors = _facts_schemas(rules), {}
    for i, entry in enumerate(units):
        try:
            entry["facts"] = schemas[entry["role"]].load(entry["facts"])
        except ValidationError as exc:
            errors[str(i)] = {"facts": exc.messages}
    if errors:
        raise InvalidInput("evaluation.score_handling parameters are not valid", {"units": errors})
    return data["number"], units


def assessment_year(number: str) -> int:
    """The session year in a number like ``2027-0001``; for any other number, this year."""
    match = re.match(r"^(\d{4})-", number)
    return int(match.group(1)) if match else local_date(clock.now()).year


def score_handling(uow: EvaluationUnitOfWork, rules: EvaluationRules, params: dict, principal: dict | None) -> dict:
    """Score every unit of a proposal, each on its own facts: an answering unit (单办, each of
    分办, the lead of 主办) on the handling checklist, a co-unit (协办) on the co-unit checklist.

    One job, one transaction: the proposal's scores are the units listed; scoring again replaces
    them, and a unit scored before but not listed now loses its score. Returns ``{units: [{unit,
    role, total, max, items}], rulebook_version}`` in the order given."""
    number, units = _scored_units(rules, params)
    kept = {row.unit: row for row in uow.scores.handling_scores_of(number)}
    now, year, scored_units = clock.now(), assessment_year(number), []
    for entry in units:
        scored = checklist.score(entry["facts"], rules, entry["role"])
        row = kept.pop(entry["unit"], None)
        if row is None:
            row = HandlingScore(number=number, unit=entry["unit"])
            uow.scores.add_handling_score(row)
        row.role, row.year, row.items, row.total = entry["role"], year, scored["items"], scored["total"]
        row.facts, row.scored_at = entry["facts"], now
        row.rulebook_version, row.rulebook_hash = rules.version, rules.content_hash
        scored_units.append({"unit": entry["unit"], "role": entry["role"], **scored})
    for stale in kept.values():  # no longer one of the proposal's units
        uow.scores.remove_handling_score(stale)
    uow.flush()
    return {"units": scored_units, "rulebook_version": rules.version}
