"""The HTTP API's request and response shapes. The gateway validates bodies with these before it
calls a service (the services validate again: they trust no caller), and the OpenAPI document is
generated from them."""

from __future__ import annotations

from marshmallow import RAISE, Schema, pre_load, validate

from shared.contracts import field_types as fields

from shared.contracts import MessageSchema, PrincipalSchema  # noqa: F401 - part of the API
from shared.db import COUNT_BOUND
from shared.contracts.rpc.assignments import (
    ContactRecorded,
    ExtensionAsked,
    MilestoneReported,
    ObjectionRaised,
    ReplyDrafted,
    UnitText,
)


class Body(Schema):
    class Meta:
        unknown = RAISE


class Error(Schema):
    error = fields.String(required=True, metadata={"description": "a stable code: invalid_input, forbidden..."})
    message = fields.String(required=True)
    details = fields.Dict(metadata={"description": "for invalid_input: each field and its messages"})


class DeploymentRequest(Body):
    files = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "file name → BPMN or DMN XML"},
    )


class DeployedVersion(Schema):
    process_id = fields.String()
    version = fields.String()
    number = fields.Integer(metadata={"description": "the version's number within its process"})
    id = fields.Integer()
    new = fields.Boolean()
    state = fields.String(metadata={"description": "deployed, activated, draft or unchanged"})
    active = fields.Boolean()
    previous = fields.Dict(allow_none=True, metadata={"description": "the version active before: id, version, number"})
    notes = fields.List(
        fields.String(),
        metadata={"description": "what was set aside, e.g. a process that is not executable, kept as documentation"},
    )


class ProcessVersion(Schema):
    id = fields.Integer()
    process_id = fields.String()
    name = fields.String(allow_none=True)
    version = fields.String()
    number = fields.Integer()
    status = fields.String(metadata={"description": "active, inactive or draft"})
    deployed_at = fields.String()
    deployed_by = fields.String()
    activated_at = fields.String(allow_none=True)
    activated_by = fields.String(allow_none=True)
    live_instances = fields.Integer(metadata={"description": "instances of this version not ended"})


class VersionDiagram(Schema):
    process_id = fields.String()
    version = fields.String()
    number = fields.Integer()
    file = fields.String(metadata={"description": "the deployed file that holds the process"})
    xml = fields.String(metadata={"description": "the BPMN XML as deployed (drawing included)"})


class DiffElement(Schema):
    id = fields.String()
    type = fields.String()
    label = fields.String()


class ChangedElement(DiffElement):
    old_label = fields.String(metadata={"description": "the label before, when it changed"})
    changes = fields.List(
        fields.String(),
        metadata={"description": "what changed: name, type, condition, operation, form, timer…, old → new"},
    )


class VersionDiff(Schema):
    process_id = fields.String()
    added = fields.List(fields.Nested(DiffElement))
    removed = fields.List(fields.Nested(DiffElement))
    changed = fields.List(fields.Nested(ChangedElement))
    from_ = fields.Dict(data_key="from", metadata={"description": "version A: version, number"})
    to = fields.Dict(metadata={"description": "version B: version, number"})


class CoverageCount(Schema):
    total = fields.Integer()
    covered = fields.Integer()
    percent = fields.Float()
    missed = fields.List(
        fields.Dict(), metadata={"description": "each element or flow no scenario reached: id, label…"}
    )


class VersionCoverage(Schema):
    process_id = fields.String()
    version = fields.String()
    number = fields.Integer()
    diagram = fields.String(metadata={"description": "the deployed file that holds the process"})
    scenario_file = fields.String(
        allow_none=True,
        metadata={"description": "the scenario file of that diagram in the bpmn directory; null when there is none"},
    )
    error = fields.String(allow_none=True, metadata={"description": "why the scenarios cannot run on this version"})
    results = fields.List(fields.Dict(), metadata={"description": "each scenario: scenario, passed, message, step"})
    elements = fields.Nested(CoverageCount)
    flows = fields.Nested(CoverageCount)
    reached = fields.List(fields.String(), metadata={"description": "ids of the elements some scenario entered"})
    taken = fields.List(fields.String(), metadata={"description": "ids of the sequence flows some scenario took"})


