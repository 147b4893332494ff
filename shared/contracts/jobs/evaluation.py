"""Jobs of the evaluation service: outcomes, rating rounds, follow-ups, scores and grades (评)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from ..fields import number
from .base import Operation, register


class RecordOutcome(Schema):
    submission_id = fields.Integer(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["answered", "overdue", "rejected"]))


class OpenRating(Schema):
    number = number()
    proposers = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), required=True, validate=validate.Length(min=1)
    )
    round = fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(min=1))


class CloseRating(Schema):
    number = number()
    round = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))


class RecordFollowup(Schema):
    number = number()
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    milestone = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    due = fields.AwareDateTime(allow_none=True, load_default=None)


HANDLING_ROLES = ("answering", "co")
CO_UNIT_INPUT = ("on_time", "late", "not_sent")


class ScoredUnit(Schema):
    """One unit's part in a proposal's handling, with its own facts."""

    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(load_default="answering", validate=validate.OneOf(HANDLING_ROLES))
    facts = fields.Dict(
        required=True,
        metadata={
            "description": "answering (单办, 分办, 主办): signed_on_time, face_to_face, replied_on_time, "
            "extensions, rehandling_rounds, category, satisfaction; co (协办): signed_on_time, "
            "input (on_time, late or not_sent)"
        },
    )


class ScoreHandling(Schema):
    """Every unit of a proposal scored at once: each answering unit on the handling checklist, each
    co-unit on the co-unit checklist, from its own facts. The facts' categories and satisfaction
    levels are the rulebook's: evaluation checks them. ``unit`` with ``facts`` (one answering unit)
    is what diagrams deployed before ``units`` send; give one form or the other."""

    number = number()
    units = fields.List(fields.Nested(ScoredUnit), load_default=None, validate=validate.Length(min=1, max=50))
    unit = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    facts = fields.Dict(load_default=None)

    @validates_schema
    def _units_or_one_unit(self, data: dict[str, Any], **kwargs: object) -> None:
        one = data.get("unit") is not None or data.get("facts") is not None
        if data.get("units") is None and not one:
            raise ValidationError("give the units with their facts", "units")
        if data.get("units") is not None and one:
            raise ValidationError("give units, or unit with facts, not both", "units")
        if one and (data.get("unit") is None or data.get("facts") is None):
            raise ValidationError("unit and facts go together", "unit" if data.get("unit") is None else "facts")
        listed = [u["unit"] for u in data.get("units") or []]
        if len(set(listed)) != len(listed):
            raise ValidationError("a unit is listed twice", "units")


class GradeQuality(Schema):
    """The items of the proposal rulebook's ``quality_checklist`` the proposal meets (the grade is
    computed from them; a ``grade`` sent with them is not used) or, as before the checklist, only a
    grade among its ``quality_grades``: evaluation checks both."""

    number = number()
    grade = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=20))
    quality_checklist = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
    )
    graded_by = fields.String(required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def _one_of_grade_or_checklist(self, data: dict[str, Any], **kwargs: object) -> None:
        if data.get("grade") is None and data.get("quality_checklist") is None:
            raise ValidationError("give the quality checklist or a grade", "quality_checklist")


APPEAL_DECISIONS = ("upheld", "rehandle")


class DecideAppeal(Schema):
    """The committee's decision on an appeal: ``upheld`` (the handling stands, the rating stays) or
    ``rehandle`` (another round of re-handling), with its reasons."""

    number = number()
    round = fields.Integer(required=True, validate=validate.Range(min=1))
    decision = fields.String(required=True, validate=validate.OneOf(APPEAL_DECISIONS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    decided_by = fields.String(load_default="system", validate=validate.Length(min=1, max=100))


register(
    Operation("evaluation.record_outcome", RecordOutcome, "record a submission's outcome (the smoke diagram)"),
    Operation(
        "evaluation.open_rating",
        OpenRating,
        "open a rating round for the proposers",
        ("rating_round_exists", "rating_round_outdated"),
    ),
    Operation(
        "evaluation.close_rating",
        CloseRating,
        "the rating window ended: record the silent proposers' ratings as not given and close the round",
    ),
    Operation("evaluation.record_followup", RecordFollowup, "a unit's further reply on a category B answer"),
    Operation(
        "evaluation.score_handling",
        ScoreHandling,
        "score each unit's handling of a proposal: answering units on the checklist, co-units on theirs",
    ),
    Operation("evaluation.grade_quality", GradeQuality, "the committee's quality grade of a proposal"),
    Operation("evaluation.decide_appeal", DecideAppeal, "record the decision on a proposer's appeal", ("no_appeal",)),
)
