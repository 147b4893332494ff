"""Jobs of the assignment service: assignments to units (交办) and micro-consultation cases (微协商)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from ..fields import UNIT_CODE, Strict, unit_code
from .base import Operation, register

MODES = ("single", "several", "lead_co")
# What a micro-consultation decided; the diagram branches on these.
OUTCOMES = ("answered", "opinion", "proposal", "meeting")


class AssignUnit(Schema):
    submission_id = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))


class Assign(Schema):
    """single: one unit; several: two or more, each answering; lead_co: a lead and one or more
    co-units, only the lead answering (``units``, if given, lists them all)."""

    proposal_id = fields.Integer(required=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    units = fields.List(unit_code(), load_default=list)
    lead = fields.String(load_default=None, allow_none=True, validate=UNIT_CODE)
    co_units = fields.List(unit_code(), load_default=list)
    round = fields.Integer(load_default=1, validate=validate.Range(min=1))

    @validates_schema
    def _mode_fits_units(self, data: dict[str, Any], **kwargs: object) -> None:
        units, lead, co_units = data["units"], data["lead"], data["co_units"]
        errors: dict[str, list[str]] = {}
        for key, codes in (("units", units), ("co_units", co_units)):
            if len(set(codes)) != len(codes):
                errors[key] = ["a unit is listed twice"]
        if data["mode"] in ("single", "several"):
            if lead is not None:
                errors["lead"] = [f"mode {data['mode']} has no lead unit; use mode lead_co"]
            if co_units:
                errors["co_units"] = [f"mode {data['mode']} has no co-units; use mode lead_co"]
        if data["mode"] == "single" and len(units) != 1:
            errors.setdefault("units", []).append("mode single takes exactly one unit")
        elif data["mode"] == "several" and len(set(units)) < 2:
            errors.setdefault("units", []).append("mode several takes two or more units")
        elif data["mode"] == "lead_co":
            if lead is None:
                errors["lead"] = ["mode lead_co needs a lead unit"]
            if not co_units:
                errors.setdefault("co_units", []).append("mode lead_co needs one or more co-units")
            if lead is not None and lead in co_units:
                errors.setdefault("co_units", []).append("the lead unit cannot also be a co-unit")
            if units and lead is not None and set(units) != {lead, *co_units}:
                errors.setdefault("units", []).append("units must be the lead and the co-units")
        if errors:
            raise ValidationError(errors)


class RequestRehandling(Schema):
    """Re-open the answering units' work in round ``round``."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    round = fields.Integer(required=True, validate=validate.Range(min=2))


