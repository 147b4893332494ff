"""The gateway's HTTP plumbing: ``endpoint`` and JSON answers. Each handler authenticates, decodes, calls one service over RPC, encodes.

Errors are answers: a refusal from any service (``ZtcError``) becomes its HTTP status with a JSON
body ``{"error", "message", "details"}``; malformed JSON is a 400 before any service is called.
"""
from __future__ import annotations

import functools
import json
import logging
import uuid

from nameko.exceptions import RemoteError, UnknownService
from werkzeug.wrappers import Response

from shared.errors import Conflict, Forbidden, InvalidInput, ZtcError
from shared.validation import load


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


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_DOC = ("Makes the request safe to repeat: a repeat by the same caller with the same key answers "
                   "what the first made (the first body wins; a repeat's body is not compared) and creates "
                   "nothing. 1-100 printable characters. Without it each HTTP request gets a key of its own, "
                   "so a request the broker redelivers to a restarted service is still recorded once.")


def request_key(request) -> str:
    """The creating request's idempotency key: the client's ``Idempotency-Key`` header, or a
    fresh uuid4 for this HTTP request."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return str(uuid.uuid4())
    if not 1 <= len(key) <= 100 or not key.isprintable():
        raise InvalidInput(f"the {IDEMPOTENCY_HEADER} header is invalid",
                           {IDEMPOTENCY_HEADER: ["1 to 100 printable characters"]})
    return key


def endpoint(*roles, body=None, response=None, status=200, query=(), html=False, idempotent=False):
    """Authenticate, check the caller holds one of ``roles`` (any role if none), validate the body
    with the ``body`` schema (the handler gets it as ``body=``), map errors. ``response``,
    ``status`` and ``query`` describe the route in the OpenAPI document; ``html`` says the route
    also answers a printable HTML document (the handler returns a ``Response`` for it).
    ``idempotent``: a creating route; the handler gets the request's idempotency key as ``key=``
    (see :func:`request_key`) and passes it to the service."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, **kwargs):
            try:
                principal = self._principal(request)
                if roles and not set(roles) & set(principal["roles"]):
                    raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
                if idempotent:
                    kwargs["key"] = request_key(request)
                if body is not None:
                    kwargs["body"] = load(body, _body(request), "the request body")
                code, result = method(self, request, principal, **kwargs)
                return result if isinstance(result, Response) else _json(code, result)
            except ZtcError as exc:
                return _json(exc.status, exc.to_dict())
            except RemoteError as exc:
                log.error("a service failed: %s", exc)
                return _json(502, {"error": "service_failed", "message": str(exc), "details": {}})
            except UnknownService as exc:
                log.error("a service is not running: %s", exc)
                return _json(503, {"error": "service_unavailable", "message": str(exc), "details": {}})

        wrapper.openapi = {"roles": roles, "body": body, "response": response, "status": status,
                           "query": query, "html": html, "idempotent": idempotent}
        return wrapper

    return decorate




def complete_open_task(engine, principal, process_id: str, business_key: str, task: str, data: dict,
                       what: str) -> None:
    """Complete the caller's open ``task`` of the ``process_id`` instance keyed ``business_key``
    with ``data`` (the engine checks the caller and the form); 409 naming ``what`` if none waits."""
    mine = [t for t in engine.list_tasks(principal)
            if t["process_id"] == process_id and t["business_key"] == business_key and t["task"] == task]
    if not mine:
        raise Conflict(f"{what} is not waiting for {task.replace('_', ' ')} by you")
    engine.complete_task(mine[0]["task_id"], data, principal)
