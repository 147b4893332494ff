"""The HTTP API. Each handler authenticates, decodes, calls one service over RPC, encodes.

Errors are answers: a refusal from any service (``ZtcError``) becomes its HTTP status with a JSON
body ``{"error", "message", "details"}``; malformed JSON is a 400 before any service is called.
"""
from __future__ import annotations

import functools
import json
import logging

from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from shared.errors import Forbidden, InvalidInput, ZtcError
from shared.messaging.database import Database
from shared.validation import load

from . import openapi, schemas, tokens
from .models import Inbox, Outbox

log = logging.getLogger(__name__)


def _json(status: int, body) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    mimetype="application/json")


def _body(request) -> dict:
    raw = request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("the request body is not valid JSON", {"_body": [str(exc)]}) from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object", {"_body": ["expected an object"]})
    return data


def endpoint(*roles, body=None, response=None, status=200, query=()):
    """Authenticate, check the caller holds one of ``roles`` (any role if none), validate the body
    with the ``body`` schema (the handler gets it as ``body=``), map errors. ``response``,
    ``status`` and ``query`` describe the route in the OpenAPI document."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, **kwargs):
            try:
                principal = self._principal(request)
                if roles and not set(roles) & set(principal["roles"]):
                    raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
                if body is not None:
                    kwargs["body"] = load(body, _body(request), "the request body")
                code, result = method(self, request, principal, **kwargs)
                return _json(code, result)
            except ZtcError as exc:
                return _json(exc.status, exc.to_dict())
            except RemoteError as exc:
                log.error("a service failed: %s", exc)
                return _json(502, {"error": "service_failed", "message": str(exc), "details": {}})
            except UnknownService as exc:
                log.error("a service is not running: %s", exc)
                return _json(503, {"error": "service_unavailable", "message": str(exc), "details": {}})

        wrapper.openapi = {"roles": roles, "body": body, "response": response, "status": status,
                           "query": query}
        return wrapper

    return decorate


class GatewayService:
    name = "gateway"
    db = Database("gateway", Outbox, Inbox)
    engine = RpcProxy("engine")
    intake = RpcProxy("intake")
    evaluation = RpcProxy("evaluation")
    supervision = RpcProxy("supervision")
    assignment = RpcProxy("assignment")

    def _principal(self, request) -> dict:
        return tokens.principal_for(self.db.session, request.headers.get("Authorization"))

    @http("GET", "/health")
    def health(self, request):
        return _json(200, {"status": "ok"})

    @http("GET", "/ready")
    def ready(self, request):
        """Ready when every service behind the gateway answers."""
        waiting = {}
        for name in ("engine", "intake", "assignment", "supervision", "evaluation"):
            try:
                getattr(self, name).ping()
            except Exception as exc:  # any failure means "not ready"; say which
                waiting[name] = f"{type(exc).__name__}: {exc}"
        if waiting:
            return _json(503, {"status": "not ready", "waiting_for": waiting})
        return _json(200, {"status": "ready"})

    @http("GET", "/openapi.json")
    def openapi_document(self, request):
        """The OpenAPI document of this API."""
        return _json(200, openapi.build(type(self)))

    @http("GET", "/api/me")
    @endpoint(response=schemas.PrincipalSchema)
    def me(self, request, principal):
        """Who the token belongs to."""
        return 200, principal

    # -- designers --------------------------------------------------------------------------
    @http("POST", "/api/deployments")
    @endpoint("designer", "operator", body=schemas.DeploymentRequest, response=schemas.DeployedVersion(many=True),
              status=201)
    def deploy(self, request, principal, body):
        """Validate and deploy diagrams; a refused diagram answers 422 with every problem."""
        return 201, self.engine.deploy(body["files"], principal["user"])

    @http("GET", "/api/processes")
    @endpoint(response=schemas.ProcessVersion(many=True))
    def versions(self, request, principal):
        """Deployed process versions."""
        return 200, self.engine.versions()

    # -- instances --------------------------------------------------------------------------
    @http("POST", "/api/processes/<string:process_id>/instances")
    @endpoint("staff", "member", "operator", body=schemas.StartRequest, response=schemas.Instance, status=201)
    def start(self, request, principal, process_id, body):
        """Start an instance of the newest version of a process."""
        return 201, self.engine.start(process_id, body["business_key"], body["data"], principal)

    @http("GET", "/api/instances/<string:instance_id>")
    @endpoint("staff", "operator", "leader", response=schemas.Instance)
    def instance(self, request, principal, instance_id):
        """An instance: status, where it waits, incidents."""
        return 200, self.engine.get_instance(instance_id)

    @http("GET", "/api/instances/<string:instance_id>/history")
    @endpoint("staff", "operator", "leader", response=schemas.HistoryEntry(many=True))
    def history(self, request, principal, instance_id):
        """Who did what, when, with what data."""
        return 200, self.engine.history(instance_id)

    # -- the task list -----------------------------------------------------------------------
    @http("GET", "/api/tasks")
    @endpoint(response=schemas.Task(many=True), query=("instance_id",))
    def tasks(self, request, principal):
        """The open tasks the caller may act on."""
        return 200, self.engine.list_tasks(principal, request.args.get("instance_id"))

    @http("POST", "/api/tasks/<string:task_id>/claim")
    @endpoint(response=schemas.Task)
    def claim(self, request, principal, task_id):
        """Claim a task so no one else completes it."""
        return 200, self.engine.claim(task_id, principal)

    @http("POST", "/api/tasks/<string:task_id>/complete")
    @endpoint(body=schemas.CompleteTaskRequest, response=schemas.Instance)
    def complete(self, request, principal, task_id, body):
        """Complete a task with its form's data."""
        return 200, self.engine.complete_task(task_id, body["data"], principal)

    # -- messages from department systems ----------------------------------------------------------
    @http("POST", "/api/messages")
    @endpoint("unit", "staff", "operator", body=schemas.MessageSchema, response=schemas.MessageAccepted,
              status=202)
    def message(self, request, principal, body):
        """Send a BPMN message, correlated by name and business key."""
        return 202, self.engine.send_message(body, principal)

    # -- operators ---------------------------------------------------------------------------
    @http("GET", "/api/incidents")
    @endpoint("operator", response=schemas.Incident(many=True), query=("status",))
    def incidents(self, request, principal):
        """Incidents (open by default; status= for others, empty for all)."""
        return 200, self.engine.incidents(request.args.get("status", "open") or None)

    @http("POST", "/api/incidents/<int:incident_id>/retry")
    @endpoint("operator", response=schemas.Incident)
    def retry_incident(self, request, principal, incident_id):
        """Send an incident's job again."""
        return 200, self.engine.retry_incident(incident_id, principal)

    @http("POST", "/api/incidents/<int:incident_id>/resolve")
    @endpoint("operator", body=schemas.ResolveRequest, response=schemas.Incident)
    def resolve_incident(self, request, principal, incident_id, body):
        """Close an incident without retrying, saying why."""
        return 200, self.engine.resolve_incident(incident_id, body["resolution"], principal)

    # -- proposals (提案) ---------------------------------------------------------------------
    @http("POST", "/api/proposals")
    @endpoint("member", body=schemas.ProposalDraft, response=schemas.Proposal, status=201)
    def submit_proposal(self, request, principal, body):
        """Submit a proposal (one matter: situation, analysis, suggestions), perhaps with co-signers."""
        return 201, self.intake.submit(body, principal)

    @http("GET", "/api/proposals")
    @endpoint(response=schemas.Proposal(many=True), query=("mine",))
    def list_proposals(self, request, principal):
        """Proposals the caller may read (mine=true: only the caller's own)."""
        mine = request.args.get("mine", "false").lower() in ("1", "true", "yes")
        return 200, self.intake.list(principal, mine)

    @http("GET", "/api/proposals/<string:number>")
    @endpoint(response=schemas.Proposal)
    def get_proposal(self, request, principal, number):
        """One proposal; other members see it only once published, with personal data masked."""
        return 200, self.intake.get(number, principal)

    @http("POST", "/api/proposals/<string:number>/cosign")
    @endpoint("member", response=schemas.Proposal)
    def cosign_proposal(self, request, principal, number):
        """An invited co-signer confirms, before the co-signing deadline."""
        return 200, self.intake.cosign(number, principal)

    @http("POST", "/api/proposals/<string:number>/resubmit")
    @endpoint("member", body=schemas.ProposalRevision, response=schemas.Proposal)
    def resubmit_proposal(self, request, principal, number, body):
        """The initiator resubmits a proposal returned for revision."""
        return 200, self.intake.resubmit(number, body, principal)

    # -- evaluation (评) -------------------------------------------------------------------------
    @http("POST", "/api/proposals/<string:number>/ratings")
    @endpoint("member", body=schemas.RatingRequest, response=schemas.Rating, status=201)
    def rate(self, request, principal, number, body):
        """A proposer rates the reply: two scores (handling, result), only for themselves."""
        return 201, self.evaluation.rate(number, body["handling"], body["result"], body["comment"],
                                         principal=principal)

    @http("GET", "/api/proposals/<string:number>/ratings")
    @endpoint(response=schemas.Ratings)
    def ratings(self, request, principal, number):
        """Rating rounds: proposers see their own ratings, staff and leaders all of them."""
        return 200, self.evaluation.ratings(number, principal=principal)

    @http("GET", "/api/assessments/units/<int:year>")
    @endpoint("staff", "committee", "leader", response=schemas.UnitAssessment)
    def unit_assessment(self, request, principal, year):
        """The units' annual assessment, computed from handling scores and ratings."""
        return 200, self.evaluation.unit_assessment(year, principal=principal)

    # -- supervision (督) -------------------------------------------------------------------------
    @http("GET", "/api/proposals/<string:number>/deadlines")
    @endpoint(response=schemas.Deadlines)
    def deadlines(self, request, principal, number):
        """Every deadline of a proposal and why it is what it is: rule, start, calendar, changes."""
        return 200, self.supervision.deadlines(number, principal=principal)

    @http("GET", "/api/overdue")
    @endpoint("staff", "leader", "committee")
    def overdue(self, request, principal):
        """The live list of overdue work per unit."""
        return 200, self.supervision.overdue(principal=principal)

    @http("POST", "/api/proposals/<string:number>/supervision-log")
    @endpoint("leader", body=schemas.SupervisionLogRequest, status=201)
    def log_key_supervision(self, request, principal, number, body):
        """The supervising leader of a key proposal records a visit, meeting or instruction."""
        return 201, self.supervision.log_key_supervision(number, body["kind"], body["text"], principal=principal)

    @http("GET", "/api/proposals/<string:number>/supervision-log")
    @endpoint()
    def key_supervision_log(self, request, principal, number):
        """A key proposal's supervision log."""
        return 200, self.supervision.key_supervision_log(number, principal=principal)

    # -- units (交, 办): a unit handler acts on its own unit's assignments only ---------------------
    @http("GET", "/api/assignments")
    @endpoint("unit", "staff", "leader", "committee", query=("number",))
    def list_assignments(self, request, principal):
        """Assignments: a unit sees its own; staff see all."""
        return 200, self.assignment.list_assignments(principal=principal, number=request.args.get("number"))

    @http("GET", "/api/assignments/<int:assignment_id>")
    @endpoint("unit", "staff", "leader", "committee")
    def get_assignment(self, request, principal, assignment_id):
        """One assignment with its replies, co-signatures and events."""
        return 200, self.assignment.get_assignment(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/sign")
    @endpoint("unit")
    def sign_assignment(self, request, principal, assignment_id):
        """签收: the unit signs for the assignment; its clock starts."""
        return 200, self.assignment.sign(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/object")
    @endpoint("unit", body=schemas.ObjectionRequest)
    def object_to_assignment(self, request, principal, assignment_id, body):
        """Object to an assignment within the window; staff reassign."""
        return 200, self.assignment.object(assignment_id, body["reason"], principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/input")
    @endpoint("unit", body=schemas.TextRequest)
    def send_input(self, request, principal, assignment_id, body):
        """A co-unit sends its input to the lead unit."""
        return 200, self.assignment.send_input(assignment_id, body["text"], principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/reply-draft")
    @endpoint("unit", body=schemas.ReplyDraftRequest)
    def draft_reply(self, request, principal, assignment_id, body):
        """The answering unit drafts its reply with a category."""
        return 200, self.assignment.draft_reply(assignment_id, body["category"], body["text"], principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/cosign-reply")
    @endpoint("unit")
    def cosign_reply(self, request, principal, assignment_id):
        """会签: a co-unit co-signs the lead's draft."""
        return 200, self.assignment.cosign_reply(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/reply")
    @endpoint("unit")
    def submit_reply(self, request, principal, assignment_id):
        """Submit the reply; refused until every co-unit co-signed."""
        return 200, self.assignment.submit_reply(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/extension")
    @endpoint("unit", body=schemas.ExtensionRequest)
    def request_extension(self, request, principal, assignment_id, body):
        """Ask for a later reply deadline, before the current one."""
        return 200, self.assignment.request_extension(assignment_id, until=body["until"].isoformat(),
                                                      reason=body["reason"], principal=principal)

    @http("POST", "/api/assignments/<int:assignment_id>/followup")
    @endpoint("unit", body=schemas.TextRequest)
    def submit_followup(self, request, principal, assignment_id, body):
        """After a category B reply: report the matter solved (the second reply)."""
        return 200, self.assignment.submit_followup(assignment_id, body["text"], principal=principal)