class StartRequest(Body):
    business_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    data = fields.Dict(keys=fields.String(), load_default=dict)


class Incident(Schema):
    id = fields.Integer()
    instance_id = fields.String()
    job_id = fields.String(allow_none=True)
    task = fields.String()
    operation = fields.String(allow_none=True)
    error = fields.String()
    status = fields.String()
    created_at = fields.String()
    resolved_at = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)


class Instance(Schema):
    id = fields.String()
    process_id = fields.String()
    version = fields.String()
    business_key = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "waiting | incident | completed"})
    waiting_tasks = fields.List(fields.String())
    waiting_messages = fields.List(fields.String())
    next_timer = fields.String(allow_none=True)
    revision = fields.Integer()
    data = fields.Dict()
    incidents = fields.List(fields.Nested(Incident))
    created_at = fields.String()
    updated_at = fields.String()


class HistoryEntry(Schema):
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    task = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True)


class Task(Schema):
    task_id = fields.String()
    instance_id = fields.String()
    process_id = fields.String()
    business_key = fields.String(allow_none=True)
    task = fields.String()
    title = fields.String()
    candidate_role = fields.String(allow_none=True)
    candidate_unit = fields.String(allow_none=True)
    candidate_user = fields.String(allow_none=True)
    form_schema = fields.String(allow_none=True)
    claimed_by = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.String()
    reason = fields.Dict(
        allow_none=True,
        metadata={
            "description": "why the task is asked for (again): the business error the diagram caught in "
            "the step that opened it, {code, message, operation} (a service refused what the last step "
            "sent it); null if none"
        },
    )


def page_of(name: str, item, things: str, order: str, counted: str, items: str | None = None) -> type[Schema]:
    """The schema of one page of a list (``{page, per_page, total, total_exact, items}``), named ``name`` in the
    OpenAPI document: ``things`` listed, in ``order``; ``counted`` says which the total counts."""
    return Schema.from_dict(
        {
            "page": fields.Integer(),
            "per_page": fields.Integer(metadata={"description": f"1-200 (default 50) {things}, {order}"}),
            "total": fields.Integer(metadata={"description": f"{things} {counted}"}),
            "total_exact": fields.Boolean(
                metadata={
                    "description": f"false when there are more than total: a long list is counted up to "
                    f"{COUNT_BOUND:,} rows or to the end of the page asked for, whichever is further"
                }
            ),
            "items": fields.List(fields.Nested(item), metadata={"description": items} if items else {}),
        },
        name=name,
    )


TaskPage = page_of("TaskPage", Task, "open tasks", "oldest first", "the caller may act on among those filtered")
IncidentPage = page_of("IncidentPage", Incident, "incidents", "newest first", "of the status asked")


class Objection(Schema):
    reason = fields.String()
    at = fields.String()


class AssignmentListed(Schema):
    id = fields.Integer()
    number = fields.String()
    proposal_id = fields.Integer()
    round = fields.Integer()
    unit = fields.String()
    role = fields.String(metadata={"description": "single, several, lead or co"})
    status = fields.String(metadata={"description": "assigned, signed, replied, objected or cancelled"})
    assigned_at = fields.String()
    assigned_by = fields.String()
    signed_at = fields.String(allow_none=True)
    objection = fields.Nested(Objection, allow_none=True)
    cancelled_at = fields.String(
        allow_none=True,
        metadata={
            "description": "when it was cancelled (status cancelled); on a replied one, when an operator "
            "cancelled the proposal's handling after staff accepted its reply: the reply stays on record "
            "and the assignment takes no more commands"
        },
    )


AssignmentPage = page_of(
    "AssignmentPage", AssignmentListed, "assignments", "newest first", "the caller sees among those filtered"
)


class CompleteTaskRequest(Body):
    data = fields.Dict(
        keys=fields.String(), load_default=dict, metadata={"description": "the form named by the task's form_schema"}
    )


class MessageAccepted(Schema):
    status = fields.String(metadata={"description": "delivered | buffered | duplicate"})
    message_id = fields.String()
    delivered_to = fields.String(allow_none=True)


