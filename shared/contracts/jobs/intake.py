"""Jobs of the intake service: proposals (提 立 公开) and opinion items (社情民意)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from ..fields import Strict, Text
from .base import Operation, register

DECISIONS = ("filed", "not_filed", "returned", "merged")
CONVERSIONS = ("opinion", "letter", "none")


class RecordSubmission(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    business_key = fields.String(allow_none=True, load_default=None)


class ProposalRef(Schema):
    proposal_id = fields.Integer(required=True, strict=True)


class RecordFiling(ProposalRef):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason_code = fields.String(allow_none=True, load_default=None)
    convert_to = fields.String(allow_none=True, load_default="none", validate=validate.OneOf(CONVERSIONS))
    # Not checked here: a number that names no proposal is merge_target_invalid, which the diagram catches.
    merge_into = fields.String(allow_none=True, load_default=None)
    note = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    decided_by = fields.String(required=True, validate=validate.Length(min=1, max=100))
    # the 1533 model's area staff set at filing (a code of the proposal rulebook's areas, checked by
    # intake); none leaves the area as it is
    area = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=30))

    @validates_schema
    def _decision_needs(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["decision"] == "not_filed" and not data.get("reason_code"):
            raise ValidationError("a not-filed decision needs a reason code", field_name="reason_code")
        if data["decision"] == "merged" and not data.get("merge_into"):
            raise ValidationError("a merge needs the number of the proposal to merge into", field_name="merge_into")
        if data["decision"] != "not_filed" and (data.get("convert_to") or "none") != "none":
            raise ValidationError("only a proposal that is not filed is converted", field_name="convert_to")


class FilingRefused(ProposalRef):
    """What the diagram caught when the filing decision could not be recorded (its error's code and
    message, the ``filing_refused`` variable) and who decided: the committee is told, and decides again."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    message = Text(load_default="", validate=validate.Length(max=2000))
    decided_by = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    # the proposal the committee chose to merge into, if it did (its refusal is then said in Chinese)
    merge_into = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=50))


class Publish(ProposalRef):
    units = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    reply_category = fields.String(required=True, validate=validate.Length(min=1, max=10))
    reply_summary = Text(required=True, validate=validate.Length(min=1))
    followup_pending = fields.Boolean(
        load_default=False,
        metadata={"description": "a category B reply: published now, its follow-up reply still to come"},
    )


class PublishFollowup(ProposalRef):
    text = Text(required=True, validate=validate.Length(min=1))


class AnswerMerged(ProposalRef):
    reply_category = fields.String(required=True)
    reply_summary = fields.String(load_default="")


class ItemRef(Schema):
    item_id = fields.Integer(required=True, strict=True)


class FourChecksDecide:
    """The editing decision fits the four checks (四关): an item that failed one is not reported, and
    one not adopted says why. Mixed into the editing job's parameters and the editing task's form."""

    @validates_schema
    def _decision_fits_checks(self, data: dict[str, Any], **kwargs: object) -> None:
        failed = [c for c in ("political", "facts", "content", "wording") if not data[f"{c}_ok"]]
        if data["decision"] == "report" and failed:
            raise ValidationError(f"an item that failed {', '.join(failed)} is not reported", "decision")
        if data["decision"] == "not_adopted" and not data.get("not_adopted_reason"):
            raise ValidationError("the submitter is told why: give the reason", "not_adopted_reason")


class RecordEditing(FourChecksDecide, ItemRef):
    """The four checks (四关), each passed or not with a note, and the decision."""

    political_ok = fields.Boolean(required=True)
    political_note = fields.String(load_default="")
    facts_ok = fields.Boolean(required=True)
    facts_note = fields.String(load_default="")
    content_ok = fields.Boolean(required=True)
    content_note = fields.String(load_default="")
    wording_ok = fields.Boolean(required=True)
    wording_note = fields.String(load_default="")
    decision = fields.String(required=True, validate=validate.OneOf(["report", "not_adopted"]))
    not_adopted_reason = fields.String(load_default=None, allow_none=True)
    edited_title = fields.String(load_default=None, allow_none=True)
    edited_by = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ReportOpinion(ItemRef):
    channels = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    signed_off_by = fields.String(required=True, validate=validate.Length(min=1, max=100))
    comment = fields.String(load_default="", allow_none=True)


