"""Key proposals (重点提案) chosen at the chair's meeting: the list staff propose, the committee's
decision, and the facts supervision asks intake for (which proposals were filed in the year, who
proposed them). Shapes only: the guidance share comes from the proposal rulebook, read by
supervision."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from ..fields import Text, not_blank

MAX_ITEMS = 500  # a shape limit of one list, far above any year's key proposals


def _number() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=20))


class KeyProposalItemSchema(Schema):
    """One proposal put forward as a key proposal: why, and the leader to supervise it."""

    number = _number()
    reason = Text(required=True, validate=[not_blank, validate.Length(max=2000)])
    leader = fields.String(required=True, validate=validate.Length(min=1, max=100))


def _unique_numbers(items: list[dict[str, Any]], field: str) -> None:
    numbers = [item["number"] for item in items]
    doubles = sorted({n for n in numbers if numbers.count(n) > 1})
    if doubles:
        raise ValidationError(f"each proposal once; named more than once: {', '.join(doubles)}", field)


class KeyProposalListInput(Schema):
    """Staff's list for the chair's meeting (``POST /api/key-proposals/{year}/list``)."""

    items = fields.List(
        fields.Nested(KeyProposalItemSchema), required=True, validate=validate.Length(min=1, max=MAX_ITEMS)
    )
    comment = Text(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _each_once(self, data: dict[str, Any], **kwargs: object) -> None:
        _unique_numbers(data["items"], "items")


class KeyProposalDecisionInput(Schema):
    """The chair's meeting's decision on a list: every item not struck is accepted; ``add`` names
    proposals the meeting chose beyond the list (``POST /api/key-proposals/lists/{id}/decision``)."""

    strike = fields.List(
        fields.String(validate=validate.Length(min=1, max=20)),
        load_default=list,
        validate=validate.Length(max=MAX_ITEMS),
    )
    add = fields.List(fields.Nested(KeyProposalItemSchema), load_default=list, validate=validate.Length(max=MAX_ITEMS))
    comment = Text(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _each_once(self, data: dict[str, Any], **kwargs: object) -> None:
        _unique_numbers(data["add"], "add")
        if len(set(data["strike"])) != len(data["strike"]):
            raise ValidationError("each proposal struck once", "strike")


class FiledProposalSchema(Schema):
    number = fields.String(required=True)
    title = fields.String(required=True)
    proposers = fields.List(fields.String(), required=True)  # the initiator first


class YearFilingFacts(Schema):
    """Intake's answer to ``key_proposal_facts(year, numbers)``: how many proposals of ``year`` were
    filed, their numbers, and each of ``numbers`` that was filed in ``year`` (a number missing from
    ``proposals`` was not)."""

    year = fields.Integer(required=True)
    filed = fields.Integer(required=True)
    filed_numbers = fields.List(fields.String(), required=True)
    proposals = fields.Dict(keys=fields.String(), values=fields.Nested(FiledProposalSchema), required=True)


class GuidanceSchema(Schema):
    share_min = fields.Float(required=True)
    share_max = fields.Float(required=True)
    filed = fields.Integer(required=True)
    key_proposals = fields.Integer(required=True)
    share = fields.Float(required=True, allow_none=True)
    within = fields.Boolean(required=True)
    warning = fields.String(required=True, allow_none=True)


class KeyProposalOutcomeSchema(KeyProposalItemSchema):
    title = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)  # accepted | struck | added; none while undecided


class KeyProposalListSchema(Schema):
    """A list as supervision keeps it, with the guidance share it comes to."""

    id = fields.Integer(required=True)
    year = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["proposed", "decided", "replaced"]))
    proposed_by = fields.String(required=True)
    proposed_at = fields.String(required=True)
    comment = fields.String(allow_none=True)
    items = fields.List(fields.Nested(KeyProposalOutcomeSchema), required=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    decision_comment = fields.String(allow_none=True)
    guidance = fields.Nested(GuidanceSchema, required=True)


class KeyProposalYearSchema(Schema):
    year = fields.Integer(required=True)
    key_proposals = fields.List(fields.Dict(), required=True)  # [{number, supervising_leader}]
    lists = fields.List(fields.Nested(KeyProposalListSchema), required=True)
    guidance = fields.Nested(GuidanceSchema, required=True)