class SendBack(Schema):
    """Staff send the submitted reply back (all answering units, or ``units``)."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    units = fields.List(unit_code(), load_default=list)


class PromisedMilestone(Schema):
    """One milestone of a reply recategorised to B, numbered (as the review form loads them)."""

    milestone = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    what = fields.String(required=True, validate=validate.Length(min=1, max=500))
    due = fields.Date(required=True)


class RecategoriseReply(Schema):
    """Staff accepted the reply in another category (``review_reply``'s ``override_category``);
    for B, with the milestones settled with the unit (``override_milestones``)."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    category = fields.String(required=True, validate=validate.Length(min=1, max=10))
    milestones = fields.List(fields.Nested(PromisedMilestone), load_default=list)
    by = fields.String(load_default=None, allow_none=True)


class RecordExtensionRefusal(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    request_id = fields.Integer(required=True, allow_none=False)
    comment = fields.String(load_default="", allow_none=True, validate=validate.Length(max=5000))


# -- micro-consultation cases ---------------------------------------------------------------------
class CaseRef(Strict):
    case_id = fields.Integer(required=True, strict=True)


class DispatchCase(CaseRef):
    member = fields.String(required=True, validate=validate.Length(min=1, max=100))
    dispatched_by = fields.String(load_default=None, allow_none=True)
    note = fields.String(load_default="", allow_none=True)


class CaseNotTaken(CaseRef):
    member = fields.String(load_default=None, allow_none=True)


class TakeCase(CaseRef):
    accepted = fields.Boolean(required=True)
    reason = fields.String(load_default=None, allow_none=True)
    by = fields.String(required=True)


class RecordDecision(CaseRef):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    answer = fields.String(load_default=None, allow_none=True)
    title = fields.String(load_default=None, allow_none=True)
    analysis = fields.String(load_default=None, allow_none=True)
    suggestion = fields.String(load_default=None, allow_none=True)
    by = fields.String(required=True)


class RecordConversion(CaseRef):
    kind = fields.String(required=True, validate=validate.OneOf(["opinion", "proposal"]))
    converted = fields.Dict(required=True, metadata={"description": "intake's answer: number, thread, status"})


class RecordConvertedOutcome(CaseRef):
    outcome = fields.Dict(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "intake's converted_outcome message (kind, number, outcome, reason); null: none came in time"
        },
    )


class RecordMeeting(CaseRef):
    form = fields.String(required=True)
    venue = fields.String(load_default=None, allow_none=True)
    held_on = fields.Date(required=True)
    attendees = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    units = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    summary = fields.String(required=True)
    by = fields.String(required=True)


class RecordFollowUp(CaseRef):
    actions_done = fields.Boolean(required=True)
    note = fields.String(load_default="", allow_none=True)
    by = fields.String(required=True)


class RecordReturnVisit(CaseRef):
    reached = fields.Boolean(required=True)
    satisfaction = fields.String(load_default=None, allow_none=True)
    comment = fields.String(load_default="", allow_none=True)
    by = fields.String(required=True)


class CloseCase(CaseRef):
    reason = fields.String(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True)
    by = fields.String(load_default=None, allow_none=True)


register(
    Operation(
        "assignment.assign_unit", AssignUnit, "assign a submission to one unit (the smoke diagram)", ("no_unit",)
    ),
    Operation(
        "assignment.assign",
        Assign,
        "assign a proposal: one unit, several, or a lead with co-units (交办)",
        ("no_unit",),
    ),
    Operation(
        "assignment.request_rehandling",
        RequestRehandling,
        "re-open the answering units' work (re-handling)",
        ("no_assignment",),
    ),
    Operation("assignment.send_back", SendBack, "send a submitted reply back to its units", ("no_submitted_reply",)),
    Operation(
        "assignment.recategorise_reply",
        RecategoriseReply,
        "record the category staff settled at review (for B, with its milestones) on the answering units' replies",
        ("no_submitted_reply",),
    ),
    Operation(
        "assignment.record_extension_refusal",
        RecordExtensionRefusal,
        "record that staff refused a unit's extension request",
        ("no_extension_request",),
    ),
    Operation("assignment.dispatch_case", DispatchCase, "give a case to a member (派单)", ("unknown_member",)),
    Operation("assignment.case_not_taken", CaseNotTaken, "the member did not take the case in time"),
    Operation("assignment.take_case", TakeCase, "the member takes the case or declines it (接单)"),
    Operation("assignment.record_decision", RecordDecision, "what the consultation decided (解单)"),
    Operation("assignment.record_conversion", RecordConversion, "the case became an opinion item or a proposal"),
    Operation(
        "assignment.record_converted_outcome",
        RecordConvertedOutcome,
        "the opinion item or proposal a case became has its outcome (or none came in time): the return visit is next",
    ),
    Operation(
        "assignment.record_meeting", RecordMeeting, "a consultation meeting was held", ("unknown_meeting_detail",)
    ),
    Operation("assignment.remind_commitments", CaseRef, "remind departments of their commitments"),
    Operation("assignment.schedule_follow_up", CaseRef, "schedule the follow-up of a case"),
    Operation("assignment.record_follow_up", RecordFollowUp, "record the follow-up of a case"),
    Operation("assignment.follow_up_overdue", CaseRef, "the follow-up of a case is overdue"),
    Operation("assignment.record_return_visit", RecordReturnVisit, "the return visit to the resident (查单)"),
    Operation("assignment.close_case", CloseCase, "close a case"),
)
