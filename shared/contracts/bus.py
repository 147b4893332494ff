"""The bus: exchange, queue and routing-key names, and the envelopes of every message that crosses
it, as marshmallow schemas. Both sides import them from here and nowhere else."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, validate

from shared.contracts import field_types as fields

JOBS_EXCHANGE = "ztc.jobs"  # topic; routing key = "<service>.<operation>"
RESULTS_EXCHANGE = "ztc.results"  # topic; routing key = "engine.result"
DEAD_EXCHANGE = "ztc.dead"  # topic; dead letters keep their original routing key
MESSAGES_EXCHANGE = "ztc.messages"  # topic; commands and BPMN messages for the engine
EVENTS_EXCHANGE = "ztc.events"  # topic; domain events, routing key = the event name ("opinion.adopted")
ENGINE_MESSAGES_QUEUE = "ztc.engine.messages"
ENGINE_STARTS_QUEUE = "ztc.engine.starts"
MESSAGE_ROUTING_KEY = "engine.message"
START_ROUTING_KEY = "engine.start"
DEAD_QUEUE = "ztc.dead"
ENGINE_RESULTS_QUEUE = "ztc.engine.results"
# Opinion items (社情民意) submitted over AMQP by members' and informants' apps (docs/opinion-process.md):
# exchange ztc.messages, this routing key, into intake's queue; a refused one is dead-lettered with its reason.
OPINION_SUBMIT_ROUTING_KEY = "intake.opinion.submit"
OPINION_SUBMISSIONS_QUEUE = "ztc.intake.opinions"
RESULT_ROUTING_KEY = "engine.result"
REASON_HEADER = "x-ztc-reason"
SERVICES = ("intake", "assignment", "supervision", "evaluation")


# The units' side of the bus (see docs/unit-integration.md, docs/asyncapi.yaml): the assignment
# service publishes "<unit>.<event>" to UNITS_EXCHANGE, read from each unit's own queue; departments
# publish "<unit>.<command>" to UNIT_COMMANDS_EXCHANGE, read by the assignment service.
UNITS_EXCHANGE = "ztc.units"  # topic; alternate exchange ztc.dead
UNIT_COMMANDS_EXCHANGE = "ztc.unit-commands"  # topic
UNIT_COMMANDS_QUEUE = "ztc.assignment.commands"
UNIT_EVENT_HEADER = "x-ztc-event"  # the event's name, also in the routing key
# A command the assignment service refused is told back to the unit that sent it, on the unit's own
# queue (routing key "<unit>.command.refused", exchange UNITS_EXCHANGE); the dead-letter copy stays
# for the committee's operators.
UNIT_COMMAND_REFUSED = "command.refused"
# Why: the code of the refusal (shared/errors.py); the message says it in words.
REFUSAL_KINDS = ("invalid_input", "forbidden", "not_found", "conflict", "too_late")


def unit_queue(unit: str) -> str:
    """The durable queue a department's system reads its unit's events from."""
    return f"ztc.unit.{unit}"


def job_queue(service: str) -> str:
    return f"ztc.jobs.{service}"


def events_queue(service: str) -> str:
    """The durable queue on which ``service`` hears the domain events it subscribes to."""
    return f"ztc.events.{service}"


class PrincipalSchema(Schema):
    """Who is acting: a user with roles, perhaps on behalf of a unit."""

    class Meta:
        unknown = EXCLUDE

    user = fields.String(required=True, validate=validate.Length(min=1, max=100))
    roles = fields.List(fields.String(), load_default=list)
    unit = fields.String(allow_none=True, load_default=None)


# An attempt number past what the engine's integer column holds was never sent by the engine: such
# a job or result is malformed, refused with its reason (not an overflow deep in a database call).
MAX_ATTEMPT = 2**31 - 1


class JobSchema(Schema):
    """A service task's work, sent by the engine to the owning service."""

    job_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    instance_id = fields.String(required=True)
    task_id = fields.String(required=True)
    operation = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+\.[a-z_][a-z0-9_]*\Z"))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    attempt = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ATTEMPT))
    business_key = fields.String(allow_none=True, load_default=None)
    principal = fields.Nested(PrincipalSchema, allow_none=True, load_default=None)


class JobErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(load_default="")


class JobResultSchema(Schema):
    """What a service answers: ``ok`` with a result, a business ``error`` the diagram may catch,
    or ``failed`` (technical: the engine retries, then raises an incident)."""

    job_id = fields.String(required=True)
    instance_id = fields.String(required=True)
    task_id = fields.String(required=True)
    operation = fields.String(required=True)
    attempt = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ATTEMPT))
    status = fields.String(required=True, validate=validate.OneOf(["ok", "error", "failed"]))
    result = fields.Raw(allow_none=True, load_default=None)
    error = fields.Nested(JobErrorSchema, allow_none=True, load_default=None)
    service = fields.String(load_default="")


