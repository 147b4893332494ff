"""Opinion information (社情民意信息): what intake accepts and answers. The length limits come from
the rulebook ``bpmn/rules/opinion.yaml``; intake checks them again (``services/intake/opinion_schemas.py``)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, validate, validates_schema  # noqa: F401

from shared.contracts import field_types as fields


from ..fields import Text, UtcDateTime, not_blank

CONTENT = ("situation", "analysis", "suggestion")
STATUS_ZH = {
    "saved": "已保存",
    "submitted": "未审核",
    "not_adopted": "未采用",
    "reviewed": "已审核",
    "signed_off": "已签发",
    "sent": "已报送",
    "adopted": "已采用",
    "forwarded": "已转办",
    "not_handled": "未办理",
    "handled": "已办理",
    "converted": "已转为提案",
    "cancelled": "已撤销",  # an operator cancelled its process (process.cancelled)
}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class OpinionContentSchema(_Strict):
    """One matter (一事一报): title, situation, analysis, suggestion; at most the rulebook's
    ``limits.max_characters`` together (checked by intake)."""

    title = Text(required=True, validate=not_blank)
    situation = Text(required=True, validate=not_blank)
    analysis = Text(required=True, validate=not_blank)
    suggestion = Text(required=True, validate=not_blank)


class OpinionDraftSchema(OpinionContentSchema):
    """A new item as a member or an informant submits it (``submit: false`` saves it unsubmitted)."""

    urgent = fields.Boolean(load_default=False, metadata={"description": "急事急报: edited first"})
    area = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(min=1, max=30),
        metadata={
            "description": "the 1533 model's area (one of the proposal rulebook's areas); optional, staff "
            "set or change it"
        },
    )
    submit = fields.Boolean(load_default=True, metadata={"description": "false: save it, submit later"})


class OpinionSubmissionCommand(_Strict):
    """An item submitted over AMQP (queue ``ztc.intake.opinions``) by a member's or informant's app:
    ``reference`` makes a repeated delivery a no-op. The submitter is the app's broker user (the
    AMQP ``user_id``), never the body: a ``principal`` in the body is refused unless it names that
    same person."""

    reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    principal = fields.Dict(load_default=None)
    item = fields.Dict(required=True)


class CaseContent(OpinionContentSchema):
    pass


class ToProposalRequest(_Strict):
    """The proposal made of an item: its text by default; the proposal's own choices."""

    kind = fields.String(load_default="between_sessions", validate=validate.OneOf(["plenary", "between_sessions"]))
    title = Text(load_default=None, allow_none=True)
    situation = Text(load_default=None, allow_none=True)
    analysis = Text(load_default=None, allow_none=True)
    suggestions = Text(load_default=None, allow_none=True)
    publish_consent = fields.Boolean(required=True)
    no_publish_reason = Text(load_default=None, allow_none=True)
    cosigners = fields.List(fields.String(), load_default=list)


class AdoptionRequest(_Strict):
    channel = fields.String(required=True, validate=not_blank)
    adopted = fields.Boolean(required=True)
    note = Text(load_default="", validate=validate.Length(max=2000))
    publishable = fields.Boolean(
        load_default=False,
        metadata={
            "description": "an adoption that may be published: only such are in the public list of adopted items"
        },
    )


class InstructionRequest(_Strict):
    channel = fields.String(required=True, validate=not_blank)
    level = fields.String(required=True, validate=not_blank, metadata={"description": "city | province | national"})
    leader = Text(required=True, validate=[not_blank, validate.Length(max=100)])
    text = Text(required=True, validate=[not_blank, validate.Length(max=4000)])


class AnswerRequest(_Strict):
    text = Text(required=True, validate=[not_blank, validate.Length(max=4000)])


# -- output ------------------------------------------------------------------------------------


class CheckSchema(Schema):
    round = fields.Integer()
    check = fields.String()
    passed = fields.Boolean()
    note = fields.String()
    checked_by = fields.String()
    checked_at = UtcDateTime()


class ReportSchema(Schema):
    channel = fields.String()
    issue = fields.Function(lambda r: r.issue.number)
    signed_off_by = fields.String()
    reported_at = UtcDateTime()
    adoption = fields.String(allow_none=True)
    adoption_note = fields.String(allow_none=True)
    adoption_at = UtcDateTime(allow_none=True)


class InstructionSchema(Schema):
    channel = fields.String()
    level = fields.String()
    leader = fields.String()
    text = fields.String()
    recorded_by = fields.String()
    recorded_at = UtcDateTime()


class ForwardSchema(Schema):
    unit = fields.String()
    request = fields.String()
    due = UtcDateTime()
    status = fields.String()
    forwarded_at = UtcDateTime()
    answer = fields.String(allow_none=True)
    answered_by = fields.String(allow_none=True)
    answered_at = UtcDateTime(allow_none=True)


class EventSchema(Schema):
    at = UtcDateTime()
    actor = fields.String()
    action = fields.String()
    data = fields.Raw(allow_none=True)


class OpinionSchema(Schema):
    """An item as its submitter, staff, the committee and leaders see it. A list of items also
    holds other members' adopted items as they may see them (``PublicOpinionSchema``: the submitter
    masked, no working notes, with ``adopted_by`` and ``instruction_levels``)."""

    number = fields.String()
    thread = fields.String()
    title = fields.String()
    situation = fields.String()
    analysis = fields.String()
    suggestion = fields.String()
    urgent = fields.Boolean()
    area = fields.String(allow_none=True)
    submitter = fields.String()
    submitter_role = fields.String()
    status = fields.String()
    status_zh = fields.String()
    not_adopted_reason = fields.String(allow_none=True)
    origin_case = fields.String(allow_none=True)
    converted_to = fields.String(allow_none=True)
    created_at = UtcDateTime()
    submitted_at = UtcDateTime(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema))
    reports = fields.List(fields.Nested(ReportSchema))
    instructions = fields.List(fields.Nested(InstructionSchema))
    forwards = fields.List(fields.Nested(ForwardSchema))
    adopted_by = fields.List(fields.String(), metadata={"description": "in another member's adopted item"})
    instruction_levels = fields.List(fields.String(), metadata={"description": "in another member's adopted item"})


class PublicOpinionSchema(Schema):
    """An adopted item as other members see it: the submitter masked, no working notes."""

    number = fields.String()
    title = fields.String()
    status = fields.String()
    status_zh = fields.String()
    submitter = fields.String()
    adopted_by = fields.List(fields.String())
    instruction_levels = fields.List(fields.String())


class UnitOpinionSchema(Schema):
    """An item forwarded to a department, as the department sees it: the text and its own forward."""

    number = fields.String()
    title = fields.String()
    situation = fields.String()
    analysis = fields.String()
    suggestion = fields.String()
    status = fields.String()
    forward = fields.Nested(ForwardSchema)
