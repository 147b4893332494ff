"""The assignment service's contracts: job parameters and unit commands (the units' AMQP names
are in :mod:`shared.contracts`).

The same command schemas check a command whether it arrives over RPC (from the gateway) or over
AMQP (from a department's own system); ``docs/asyncapi.yaml`` describes them for departments.
"""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import contracts as _shared
from shared.contracts.rpc.assignments import (
    ContactRecorded,
    ExtensionAsked,
    MilestoneReported,
    ObjectionRaised,
    ReplyDrafted,
    UnitText,
)
from shared.contracts.fields import UNIT_CODE  # noqa: F401 - the assignment service's spelling
from shared.contracts.jobs.assignment import MODES  # noqa: F401
from shared.contracts.jobs.assignment import Assign as AssignParams  # noqa: F401
from shared.contracts.jobs.assignment import RequestRehandling as RehandlingParams  # noqa: F401
from shared.contracts.jobs.assignment import SendBack as SendBackParams  # noqa: F401
from shared.contracts.jobs.assignment import RecategoriseReply as RecategoriseParams  # noqa: F401

# The units' AMQP names live in shared/contracts.py (declared by shared/messaging/topology.py);
# these aliases keep the service's own spelling.
UNITS_EXCHANGE = _shared.UNITS_EXCHANGE  # topic; routing key "<unit>.<event>"
UNIT_COMMANDS_EXCHANGE = _shared.UNIT_COMMANDS_EXCHANGE  # topic; routing key "<unit>.<command>"
COMMANDS_QUEUE = _shared.UNIT_COMMANDS_QUEUE
EVENT_HEADER = _shared.UNIT_EVENT_HEADER
unit_queue = _shared.unit_queue


ROLES = ("single", "several", "lead", "co")
ANSWERING_ROLES = ("single", "several", "lead")

# Events published to a unit's queue (routing key "<unit>.<event>").
CREATED = "assignment.created"
CANCELLED = "assignment.cancelled"  # reason reassigned (staff) or process_cancelled (an operator)
SENT_BACK = "assignment.sent_back"
REHANDLING = "assignment.rehandling"
INPUT_RECEIVED = "assignment.input_received"
REPLY_DRAFTED = "assignment.reply_drafted"
# Staff's decisions on the unit's work:
OBJECTION_OVERRULED = "assignment.objection_overruled"  # kept: the same assignment id, work on
EXTENSION_APPROVED = "assignment.extension_approved"
EXTENSION_REFUSED = "assignment.extension_refused"
REPLY_ACCEPTED = "assignment.reply_accepted"  # staff accepted it; the proposers rate it
FOLLOWUP_EXPECTED = "assignment.followup_expected"  # category B: report again when solved
APPEAL_DECIDED = "assignment.appeal_decided"  # the committee decided a proposer's appeal
COMMAND_REFUSED = _shared.UNIT_COMMAND_REFUSED  # a command the unit sent was refused (refusals.py)
UNIT_EVENTS = (
    CREATED,
    CANCELLED,
    SENT_BACK,
    REHANDLING,
    INPUT_RECEIVED,
    REPLY_DRAFTED,
    OBJECTION_OVERRULED,
    EXTENSION_APPROVED,
    EXTENSION_REFUSED,
    REPLY_ACCEPTED,
    FOLLOWUP_EXPECTED,
    APPEAL_DECIDED,
    COMMAND_REFUSED,
)
# The inbox notice (notify.<kind>, to unit:<code>) that goes with each decision event.
NOTICE_TEXT = {
    # {kept} and {why}: the notice's wording only (records.tell_unit's ``wording``), see operations/decisions.
    CANCELLED: "提案 {number} 的交办已撤销（{reason_zh}），请勿再办理此件。{kept}{why}",
    OBJECTION_OVERRULED: "提案 {number} 的异议未获同意，仍由本单位办理（交办号 {id} 不变）。",
    EXTENSION_APPROVED: "提案 {number} 的延期申请已同意，答复期限延至 {until}。",
    EXTENSION_REFUSED: "提案 {number} 的延期申请未获同意。{comment}",
    SENT_BACK: "提案 {number} 的答复被退回：{comment}",
    REPLY_ACCEPTED: "提案 {number} 的答复（第 {round} 轮）已审核通过，请提案人评价。",
    FOLLOWUP_EXPECTED: "提案 {number} 答复为 B 类（正在解决或列入计划），请按承诺的办理节点报告进展，问题解决后报送后续办理情况。",
    APPEAL_DECIDED: "提案人对提案 {number} 第 {round} 轮答复的申诉已由提案委员会决定：{decision_zh}。理由：{reason}",
}