class ResolveRequest(Body):
    resolution = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "why it is closed without a retry; also taken as `reason`, as the operators' routes name it"
        },
    )

    @pre_load
    def _reason(self, data, **_kwargs):
        # `ztc incidents resolve --reason` and every /api/ops route say `reason`: taken here too.
        if isinstance(data, dict) and "reason" in data and "resolution" not in data:
            data = {**data, "resolution": data["reason"]}
            del data["reason"]
        return data


# Proposals: the contracts' shapes (intake validates again).
from shared.contracts.rpc.proposals import ContentSchema as ProposalRevision  # noqa: E402, F401
from shared.contracts.rpc.proposals import DraftSchema as ProposalDraft  # noqa: E402, F401
from shared.contracts.rpc.proposals import ProposalSchema as Proposal  # noqa: E402, F401
from shared.contracts.rpc.proposals import AreaInput, AreaReportSchema, CosignRequest  # noqa: E402, F401


ProposalPage = page_of(
    "ProposalPage",
    Proposal,
    "proposals",
    "newest first",
    "the caller may read among those asked for",
    "the caller's own in full; another member's published ones as published",
)


LEVELS = ["satisfied", "basically_satisfied", "unsatisfied"]


class RatingRequest(Body):
    handling = fields.String(
        required=True,
        validate=validate.OneOf(LEVELS),
        metadata={"description": "办理 the handling: 满意 / 基本满意 / 不满意"},
    )
    result = fields.String(required=True, validate=validate.OneOf(LEVELS), metadata={"description": "结果 the result"})
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class Rating(Schema):
    number = fields.String()
    round = fields.Integer()
    rater = fields.String()
    handling = fields.String()
    result = fields.String()
    comment = fields.String(allow_none=True)
    rated_at = fields.String()
    round_closed = fields.Boolean()


class AppealRequest(Body):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4000),
        metadata={"description": "why the re-handled reply should be looked at again"},
    )


class Appeal(Schema):
    id = fields.Integer()
    round = fields.Integer()
    appellant = fields.String()
    reason = fields.String()
    lodged_at = fields.String()
    decision = fields.String(
        allow_none=True,
        metadata={
            "description": "upheld or rehandle, once the committee decided; cancelled if the proposal's "
            "process was cancelled before it did"
        },
    )
    decision_reason = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)


class RatingRound(Schema):
    round = fields.Integer()
    proposers = fields.List(fields.String())
    opened_at = fields.String()
    closed_at = fields.String(allow_none=True)
    outcome = fields.String(
        allow_none=True,
        metadata={
            "description": "accepted, rehandle, appealable (a re-handled reply rated 不满意: may be appealed "
            "until appeal_due), upheld (appealed, the handling upheld), superseded, cancelled (the "
            "proposal's process was cancelled while the round was open)"
        },
    )
    appeal_due = fields.String(allow_none=True)
    appeal = fields.Nested(Appeal, allow_none=True)
    ratings = fields.List(fields.Nested(Rating))


class Ratings(Schema):
    number = fields.String()
    rounds = fields.List(fields.Nested(RatingRound))


class UnitAssessment(Schema):
    year = fields.Integer()
    units = fields.List(fields.Dict(), metadata={"description": "each unit's figures, 目标考核 score and rank"})
    scale = fields.Float(metadata={"description": "the score's scale (the rulebook's unit_assessment.scale)"})
    weights = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "the rulebook's weights: handling, on_time, satisfaction"},
    )
    rulebook_version = fields.String()


class DeadlineChange(Schema):
    kind = fields.String()
    at = fields.String()
    by = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class Deadline(Schema):
    rule = fields.String()
    unit = fields.String(allow_none=True)
    status = fields.String()
    changes = fields.List(fields.Dict())


class Deadlines(Schema):
    number = fields.String()
    as_of = fields.String()
    deadlines = fields.List(
        fields.Dict(),
        metadata={
            "description": "each with rule, rulebook version and hash, start event, amount and unit, the "
            "calendar's account, original and current due, status, and every change"
        },
    )