class ReturnToEditing(ItemRef):
    comment = fields.String(load_default="", allow_none=True)
    returned_by = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ForwardOpinion(ItemRef):
    units = fields.List(fields.String(validate=validate.Length(min=1)), required=True, validate=validate.Length(min=1))
    request = fields.String(load_default="")
    forwarded_by = fields.String(required=True, validate=validate.Length(min=1, max=100))


class OpenOpinionFromCase(Strict):
    """A micro-consultation case becomes an opinion item in its thread."""

    thread = fields.String(required=True, validate=validate.Length(min=1, max=100))
    member = fields.String(required=True, validate=validate.Length(min=1, max=100))
    content = fields.Raw(required=True, metadata={"description": "{title, situation, analysis, suggestion} or text"})
    title = fields.String(load_default=None, allow_none=True)
    case_number = fields.String(required=True, validate=validate.Length(min=1, max=100))
    urgent = fields.Boolean(load_default=False)


class OpenProposalFromCase(Strict):
    """A micro-consultation case becomes a proposal in its thread."""

    thread = fields.String(required=True, validate=validate.Length(min=1, max=100))
    member = fields.String(required=True, validate=validate.Length(min=1, max=100))
    content = fields.Raw(required=True, metadata={"description": "{title, situation, analysis, suggestions} or text"})
    title = fields.String(load_default=None, allow_none=True)
    case_number = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(load_default="between_sessions")
    publish_consent = fields.Boolean(load_default=True)


register(
    Operation("intake.record_submission", RecordSubmission, "record a submission (the smoke diagram)"),
    Operation("intake.settle_cosigners", ProposalRef, "close co-signing: who signed, who did not"),
    Operation("intake.find_duplicates", ProposalRef, "near-duplicates of the proposal this year"),
    Operation(
        "intake.record_filing",
        RecordFiling,
        "the filing decision (立案): filed, not filed, returned, merged",
        ("merge_target_invalid", "unknown_reason"),
    ),
    Operation(
        "intake.record_filing_refused",
        FilingRefused,
        "the filing decision could not be recorded (a merge the proposal cannot take): the committee is told why",
    ),
    Operation(
        "intake.publish",
        Publish,
        "publish the proposal and its reply, personal data masked",
        ("not_publishable", "unknown_reply_category"),
    ),
    Operation(
        "intake.publish_followup",
        PublishFollowup,
        "the follow-up reply of a category B answer: the published record says it was received",
    ),
    Operation("intake.answer_merged", AnswerMerged, "give each merged proposal the answer of the one it joined"),
    Operation(
        "intake.record_editing",
        RecordEditing,
        "the four checks of an opinion item and the decision",
        ("not_in_editing",),
    ),
    Operation("intake.return_to_editing", ReturnToEditing, "send an opinion item back to editing"),
    Operation(
        "intake.report_opinion",
        ReportOpinion,
        "report an opinion item through its channels (报)",
        ("not_reviewed", "unknown_channel"),
    ),
    Operation("intake.close_reporting", ItemRef, "close the reporting of an opinion item"),
    Operation(
        "intake.forward_opinion",
        ForwardOpinion,
        "forward an adopted item to departments (转办)",
        ("not_adopted", "unknown_unit"),
    ),
    Operation("intake.mark_answers_overdue", ItemRef, "departments' answers to a forwarded item are overdue"),
    Operation("intake.close_opinion", ItemRef, "close an opinion item and tell its submitter (馈)"),
    Operation(
        "intake.open_opinion_from_case", OpenOpinionFromCase, "a micro-consultation case becomes an opinion item"
    ),
    Operation("intake.open_proposal_from_case", OpenProposalFromCase, "a micro-consultation case becomes a proposal"),
)
