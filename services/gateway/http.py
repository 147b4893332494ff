"""The gateway's HTTP plumbing: ``endpoint`` and JSON answers. Each handler authenticates, decodes, calls one service over RPC, encodes.

Errors are answers: a refusal from any service (``ZtcError``) becomes its HTTP status with a JSON
body ``{"error", "message", "details"}``; malformed JSON is a 400 before any service is called.
"""
from __future__ import annotations

import functools
import json
import logging

from nameko.exceptions import RemoteError, UnknownService
from werkzeug.wrappers import Response

from shared.errors import Forbidden, InvalidInput, ZtcError
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


def endpoint(*roles, body=None, response=None, status=200, query=(), html=False):
    """Authenticate, check the caller holds one of ``roles`` (any role if none), validate the body
    with the ``body`` schema (the handler gets it as ``body=``), map errors. ``response``,
    ``status`` and ``query`` describe the route in the OpenAPI document; ``html`` says the route
    also answers a printable HTML document (the handler returns a ``Response`` for it)."""

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
                           "query": query, "html": html}
        return wrapper

    return decorate


