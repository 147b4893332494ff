"""Jobs of the supervision service: deadlines, reminders, escalations (督)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from ..fields import number
from .base import Operation, register

REPLY_RULES = ("reply_deadline", "rehandling_reply")


def _unit() -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=100))


class Escalate(Schema):
    submission_id = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))


class OpenDeadlines(Schema):
    number = number()
    key_proposal = fields.Boolean(load_default=False, allow_none=True)
    supervising_leader = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    units = fields.List(_unit(), required=True, validate=validate.Length(min=1))
    answering_units = fields.List(_unit(), load_default=None, allow_none=True)
    # After a reassignment: the units whose assignment goes on (assignment.assign's kept_units).
    kept_units = fields.List(_unit(), load_default=list, allow_none=False)
    proposers = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), load_default=list, allow_none=True
    )  # the initiator first: told in proposal.key_selected

    @validates_schema
    def _key_proposal_names_its_leader(self, data: dict[str, Any], **kwargs: object) -> None:
        if data.get("key_proposal") and not data.get("supervising_leader"):
            raise ValidationError("a key proposal names its supervising leader", "supervising_leader")


class NumberRef(Schema):
    number = number()


class Extend(Schema):
    """The new reply deadline: staff's ``until``; without it, as the unit asked (``asked_until``, or
    ``asked_months`` calendar months after the current deadline)."""

    number = number()
    until = fields.Date(load_default=None, allow_none=True)
    asked_until = fields.Date(load_default=None, allow_none=True)
    asked_months = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    # when the unit asked (the extension_requested message): asked after the deadline is refused
    requested_at = fields.AwareDateTime(load_default=None, allow_none=True)
    # which of the units' requests staff approved (the extension_requested message's request_id):
    # deadline.extended carries it so the assignment service approves that request and no other
    request_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))


class SubmittedReply(Schema):
    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))
    submitted_at = fields.AwareDateTime(load_default=None, allow_none=True)


class Close(Schema):
    number = number()
    # when the unit submitted the reply (the reply_submitted message): on time is judged at it
    replied_at = fields.AwareDateTime(load_default=None, allow_none=True)
    # each answering unit's own submission (分办: each unit replies for its part), judged each
    replies = fields.List(fields.Nested(SubmittedReply), load_default=list, validate=validate.Length(max=50))


class Restart(Schema):
    number = number()
    rule = fields.String(required=True, validate=validate.OneOf(REPLY_RULES))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class PromisedMilestone(Schema):
    """One milestone of an accepted category B reply, as the reply carried it."""

    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))
    milestone = fields.Integer(required=True, validate=validate.Range(min=1))
    what = fields.String(required=True, validate=validate.Length(min=1, max=500))
    due = fields.Date(required=True)


class OpenMilestones(Schema):
    number = number()
    milestones = fields.List(fields.Nested(PromisedMilestone), load_default=list)


register(
    Operation("supervision.escalate", Escalate, "escalate an overdue submission (the smoke diagram)"),
    Operation("supervision.open_deadlines", OpenDeadlines, "open the deadlines of an assigned proposal"),
    Operation(
        "supervision.check",
        NumberRef,
        "check the proposal's deadlines: remind, escalate, or wait",
        ("no_reply_deadline",),
    ),
    Operation(
        "supervision.extend",
        Extend,
        "move the reply deadline on an approved extension",
        ("extension_too_long", "extension_after_deadline", "extension_not_later", "no_reply_deadline"),
    ),
    Operation(
        "supervision.restart", Restart, "restart the reply clock (re-handling, reassignment)", ("no_reply_deadline",)
    ),
    Operation("supervision.close", Close, "close the proposal's deadlines; on time judged at the submission"),
    Operation(
        "supervision.open_milestones", OpenMilestones, "open a deadline per milestone of an accepted category B reply"
    ),
    Operation(
        "supervision.check_milestones",
        NumberRef,
        "check the milestone deadlines of a B follow-up: remind, escalate, or wait",
    ),
    Operation(
        "supervision.close_milestones",
        NumberRef,
        "the follow-up reply arrived: close the milestone deadlines still open",
    ),
)
