"""Operators' routes: incidents (one at a time and in batches), the queues, dead letters, and
suspending, resuming and cancelling instances. Every route needs the operator role (403 for any
other); the engine checks the role again for what it changes.

Queues and dead letters are read from RabbitMQ by the gateway itself (the management API and the
dead-letter queue); instances and incidents are the engine's, over RPC.
"""

from __future__ import annotations

from marshmallow import ValidationError, Schema, validate, validates_schema

from shared.contracts import field_types as fields
from nameko.dependency_providers import Config


from shared import contracts, metrics
from shared.messaging import deadletter, management
from shared.validation import load

from .. import schemas
from ..http import endpoint, given, http

INCIDENT_QUERY = ("page", "per_page", "status")


# -- shapes -------------------------------------------------------------------------------------------


class _ServiceState(Schema):
    status = fields.String(metadata={"description": "ok, or not answering"})
    error = fields.String(metadata={"description": "why it is not answering"})


class ServicesAnswer(Schema):
    services = fields.Dict(
        keys=fields.String(), values=fields.Nested(_ServiceState), metadata={"description": "each service by name"}
    )
    ready = fields.Boolean(metadata={"description": "every service answers"})


class OpsQueue(Schema):
    name = fields.String()
    messages = fields.Integer()
    ready = fields.Integer()
    unacked = fields.Integer()
    consumers = fields.Integer()
    oldest_age_seconds = fields.Float(allow_none=True)
    oldest_age_from = fields.String(allow_none=True, metadata={"description": "head_message_timestamp or peek"})
    dead_letters = fields.Integer(metadata={"description": "dead letters that came from this queue"})


class OpsQueues(Schema):
    vhost = fields.String()
    queues = fields.List(fields.Nested(OpsQueue))
    dead_letters_total = fields.Integer()


class OpsDeadLetter(Schema):
    id = fields.String()
    reason = fields.String(metadata={"description": "the x-ztc-reason header, or RabbitMQ's x-death reason"})
    reason_kind = fields.String(
        metadata={
            "description": "x-ztc-reason-kind: undecodable, too_large, malformed, refused, exhausted (or rabbitmq)"
        }
    )
    attempts = fields.Integer(allow_none=True, metadata={"description": "x-ztc-attempts: how often it was tried"})
    original_exchange = fields.String()
    original_routing_key = fields.String()
    original_queue = fields.String()
    dead_at = fields.String(allow_none=True)
    x_death = fields.List(fields.Dict())
    headers = fields.Dict()
    content_type = fields.String(allow_none=True)
    body = fields.Raw()
    size = fields.Integer()


class OpsDeadLetterSelection(schemas.Body):
    ids = fields.List(fields.String(), load_default=list)
    queue = fields.String(load_default=None)
    routing_key = fields.String(load_default=None, metadata={"description": "shell-style pattern"})
    all = fields.Boolean(load_default=False, metadata={"description": "every letter (that matches the filters)"})
    dry_run = fields.Boolean(load_default=False)


class OpsDeadLetterDiscard(OpsDeadLetterSelection):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class OpsBatchResult(Schema):
    dry_run = fields.Boolean()
    matched = fields.List(fields.Dict())
    replayed = fields.List(fields.Dict())
    discarded = fields.List(fields.Dict())
    done = fields.List(fields.Dict())
    failed = fields.List(fields.Dict())
    reason = fields.String()
    # the ids asked for that no dead letter has (a mistyped id is not done)
    unknown = fields.List(fields.String())


class OpsReason(schemas.Body):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


def _said(value: str) -> None:
    """A cancellation's reason is said: not blank (its length, at most 2,000 characters, is
    checked beside it, and documented: what the services keep)."""
    if not value.strip():
        raise ValidationError("Say why: a reason is required to cancel (the people concerned are told it).")


class OpsCancel(schemas.Body):
    reason = fields.String(
        required=True,
        validate=[_said, validate.Length(max=contracts.CANCEL_REASON_MAX, error="At most {max} characters.")],
        error_messages={"required": "Say why: a reason is required to cancel (the people concerned are told it)."},
    )


class OpsBatchCancel(OpsCancel):
    business_key_prefix = fields.String(load_default=None, validate=validate.Length(min=1))
    process_id = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(contracts.INSTANCE_STATUSES))
    dry_run = fields.Boolean(load_default=False)


