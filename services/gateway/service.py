"""The HTTP API. Each handler authenticates, decodes, calls one service over RPC, encodes.

Errors are answers: a refusal from any service (``ZtcError``) becomes its HTTP status with a JSON
body ``{"error", "message", "details"}``; malformed JSON is a 400 before any service is called.
"""
from __future__ import annotations

import functools
import json
import logging

from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from shared.errors import Forbidden, InvalidInput, ZtcError
from shared.messaging.database import Database

from . import tokens
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


def endpoint(*roles):
    """Authenticate, check the caller holds one of ``roles`` (any role if none), map errors."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, **kwargs):
            try:
                principal = self._principal(request)
                if roles and not set(roles) & set(principal["roles"]):
                    raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
                status, body = method(self, request, principal, **kwargs)
                return _json(status, body)
            except ZtcError as exc:
                return _json(exc.status, exc.to_dict())
            except RemoteError as exc:
                log.error("a service failed: %s", exc)
                return _json(502, {"error": "service_failed", "message": str(exc), "details": {}})

        return wrapper

    return decorate


class GatewayService:
    name = "gateway"
    db = Database("gateway", Outbox, Inbox)
    engine = RpcProxy("engine")

    def _principal(self, request) -> dict:
        return tokens.principal_for(self.db.session, request.headers.get("Authorization"))

    @http("GET", "/health")
    def health(self, request):
        return _json(200, {"status": "ok"})

    @http("GET", "/ready")
    def ready(self, request):
        try:
            self.engine.versions()
        except Exception as exc:  # any failure means "not ready"; say which
            return _json(503, {"status": "not ready", "reason": str(exc)})
        return _json(200, {"status": "ready"})

    @http("GET", "/api/me")
    @endpoint()
    def me(self, request, principal):
        return 200, principal

    # -- designers --------------------------------------------------------------------------
    @http("POST", "/api/deployments")
    @endpoint("designer", "operator")
    def deploy(self, request, principal):
        files = _body(request).get("files")
        if not isinstance(files, dict) or not files:
            raise InvalidInput("send {\"files\": {\"name.bpmn\": \"<xml>\"}}", {"files": ["required"]})
        return 201, self.engine.deploy(files, principal["user"])

    @http("GET", "/api/processes")
    @endpoint()
    def versions(self, request, principal):
        return 200, self.engine.versions()

    # -- instances --------------------------------------------------------------------------
    @http("POST", "/api/processes/<string:process_id>/instances")
    @endpoint("staff", "member", "operator")
    def start(self, request, principal, process_id):
        body = _body(request)
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise InvalidInput("data must be an object", {"data": ["expected an object"]})
        return 201, self.engine.start(process_id, body.get("business_key"), data, principal)

    @http("GET", "/api/instances/<string:instance_id>")
    @endpoint("staff", "operator", "leader")
    def instance(self, request, principal, instance_id):
        return 200, self.engine.get_instance(instance_id)

    @http("GET", "/api/instances/<string:instance_id>/history")
    @endpoint("staff", "operator", "leader")
    def history(self, request, principal, instance_id):
        return 200, self.engine.history(instance_id)

    # -- the task list -----------------------------------------------------------------------
    @http("GET", "/api/tasks")
    @endpoint()
    def tasks(self, request, principal):
        return 200, self.engine.list_tasks(principal, request.args.get("instance_id"))

    @http("POST", "/api/tasks/<string:task_id>/claim")
    @endpoint()
    def claim(self, request, principal, task_id):
        return 200, self.engine.claim(task_id, principal)

    @http("POST", "/api/tasks/<string:task_id>/complete")
    @endpoint()
    def complete(self, request, principal, task_id):
        return 200, self.engine.complete_task(task_id, _body(request).get("data", {}), principal)

    # -- messages from department systems ----------------------------------------------------------
    @http("POST", "/api/messages")
    @endpoint("unit", "staff", "operator")
    def message(self, request, principal):
        return 202, self.engine.send_message(_body(request), principal)

    # -- operators ---------------------------------------------------------------------------
    @http("GET", "/api/incidents")
    @endpoint("operator")
    def incidents(self, request, principal):
        return 200, self.engine.incidents(request.args.get("status", "open") or None)

    @http("POST", "/api/incidents/<int:incident_id>/retry")
    @endpoint("operator")
    def retry_incident(self, request, principal, incident_id):
        return 200, self.engine.retry_incident(incident_id, principal)

    @http("POST", "/api/incidents/<int:incident_id>/resolve")
    @endpoint("operator")
    def resolve_incident(self, request, principal, incident_id):
        return 200, self.engine.resolve_incident(incident_id, _body(request).get("resolution", ""), principal)
