"""The assignment service's contracts: job parameters and unit commands (the units' AMQP names
are in :mod:`shared.contracts`).

The same command schemas check a command whether it arrives over RPC (from the gateway) or over
AMQP (from a department's own system); ``docs/asyncapi.yaml`` describes them for departments.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared import contracts as _shared

# The units' AMQP names live in shared/contracts.py (declared by shared/messaging/topology.py);
# these aliases keep the service's own spelling.
UNITS_EXCHANGE = _shared.UNITS_EXCHANGE                  # topic; routing key "<unit>.<event>"
UNIT_COMMANDS_EXCHANGE = _shared.UNIT_COMMANDS_EXCHANGE  # topic; routing key "<unit>.<command>"
COMMANDS_QUEUE = _shared.UNIT_COMMANDS_QUEUE
EVENT_HEADER = _shared.UNIT_EVENT_HEADER
unit_queue = _shared.unit_queue


MODES = ("single", "several", "lead_co")
ROLES = ("single", "several", "lead", "co")
ANSWERING_ROLES = ("single", "several", "lead")

# Events published to a unit's queue (routing key "<unit>.<event>").
CREATED = "assignment.created"
CANCELLED = "assignment.cancelled"
SENT_BACK = "assignment.sent_back"
REHANDLING = "assignment.rehandling"
INPUT_RECEIVED = "assignment.input_received"
REPLY_DRAFTED = "assignment.reply_drafted"
UNIT_EVENTS = (CREATED, CANCELLED, SENT_BACK, REHANDLING, INPUT_RECEIVED, REPLY_DRAFTED)

# BPMN messages sent to the engine (correlation key: the proposal number).
OBJECTION_RAISED = "objection_raised"
REPLY_SUBMITTED = "reply_submitted"
EXTENSION_REQUESTED = "extension_requested"
FOLLOWUP_REPLY = "followup_reply"

UNIT_CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,99}$",
                            error="a unit code is lower-case letters, digits, '_' or '-'")


def _unit():
    return fields.String(validate=UNIT_CODE)


# -- jobs for the engine ------------------------------------------------------------------------

class AssignParams(Schema):
    """``assignment.assign``. single: one unit; several: two or more, each answering; lead_co: a
    lead and one or more co-units, only the lead answering (``units``, if given, lists them all)."""

    proposal_id = fields.Integer(required=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    units = fields.List(_unit(), load_default=list)
    lead = fields.String(load_default=None, allow_none=True, validate=UNIT_CODE)
    co_units = fields.List(_unit(), load_default=list)
    round = fields.Integer(load_default=1, validate=validate.Range(min=1))

    @validates_schema
    def _mode_fits_units(self, data, **kwargs):
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


class RehandlingParams(Schema):
    """``assignment.request_rehandling``: re-open the answering units' work in round ``round``."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    round = fields.Integer(required=True, validate=validate.Range(min=2))


class SendBackParams(Schema):
    """``assignment.send_back``: staff send the submitted reply back (all answering units, or ``units``)."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    units = fields.List(_unit(), load_default=list)


# -- commands from units ------------------------------------------------------------------------

class AssignmentCommand(Schema):
    """A command about one assignment: ``sign``, ``cosign_reply``, ``submit_reply``."""

    assignment_id = fields.Integer(required=True, validate=validate.Range(min=1))


class ObjectCommand(AssignmentCommand):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class SendInputCommand(AssignmentCommand):
    text = fields.String(required=True, validate=validate.Length(min=1, max=50000))


class DraftReplyCommand(AssignmentCommand):
    category = fields.String(required=True, validate=validate.Length(min=1, max=10))
    text = fields.String(required=True, validate=validate.Length(min=1, max=100000))


class ExtensionCommand(AssignmentCommand):
    """Until a date, or for a number of months: exactly one of ``until`` and ``months``."""

    until = fields.Date(load_default=None, allow_none=True)
    months = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))

    @validates_schema
    def _until_or_months(self, data, **kwargs):
        if (data["until"] is None) == (data["months"] is None):
            raise ValidationError("give exactly one of 'until' (a date) and 'months'", field_name="until")


COMMAND_SCHEMAS = {
    "sign": AssignmentCommand,
    "object": ObjectCommand,
    "send_input": SendInputCommand,
    "draft_reply": DraftReplyCommand,
    "cosign_reply": AssignmentCommand,
    "submit_reply": AssignmentCommand,
    "request_extension": ExtensionCommand,
    "submit_followup": SendInputCommand,
}
