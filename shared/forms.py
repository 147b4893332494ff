"""Form schemas that user tasks name in diagrams (``formSchema`` property).

A task completed with data that does not fit its schema is refused with field-level messages and
nothing changes. Diagrams naming a schema that is not here are refused at deploy. Every field a
diagram reads has a default, so an expression never meets an undefined name.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema


class Form(Schema):
    class Meta:
        unknown = RAISE


class SmokeReviewForm(Form):
    approved = fields.Boolean(required=True)
    comment = fields.String(load_default="")


class PreReviewForm(Form):
    """Staff pre-review: eligibility, content, format."""

    eligible = fields.Boolean(required=True)
    content_ok = fields.Boolean(required=True)
    format_ok = fields.Boolean(required=True)
    pre_review_notes = fields.String(load_default="", validate=validate.Length(max=2000))


class FilingDecisionForm(Form):
    decision = fields.String(required=True, validate=validate.OneOf(["filed", "not_filed", "returned", "merged"]))
    reason_code = fields.String(load_default=None, allow_none=True)
    convert_to = fields.String(load_default="none", validate=validate.OneOf(["opinion", "letter", "none"]))
    merge_into = fields.String(load_default=None, allow_none=True)
    filing_notes = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _decision_needs(self, data, **kwargs):
        if data["decision"] == "not_filed":
            from shared.rulebook import load_rulebook

            codes = [reason.code for reason in load_rulebook("proposal").reasons()]
            if data.get("reason_code") not in codes:
                raise ValidationError(f"a not-filed decision needs one of the reason codes: {', '.join(codes)}",
                                      "reason_code")
        if data["decision"] == "merged" and not data.get("merge_into"):
            raise ValidationError("a merge needs the number of the proposal to merge into", "merge_into")
        if data["decision"] != "not_filed" and data.get("convert_to", "none") != "none":
            raise ValidationError("only a proposal that is not filed is converted", "convert_to")


class AssignForm(Form):
    mode = fields.String(required=True, validate=validate.OneOf(["single", "several", "lead_co"]))
    units = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    lead = fields.String(load_default=None, allow_none=True)
    co_units = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    key_proposal = fields.Boolean(load_default=False)
    supervising_leader = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _units_fit_the_mode(self, data, **kwargs):
        mode, units, lead, co = data["mode"], data["units"], data.get("lead"), data["co_units"]
        if mode == "single" and len(units) != 1:
            raise ValidationError("a single assignment names exactly one unit", "units")
        if mode == "several" and len(set(units)) < 2:
            raise ValidationError("a several-units assignment names at least two units", "units")
        if mode == "lead_co":
            if not lead:
                raise ValidationError("a lead unit is required", "lead")
            if not co or lead in co:
                raise ValidationError("at least one co-unit, other than the lead", "co_units")
        if data["key_proposal"] and not data.get("supervising_leader"):
            raise ValidationError("a key proposal names its supervising leader", "supervising_leader")


class ApproveExtensionForm(Form):
    approved = fields.Boolean(required=True)
    until = fields.Date(load_default=None, allow_none=True)
    extension_comment = fields.String(load_default="")

    @validates_schema
    def _approval_needs_a_date(self, data, **kwargs):
        if data["approved"] and data.get("until") is None:
            raise ValidationError("an approved extension says until when", "until")

    def load(self, data, **kwargs):
        loaded = super().load(data, **kwargs)
        if loaded.get("until") is not None:
            loaded["until"] = loaded["until"].isoformat()   # task data stays JSON
        return loaded


class ReviewReplyForm(Form):
    action = fields.String(required=True, validate=validate.OneOf(["accept", "send_back"]))
    override_category = fields.String(load_default=None, allow_none=True,
                                      validate=validate.OneOf(["A", "B", "C", "D"]))
    comment = fields.String(load_default="")

    @validates_schema
    def _send_back_says_why(self, data, **kwargs):
        if data["action"] == "send_back" and not data.get("comment"):
            raise ValidationError("say why the reply is sent back", "comment")


class GradeQualityForm(Form):
    grade = fields.String(required=True, validate=validate.OneOf(["excellent", "good", "ordinary"]))


FORMS: dict[str, type[Schema]] = {
    "smoke.review": SmokeReviewForm,
    "proposal.pre_review": PreReviewForm,
    "proposal.filing_decision": FilingDecisionForm,
    "proposal.assign": AssignForm,
    "proposal.approve_extension": ApproveExtensionForm,
    "proposal.review_reply": ReviewReplyForm,
    "proposal.grade_quality": GradeQualityForm,
}