class MessageSchema(Schema):
    """A BPMN message sent to the engine from outside (a department system, another process)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    correlation_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    payload = fields.Dict(keys=fields.String(), load_default=dict)


class StartSchema(Schema):
    """A command to start a process, sent by the service that owns the business object.

    ``command_id`` makes it idempotent: the instance id is derived from it, so a command delivered
    twice starts one instance."""

    command_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    process_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(allow_none=True, load_default=None)
    data = fields.Dict(keys=fields.String(), load_default=dict)
    principal = fields.Nested(PrincipalSchema, allow_none=True, load_default=None)


class NoticeSchema(Schema):
    """A notification that rides on an event of the same change (``EventSchema.notices``) instead of
    being a ``notify.<kind>`` message of its own: the gateway keeps it as if it were the event
    ``notify.<kind>`` with this ``event_id``, ``subject`` and ``thread`` (and this payload)."""

    event_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.Regexp(r"^[a-z_][a-z0-9_.]*\Z"))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=100))
    thread = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    recipients = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), required=True, validate=validate.Length(min=1)
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(load_default="", validate=validate.Length(max=4000))


class EventSchema(Schema):
    """A domain event: something that happened to a business object, told to whoever listens.

    ``event_id`` is unique per happening (a listener that hears it twice acts once); ``thread`` is
    the identity a case keeps across channels (a micro-consultation case that becomes an opinion item
    and then a proposal keeps one thread); ``subject`` is the business object (a proposal number, an
    opinion item number); ``members`` are the committee members the event concerns (for points);
    ``notices`` are notifications of the same change that ride on it (:class:`NoticeSchema`: one
    message instead of one more per notification), absent when there are none. Only the gateway
    reads them (it binds the events that carry some: ``subscriptions.GATEWAY_HEARS``)."""

    event_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+\.[a-z_][a-z0-9_.]*\Z"))
    occurred_at = fields.DateTime(required=True)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=100))
    thread = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    members = fields.List(fields.Dict(keys=fields.String()), load_default=list)
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    notices = fields.List(fields.Nested(NoticeSchema), load_default=list)


# Domain events of the assignment service that supervision acts on (payload: unit, assignment_id,
# at, by, round); see services/supervision/unit_facts.py.
ASSIGNMENT_SIGNED = "assignment.signed"  # a unit signed for its assignment (签收)
ASSIGNMENT_INPUT_SENT = "assignment.input_sent"  # a co-unit sent its input to the lead unit (协办意见)
ASSIGNMENT_MILESTONE_DONE = "assignment.milestone_done"  # a milestone of a B reply is done (+ milestone)
# Supervision moved a reply deadline on an approved extension (payload: number, until, previous_due,
# by, reason); the assignment service records the decision on the unit's extension request.
DEADLINE_EXTENDED = "deadline.extended"

# The engine: an operator cancelled a process instance (``ztc instances cancel``, the operators'
# HTTP route). ``subject`` is the instance's business key (a proposal's, an opinion item's or a
# micro-consultation case's number) or, without one, the instance's id; ``payload`` is
# :class:`ProcessCancelledSchema`. Each service closes what it keeps open for that business object
# (its status, assignments, deadlines, rating rounds) and tells the people concerned; one heard twice
# changes nothing more (``event_id`` is ``cancelled:<instance id>``).
PROCESS_CANCELLED = "process.cancelled"
# The statuses of a process instance, as the engine keeps them and its operators (the HTTP routes,
# ``ztc instances``) filter by them.
INSTANCE_STATUSES = ("running", "waiting", "incident", "suspended", "completed", "cancelled")
# The roles a user task may be offered to (its candidateRole, else its lane's name): the roles of
# the people who read a task list. A task for any other role would wait for ever.
TASK_ROLES = ("member", "informant", "staff", "committee", "leader", "unit", "operator")
CANCEL_REASON_MAX = 2000  # characters of an operator's reason the event carries (and every service keeps)
# A command or job refused because its process was cancelled says so in ``details`` too, for a
# caller (a department's system, the console) to act on without reading the message:
# ``{"cancelled": {"reason": "process_cancelled", "by", "at", "note"}}`` (``note``: the operator's
# reason); the assignment service adds ``reply_kept``, and a reassigned assignment's refusal says
# ``{"cancelled": {"reason": "reassigned"}}``.
REFUSED_PROCESS_CANCELLED = "process_cancelled"


def cancelled_details(by: object, at: object, note: object) -> dict[str, object]:
    """The ``details`` of a refusal because an operator cancelled the process (see above)."""
    return {"cancelled": {"reason": REFUSED_PROCESS_CANCELLED, "by": by, "at": at, "note": note}}


class ProcessCancelledSchema(Schema):
    """The payload of ``process.cancelled``: which instance of which process, its business key
    (``None`` if it had none), why (the operator's reason, as given) and who cancelled it."""

    instance_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    process_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=CANCEL_REASON_MAX))
    by = fields.String(required=True, validate=validate.Length(min=1, max=100))


NOTIFY_PREFIX = "notify."  # domain events named notify.<kind> are delivered to people by the gateway
# The engine's one notice: an operator's cancellation closed the recipient's open task (whoever held it).
TASK_CLOSED = "task_closed"


class NotificationPayloadSchema(Schema):
    """The payload of a ``notify.<kind>`` event: who is told what. The gateway keeps one row per
    recipient, read with ``GET /api/notifications``."""

    recipients = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), required=True, validate=validate.Length(min=1)
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(load_default="", validate=validate.Length(max=4000))


class UnitRefusalSchema(Schema):
    """A unit's command refused, told back to the unit on its own queue (``<unit>.command.refused``).

    ``correlation_id`` and ``message_id`` are the refused command's own AMQP properties (null when it
    carried none): a department's system matches the refusal to what it sent by them. ``kind`` is one of
    :data:`REFUSAL_KINDS`; ``message`` says why in words and ``details`` per field where there are any.
    Nothing changed: the command's transaction rolled back. A refusal can arrive twice (at least once),
    with the same ``event_id``."""

    event = fields.String(required=True, validate=validate.OneOf([UNIT_COMMAND_REFUSED]))
    event_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    at = fields.DateTime(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))
    command = fields.String(required=True, metadata={"description": "the refused command's routing key"})
    correlation_id = fields.String(allow_none=True, load_default=None)
    message_id = fields.String(allow_none=True, load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(REFUSAL_KINDS))
    message = fields.String(required=True)
    details = fields.Dict(keys=fields.String(), load_default=dict)