class _UnitOverdue(Schema):
    unit = fields.String()
    count = fields.Integer(metadata={"description": "the unit's overdue rows on every page"})
    overdue = fields.List(
        fields.Dict(),
        metadata={
            "description": "the unit's rows on this page, oldest due first: number, deadline_id, rule, kind, due, "
            "days_overdue, escalated_at, explanation, provenance (and milestone for a B milestone)"
        },
    )


class OverdueBoard(Schema):
    as_of = fields.String()
    page = fields.Integer()
    per_page = fields.Integer(metadata={"description": "1-200 (default 50) overdue deadlines, most overdue first"})
    total = fields.Integer(metadata={"description": "overdue deadlines, on every page"})
    units = fields.List(
        fields.Nested(_UnitOverdue),
        metadata={"description": "every unit that owes overdue work, by code, each with its rows on this page"},
    )


class SupervisionLogEntry(Schema):
    id = fields.Integer()
    number = fields.String()
    leader = fields.String(metadata={"description": "who wrote it (the operator, for the cancellation entry)"})
    at = fields.String()
    kind = fields.String(metadata={"description": "visit, meeting, instruction, note; cancelled"})
    text = fields.String()


class _LogCancelled(Schema):
    by = fields.String()
    at = fields.String(allow_none=True)
    reason = fields.String()


class SupervisionLog(Schema):
    """A key proposal's supervision log, oldest first."""

    number = fields.String()
    supervising_leader = fields.String()
    entries = fields.List(fields.Nested(SupervisionLogEntry))
    cancelled = fields.Nested(
        _LogCancelled, allow_none=True, metadata={"description": "its handling was cancelled: who, when, why"}
    )


class SupervisionLogRequest(Body):
    kind = fields.String(required=True, validate=validate.OneOf(["visit", "meeting", "instruction", "note"]))
    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class EmptyRequest(Body):
    """The body of a command that needs nothing but its path: empty, or ``{}``. A field in it is
    refused as unknown, as in every other body, so a caller learns it was not read."""


class ObjectionRequest(Body, ObjectionRaised):
    """The objection's reason: the one schema of ``shared.contracts.rpc.assignments``, as over AMQP."""


class TextRequest(Body, UnitText):
    """A co-unit's input or a follow-up reply: the one schema, as over AMQP (``UnitText``)."""


class ReplyDraftRequest(Body, ReplyDrafted):
    """A, B or C (D if the rulebook enables it); category B with its milestones: the one schema of
    ``shared.contracts.rpc.assignments``, as over AMQP (``draft_reply``)."""


class MilestoneRequest(Body, MilestoneReported):
    """The one schema of ``shared.contracts.rpc.assignments``, as over AMQP (``report_milestone``)."""


class ContactRequest(Body, ContactRecorded):
    """办理沟通: the one schema of ``shared.contracts.rpc.assignments``, as over AMQP (``record_contact``)."""


class Contact(Schema):
    """A recorded contact with the proposer, as ``GET /api/assignments/{id}`` lists it."""

    id = fields.Integer()
    assignment_id = fields.Integer()
    round = fields.Integer()
    kind = fields.String(metadata={"description": "a code of the rulebook's contact_kinds"})
    face_to_face = fields.Boolean(metadata={"description": "the rulebook counts the kind as meeting face to face"})
    held_on = fields.Date()
    participants = fields.String()
    note = fields.String(allow_none=True)
    recorded_at = fields.DateTime()
    recorded_by = fields.String()


# -- what the unit's command routes answer (GET /api/assignments/{id} and each command) ------------
# Documentation of the answers (tests/unit/services/gateway/test_assignment_answers.py loads each
# command's real answer through its schema, unknown fields refused, so the two cannot drift).


class Decision(Schema):
    """Staff's decision on a unit's objection or extension request."""

    outcome = fields.String(metadata={"description": "approved, refused, kept, reassigned or cancelled"})
    by = fields.String()
    at = fields.String()
    until = fields.String(metadata={"description": "an approved extension: the new reply deadline"})
    assigned_to = fields.List(fields.String(), metadata={"description": "a reassignment: the units it went to"})
    comment = fields.String()


