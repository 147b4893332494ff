"""What a unit sends about its assignment, the same through either door: over HTTP (the gateway's
``POST /api/assignments/{id}/extension``) and over AMQP (a department's ``<unit>.request_extension``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from ..fields import filled

# The longest extension one request may ask for in months; the rulebook's cap on all extensions
# together (``max_extension``) is supervision's to enforce when staff approve.
MAX_EXTENSION_MONTHS = 12

# The longest text a unit's command takes, one limit for both doors: the gateway's bodies
# (services/gateway/schemas.py) and the AMQP commands (services/assignment/contracts.py) both read
# them here, so a text one door takes the other cannot refuse; docs/asyncapi.yaml states them.
OBJECTION_REASON_MAX = 2000  # ``object``: why the work is not the unit's
UNIT_TEXT_MAX = 10_000  # ``send_input``'s and ``submit_followup``'s text
EXTENSION_REASON_MAX = 2000  # ``request_extension``'s reason


class ObjectionRaised(Schema):
    """异议: why the work is not the unit's (``object``)."""

    reason = fields.String(required=True, validate=[validate.Length(min=1, max=OBJECTION_REASON_MAX), filled])


class UnitText(Schema):
    """A co-unit's input (``send_input``) or a follow-up reply (``submit_followup``): a text."""

    text = fields.String(required=True, validate=[validate.Length(min=1, max=UNIT_TEXT_MAX), filled])


class ExtensionAsked(Schema):
    """延期申请: more time until a date, or for a number of months after the current reply deadline —
    exactly one of ``until`` and ``months``. Staff may approve it as asked (supervision then counts
    the months from the deadline on the rulebook's calendar) or until a date of their own."""

    until = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "the new reply deadline asked for (a date after today)"},
    )
    months = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,  # 1.5 or "2" is refused, not cut to a number of months the unit did not ask for
        validate=validate.Range(min=1, max=MAX_EXTENSION_MONTHS),
        metadata={"description": "calendar months after the current reply deadline"},
    )
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=EXTENSION_REASON_MAX), filled])

    @validates_schema
    def _until_or_months(self, data: dict[str, Any], **kwargs: object) -> None:
        if (data.get("until") is None) == (data.get("months") is None):
            raise ValidationError("give exactly one of 'until' (a date) and 'months'", field_name="until")


class Milestone(Schema):
    """后续办理节点: one step a category B reply promises, what and by when. The rulebook limits how
    many one reply may name (``followup.max_milestones``) and the unit's service checks that each
    due date is still to come."""

    what = fields.String(
        required=True, validate=[validate.Length(min=1, max=500), filled], metadata={"description": "what will be done"}
    )
    due = fields.Date(required=True, metadata={"description": "by when (a date after today)"})


class ReplyDrafted(Schema):
    """A reply drafted with its category (A/B/C, D where enabled) and, for category B, its
    milestones (at least one)."""

    category = fields.String(required=True, validate=validate.Length(min=1, max=10))
    text = fields.String(required=True, validate=[validate.Length(min=1, max=100000), filled])
    milestones = fields.List(
        fields.Nested(Milestone),
        load_default=list,
        metadata={"description": "category B only: the promised steps, at least one"},
    )


class MilestoneReported(Schema):
    """The unit reports one milestone of its category B reply done (``milestone``: its number,
    from 1, in the order the reply listed them)."""

    milestone = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    note = fields.String(
        required=True, validate=[validate.Length(min=1, max=5000), filled], metadata={"description": "what was done"}
    )


class ContactRecorded(Schema):
    """办理沟通: the unit contacted the proposer — how (``kind``, a code of the proposal rulebook's
    ``contact_kinds``: face_to_face, phone, letter, online by default), on which day (not in the
    future, not before the assignment: the unit's service checks both), who met whom, and a note."""

    kind = fields.String(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "a code of the rulebook's contact_kinds, e.g. face_to_face"},
    )
    held_on = fields.Date(required=True, metadata={"description": "the day of the contact (not in the future)"})
    participants = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=1000), filled],
        metadata={"description": "who met whom, e.g. '交通局 王处长 with 委员 张三'"},
    )
    note = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=5000),
        metadata={"description": "what was said"},
    )