class OpsBatchRetry(schemas.Body):
    """Which open incidents to retry: of an ``operation`` or a ``process_id``, or ``all`` of them
    (said, as ``ztc incidents retry --all`` says it: an empty body retried every one)."""

    operation = fields.String(load_default=None)
    process_id = fields.String(load_default=None)
    all = fields.Boolean(load_default=False)
    dry_run = fields.Boolean(load_default=False)

    @validates_schema
    def _a_choice(self, data: dict, **kwargs: object) -> None:
        if not (data["operation"] or data["process_id"] or data["all"] or data["dry_run"]):
            raise ValidationError(
                "name an operation or a process_id, or send all: true to retry every open incident", "all"
            )


class OpsInstance(Schema):
    id = fields.String()
    process_id = fields.String()
    version = fields.String()
    business_key = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "running, waiting, incident, suspended, completed, cancelled"})
    waiting_tasks = fields.List(fields.String())
    incidents = fields.List(fields.Dict())
    closed = fields.Dict(metadata={"description": "after a cancel: tasks, jobs, incidents, held results closed"})


class OpsWhere(Schema):
    instance = fields.Nested(OpsInstance)
    tokens = fields.List(fields.Dict(), metadata={"description": "user_task, job, message and timer tokens"})
    held_results = fields.Integer()
    completed = fields.List(fields.String(), metadata={"description": "the elements the instance has completed"})


class OpsInstanceSearch(Schema):
    """The query of ``GET /api/ops/instances``: any of the three, or none (the newest instances)."""

    business_key = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "exactly: a proposal's number, an item's, a case's"},
    )
    process_id = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    status = fields.String(load_default=None, validate=validate.OneOf(contracts.INSTANCE_STATUSES))


class OperatorRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`, which supplies ``self.engine``,
    ``self.intake``, ``self.assignment``, ``self.supervision`` and ``self.evaluation`` (RPC proxies)."""

    ops_config = Config()
    metrics_exporter = metrics.MetricsExporter()

    def _ops_settings(self):
        return self.ops_config["ZTC_SETTINGS"]

    # -- incidents ---------------------------------------------------------------------------
    @http("GET", "/api/incidents")
    @endpoint("operator", response=schemas.IncidentPage, query=INCIDENT_QUERY)
    def incidents(self, request, principal):
        """A page of the incidents, newest first, with their total (``page``, ``per_page`` 1-200,
        default 50; ``status`` open by default, retrying or resolved, empty for every one)."""
        query = given(request, INCIDENT_QUERY)
        if request.args.get("status") == "":  # status= asks for every incident, not the default
            query["status"] = ""
        return 200, self.engine.incident_page(query)

    @http("POST", "/api/incidents/<id:incident_id>/retry")
    @endpoint("operator", body=schemas.EmptyRequest, response=schemas.Incident)
    def retry_incident(self, request, principal, incident_id, body):
        """Send an incident's job again."""
        return 200, self.engine.retry_incident(incident_id, principal)

    @http("POST", "/api/incidents/<id:incident_id>/resolve")
    @endpoint("operator", body=schemas.ResolveRequest, response=schemas.Incident)
    def resolve_incident(self, request, principal, incident_id, body):
        """Close an incident without retrying, saying why."""
        return 200, self.engine.resolve_incident(incident_id, body["resolution"], principal)

    @http("POST", "/api/ops/incidents/retry")
    @endpoint("operator", body=OpsBatchRetry, response=OpsBatchResult)
    def retry_incidents(self, request, principal, body):
        """Retry the open incidents of an operation or a process, or all of them (``all: true``);
        dry_run only lists them."""
        return 200, self.engine.retry_incidents(body["operation"], body["process_id"], body["dry_run"], principal)

    # -- the bus -------------------------------------------------------------------------------
    @http("GET", "/api/ops/queues")
    @endpoint("operator", response=OpsQueues)
    def ops_queues(self, request, principal):
        """Every ztc.* queue: depth, ready, unacked, consumers, oldest message's age, dead letters."""
        return 200, management.overview(self._ops_settings())

    @http("GET", "/api/ops/dead-letters")
    @endpoint("operator", response=OpsDeadLetter(many=True), query=("queue", "routing_key"))
    def ops_dead_letters(self, request, principal):
        """The dead letters (nothing is taken away by reading them)."""
        return 200, deadletter.box(self._ops_settings()).list(
            queue=request.args.get("queue") or None, routing_key=request.args.get("routing_key") or None
        )

    @http("GET", "/api/ops/dead-letters/<string:letter_id>")
    @endpoint("operator", response=OpsDeadLetter)
    def ops_dead_letter(self, request, principal, letter_id):
        """One dead letter in full."""
        return 200, deadletter.box(self._ops_settings()).show(letter_id)

    @http("POST", "/api/ops/dead-letters/replay")
    @endpoint("operator", body=OpsDeadLetterSelection, response=OpsBatchResult)
    def ops_replay_dead_letters(self, request, principal, body):
        """Send dead letters back where they came from (by ids, queue, routing key, or all)."""
        return 200, deadletter.box(self._ops_settings()).replay(
            ids=body["ids"],
            queue=body["queue"],
            routing_key=body["routing_key"],
            everything=body["all"],
            dry_run=body["dry_run"],
            actor=principal["user"],
        )

    @http("POST", "/api/ops/dead-letters/discard")
    @endpoint("operator", body=OpsDeadLetterDiscard, response=OpsBatchResult)
    def ops_discard_dead_letters(self, request, principal, body):
        """Remove dead letters for good; the reason is recorded with each whole letter."""
        return 200, deadletter.box(self._ops_settings()).discard(
            body["reason"],
            ids=body["ids"],
            queue=body["queue"],
            routing_key=body["routing_key"],
            everything=body["all"],
            dry_run=body["dry_run"],
            actor=principal["user"],
        )

    # -- instances -----------------------------------------------------------------------------
    @http("POST", "/api/ops/instances/<string:instance_id>/suspend")
    @endpoint("operator", body=OpsReason, response=OpsInstance)
    def ops_suspend(self, request, principal, instance_id, body):
        """Hold an instance: no job results, messages or timers reach it until resumed (none are lost)."""
        return 200, self.engine.suspend(instance_id, body["reason"], principal)

    @http("POST", "/api/ops/instances/<string:instance_id>/resume")
    @endpoint("operator", body=schemas.EmptyRequest, response=OpsInstance)
    def ops_resume(self, request, principal, instance_id, body):
        """Let a suspended instance go on with what it was given meanwhile."""
        return 200, self.engine.resume(instance_id, principal)

    @http("POST", "/api/ops/instances/<string:instance_id>/cancel")
    @endpoint("operator", body=OpsCancel, response=OpsInstance)
    def ops_cancel(self, request, principal, instance_id, body):
        """End an instance as cancelled, closing its open tasks, jobs and incidents."""
        return 200, self.engine.cancel(instance_id, body["reason"], principal)

    @http("GET", "/api/ops/instances")
    @endpoint("operator", response=schemas.Instance(many=True), query=("business_key", "process_id", "status"))
    def ops_instances(self, request, principal):
        """Instances by business key, process or status, the newest first (at most 100)."""
        query = load(OpsInstanceSearch, {k: v for k, v in request.args.items() if v != ""}, "the query")
        return 200, self.engine.find_instances(query["business_key"], query["process_id"], query["status"])

    @http("GET", "/api/ops/instances/<string:instance_id>/where")
    @endpoint("operator", response=OpsWhere)
    def ops_where(self, request, principal, instance_id):
        """Where the instance's tokens are now."""
        return 200, self.engine.where(instance_id)

    @http("POST", "/api/ops/instances/cancel")
    @endpoint("operator", body=OpsBatchCancel, response=OpsBatchResult)
    def ops_cancel_many(self, request, principal, body):
        """Cancel every instance matching a business key prefix, process or status; dry_run lists them."""
        return 200, self.engine.cancel_instances(
            body["reason"], body["business_key_prefix"], body["process_id"], body["status"], body["dry_run"], principal
        )

    @http("GET", "/api/ops/services")
    @endpoint("operator", response=ServicesAnswer)
    def ops_services(self, request, principal):
        """Each service behind the gateway: answering or not, and why."""
        out = {
            name: {"status": "ok"} if error is None else {"status": "not answering", "error": error}
            for name, error in self.not_answering().items()
        }
        return 200, {"services": out, "ready": all(v["status"] == "ok" for v in out.values())}