class ObjectionShown(Objection):
    decision = fields.Nested(Decision, allow_none=True)


class AssignmentAnswer(AssignmentListed):
    """The assignment as a command on it leaves it (签收 and 异议 answer this)."""


class MilestoneShown(Schema):
    milestone = fields.Integer(metadata={"description": "its number in the reply, from 1"})
    what = fields.String()
    due = fields.String(metadata={"description": "a date"})
    done_at = fields.String(allow_none=True)
    done_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class ReplyShown(Schema):
    """A reply of one round, as the lead drafted or submitted it."""

    id = fields.Integer()
    assignment_id = fields.Integer()
    round = fields.Integer()
    category = fields.String(metadata={"description": "A, B, C (D if the rulebook enables it)"})
    text = fields.String()
    status = fields.String(metadata={"description": "draft, submitted, sent_back or accepted"})
    revision = fields.Integer()
    drafted_at = fields.String(allow_none=True)
    submitted_at = fields.String(allow_none=True)
    sent_back_at = fields.String(allow_none=True)
    sent_back_comment = fields.String(allow_none=True)
    milestones = fields.List(fields.Nested(MilestoneShown))
    cosigned_by = fields.List(fields.String(), metadata={"description": "the co-units that co-signed it"})


class ReplySubmitted(ReplyShown):
    all_units_replied = fields.Boolean(metadata={"description": "every answering unit of the round has replied"})


class InputSent(Schema):
    input_id = fields.Integer()
    to = fields.String(metadata={"description": "the lead unit"})
    round = fields.Integer()
    sent_at = fields.String()


class _ExtensionAsked(Schema):
    id = fields.Integer()
    round = fields.Integer()
    until = fields.String(allow_none=True, metadata={"description": "the date asked for, or null"})
    months = fields.Integer(allow_none=True, metadata={"description": "the months asked for, or null"})
    reason = fields.String()
    status = fields.String(metadata={"description": "requested, approved, refused or cancelled"})
    requested_at = fields.String()


class ExtensionAskedAnswer(_ExtensionAsked):
    assignment_id = fields.Integer()


class MilestoneDone(MilestoneShown):
    assignment_id = fields.Integer()
    round = fields.Integer()
    unit = fields.String()


class FollowupSent(Schema):
    assignment_id = fields.Integer()
    round = fields.Integer()
    text = fields.String()
    unit = fields.String()


class _Partner(Schema):
    id = fields.Integer()
    unit = fields.String()
    role = fields.String()
    status = fields.String()


class _InputShown(Schema):
    id = fields.Integer()
    from_unit = fields.String()
    round = fields.Integer()
    text = fields.String()
    sent_at = fields.String()


class _ExtensionShown(_ExtensionAsked):
    decision = fields.Nested(Decision, allow_none=True)


class _HandlingCancelled(Schema):
    reason = fields.String(metadata={"description": "process_cancelled"})
    note = fields.String(allow_none=True, metadata={"description": "the operator's reason"})
    by = fields.String(allow_none=True)
    at = fields.String(allow_none=True)
    reply_kept = fields.Boolean(metadata={"description": "staff had accepted its reply: it stays on record"})


class _LogEntry(Schema):
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    data = fields.Dict()


class AssignmentShown(AssignmentListed):
    """One assignment with everything of it the unit and staff read."""

    objection = fields.Nested(ObjectionShown, allow_none=True)
    partners = fields.List(fields.Nested(_Partner), metadata={"description": "the proposal's other units"})
    replies = fields.List(fields.Nested(ReplyShown), metadata={"description": "its replies, every round"})
    lead_reply = fields.Nested(
        ReplyShown, allow_none=True, metadata={"description": "for a co-unit: the lead's draft to co-sign"}
    )
    inputs = fields.List(fields.Nested(_InputShown), metadata={"description": "co-unit input sent or received"})
    extension_requests = fields.List(fields.Nested(_ExtensionShown))
    contacts = fields.List(fields.Nested(Contact))
    handling_cancelled = fields.Nested(_HandlingCancelled, allow_none=True)
    events = fields.List(fields.Nested(_LogEntry), metadata={"description": "its log, oldest first"})