# Why an assignment was cancelled (``assignment.cancelled``: ``reason`` and its ``reason_zh``): staff
# gave the proposal to other units, or an operator cancelled the proposal's process instance (its
# ``note`` then says why, ``cancelled_by`` who).
REASSIGNED, PROCESS_CANCELLED = "reassigned", _shared.REFUSED_PROCESS_CANCELLED
CANCEL_REASONS_ZH = {REASSIGNED: "已改交其他单位办理", PROCESS_CANCELLED: "提案办理流程已撤销"}
# An operator cancelled the handling after staff accepted the unit's reply: ``assignment.cancelled``
# says ``reply_kept: true`` (the assignment stays ``replied``; no follow-up or milestone is owed).
REPLY_KEPT_ZH = "本单位已提交并经审核通过的答复予以保留，无需再报告办理节点或报送后续办理情况。"


def cancel_wording(note: str | None, reply_kept: bool = False) -> dict:
    """The ``assignment.cancelled`` notice's own words: the reply kept, and the operator's reason
    labelled (``原因：…``) as the proposers' notice labels it; nothing when there is none."""
    return {"kept": REPLY_KEPT_ZH if reply_kept else "", "why": f"原因：{note}" if note else ""}


# BPMN messages sent to the engine (correlation key: the proposal number).
from shared.contracts.messages import (  # noqa: E402,F401
    EXTENSION_REQUESTED,
    FOLLOWUP_REPLY,
    OBJECTION_RAISED,
    REPLY_SUBMITTED,
)


# -- commands from units ------------------------------------------------------------------------


class AssignmentCommand(Schema):
    """A command about one assignment: ``sign``, ``cosign_reply``, ``submit_reply``. The id is a
    JSON integer (``strict``): ``1.9`` or ``"1"`` is refused, never read as assignment 1."""

    assignment_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class ObjectCommand(AssignmentCommand, ObjectionRaised):
    """``object``: the same schema as over HTTP (``shared.contracts.rpc.assignments.ObjectionRaised``)."""


class SendInputCommand(AssignmentCommand, UnitText):
    """``send_input`` and ``submit_followup``: the same schema as over HTTP (``UnitText``)."""


class DraftReplyCommand(AssignmentCommand, ReplyDrafted):
    """A category, the text and, for category B, the milestones (``shared.contracts.rpc.assignments``)."""


class ReportMilestoneCommand(AssignmentCommand, MilestoneReported):
    """One milestone of the unit's category B reply is done."""


class ExtensionCommand(AssignmentCommand, ExtensionAsked):
    """Until a date, or for a number of months: exactly one of ``until`` and ``months``, the same
    schema as over HTTP (``shared.contracts.rpc.assignments.ExtensionAsked``)."""


class ContactCommand(AssignmentCommand, ContactRecorded):
    """办理沟通: the unit contacted the proposer (``shared.contracts.rpc.assignments.ContactRecorded``)."""


COMMAND_SCHEMAS = {
    "sign": AssignmentCommand,
    "object": ObjectCommand,
    "send_input": SendInputCommand,
    "draft_reply": DraftReplyCommand,
    "cosign_reply": AssignmentCommand,
    "submit_reply": AssignmentCommand,
    "request_extension": ExtensionCommand,
    "submit_followup": SendInputCommand,
    "report_milestone": ReportMilestoneCommand,
    "record_contact": ContactCommand,
}