class ExtensionRequest(Body, ExtensionAsked):
    """Until a date, or for a number of months: the one schema of ``shared.contracts.rpc.assignments``,
    as over AMQP (``request_extension``)."""


class _Counted(Schema):
    code = fields.String()
    label = fields.String()
    count = fields.Integer()


class _ReportedProposal(Schema):
    number = fields.String()
    title = fields.String()
    proposers = fields.List(fields.String())
    units = fields.List(fields.String())
    category = fields.String(allow_none=True)
    status = fields.String()
    published = fields.Boolean()
    reply_summary = fields.String()


class YearReport(Schema):
    """A year's proposal figures as published: counts, categories, lead units, the list."""

    year = fields.Integer()
    audience = fields.String(metadata={"description": "public (names masked) or members"})
    prepared_by = fields.String()
    received = fields.Integer()
    filed = fields.Integer()
    merged = fields.Integer()
    not_filed = fields.Integer()
    not_filed_reasons = fields.List(fields.Nested(_Counted))
    converted = fields.Dict(keys=fields.String(), values=fields.Integer())
    undecided = fields.Integer()
    cancelled = fields.Integer(
        metadata={"description": "proposals of the year whose handling an operator cancelled (not counted undecided)"}
    )
    answered = fields.Integer()
    categories = fields.List(fields.Nested(_Counted))
    lead_units = fields.List(fields.Dict())
    areas = fields.Nested(
        AreaReportSchema, metadata={"description": "proposals and opinion items by the 1533 model's areas"}
    )
    proposals = fields.List(
        fields.Nested(_ReportedProposal),
        metadata={"description": "a page of the list, by number (the printable HTML lists every one)"},
    )
    page = fields.Integer()
    per_page = fields.Integer(metadata={"description": "1-1000 (default 100)"})
    listed = fields.Integer(
        metadata={
            "description": "proposals the list holds on every page (the notice: published ones; the bulletin: all)"
        }
    )
    personal_data = fields.String()
    assessment = fields.Dict(metadata={"description": "the bulletin only: the units' assessment"})


class _AdoptedItem(Schema):
    number = fields.String()
    thread = fields.String()
    title = fields.String()
    submitter = fields.String()
    adopted_by = fields.List(fields.Dict())
    instructions = fields.List(fields.Dict())
    status = fields.String(metadata={"description": "the item's status: cancelled if its handling was cancelled after"})
    status_zh = fields.String()


class AdoptedOpinions(Schema):
    """A year's adopted opinion items, the issues that carried them and leaders' instructions."""

    year = fields.Integer()
    audience = fields.String()
    prepared_by = fields.String()
    adopted = fields.Integer()
    instructed = fields.Integer()
    cancelled = fields.Integer(metadata={"description": "items listed whose handling was cancelled after an adoption"})
    items = fields.List(fields.Nested(_AdoptedItem))
    personal_data = fields.String()


class _ReplyText(Schema):
    unit = fields.String()
    role = fields.String(metadata={"description": "single | several | lead"})
    category = fields.String(metadata={"description": "A | B | C (D where the rulebook enables it)"})
    text = fields.String()
    submitted_at = fields.String()


class _CoUnitInput(Schema):
    unit = fields.String()
    text = fields.String()
    sent_at = fields.String()


class _ReplyRound(Schema):
    round = fields.Integer()
    replies = fields.List(fields.Nested(_ReplyText))
    co_unit_input = fields.List(fields.Nested(_CoUnitInput))


class _ReplyUnit(Schema):
    unit = fields.String()
    role = fields.String()


class ProposalReply(Schema):
    number = fields.String()
    answered_by = fields.String(
        metadata={"description": "the proposal whose answer this is: the number itself, or the one it was merged into"}
    )
    units = fields.List(fields.Nested(_ReplyUnit))
    rounds = fields.List(
        fields.Nested(_ReplyRound),
        metadata={"description": "proposers: the rounds staff accepted; overseers: every submitted round"},
    )
