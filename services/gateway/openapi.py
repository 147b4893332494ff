"""The OpenAPI document, generated from the gateway's routes and marshmallow schemas.

Every HTTP route of the gateway is found from its nameko ``@http`` entrypoint; what ``@endpoint``
recorded (roles, body and response schemas, summary) describes it. Nothing is written by hand.
"""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from nameko.web.handlers import HttpRequestHandler

from shared.validation import made

from . import schemas
from .http import PATH_SCHEMAS
from .tokens import ROLES

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


CONSOLE_PREFIX = "/console"


def _routes(service_cls):
    """The API's routes. The web console's pages (under ``/console``) are HTML for a browser, not
    part of the API the document describes: each calls an API route that is."""
    for name in dir(service_cls):
        method = getattr(service_cls, name)
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler) and not (
                entrypoint.url == CONSOLE_PREFIX or entrypoint.url.startswith(CONSOLE_PREFIX + "/")
            ):
                yield entrypoint.method, entrypoint.url, method


def _path(url):
    params = []

    def replace(match):
        converter, name = match.group(1) or "string", match.group(2)
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": dict(PATH_SCHEMAS.get(converter, {"type": "string"})),
            }
        )
        return "{" + name + "}"

    return _PARAM.sub(replace, url), params


def build(service_cls, title="Zhitongche API", version="1") -> dict:
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Proposals and consultation workflows. Every call but /health, "
            "/ready and /openapi.json needs `Authorization: Bearer <token>`."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=schemas.Error)
    error = {"content": {"application/json": {"schema": "Error"}}}
    # Any request may be refused before a route sees it (a body too large or unreadable) or fail.
    edge = {
        "400": {"description": "the request cannot be read (e.g. a Content-Length that is no number)", **error},
        "413": {"description": "the request body is larger than ZTC_HTTP_MAX_BODY_BYTES", **error},
        "500": {"description": "internal error (the body names only the request id)", **error},
    }
    paths: dict = {}
    for http_method, url, method in sorted(_routes(service_cls), key=lambda r: (r[1], r[0])):
        path, params = _path(url)
        meta = getattr(method, "openapi", None)
        operation = {
            "operationId": method.__name__,
            "summary": (method.__doc__ or method.__name__).strip().split("\n")[0],
        }
        if params:
            operation["parameters"] = params
        if meta is None:  # public: health and documents
            operation["responses"] = {"200": {"description": "OK", "content": {"application/json": {}}}, **edge}
            if url == "/ready":
                operation["responses"]["503"] = {
                    "description": "a service behind the gateway does not answer",
                    "content": {"application/json": {}},
                }
        else:
            operation["security"] = [{"bearer": []}]
            if meta["query"]:
                operation.setdefault("parameters", []).extend(
                    {"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in meta["query"]
                )
            roles = ", ".join(meta["roles"]) if set(meta["roles"]) != set(ROLES) else "any signed-in role"
            operation["description"] = "Roles: " + roles
            if meta.get("anonymous"):
                operation["security"] = []
                operation["description"] = "Public: no token needed; every caller acts as the public role"
            if meta.get("idempotent"):
                from .http import IDEMPOTENCY_DOC, IDEMPOTENCY_HEADER

                operation.setdefault("parameters", []).append(
                    {
                        "name": IDEMPOTENCY_HEADER,
                        "in": "header",
                        "required": False,
                        "description": IDEMPOTENCY_DOC,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                    }
                )
            if meta["body"] is not None:
                # A body with no required field (EmptyRequest, say) may be left out altogether.
                needed = any(f.required for f in made(meta["body"]).fields.values())
                operation["requestBody"] = {
                    "required": needed,
                    "content": {"application/json": {"schema": meta["body"]}},
                }
            ok = {"description": "OK", "content": {"application/json": {"schema": {}}}}
            if meta["response"] is not None:
                ok["content"] = {"application/json": {"schema": meta["response"]}}
            if meta.get("html"):
                ok.setdefault("content", {})["text/html"] = {"schema": {"type": "string"}}
            if meta.get("files"):
                ok["content"] = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in meta["files"]}
            operation["responses"] = {
                **edge,
                str(meta["status"]): ok,
                "400": {"description": "invalid input, field by field", **error},
                **(
                    {"415": {"description": "a body sent with a Content-Type other than application/json", **error}}
                    if meta["body"] is not None
                    else {}
                ),
                "401": {"description": "no, unknown, expired or revoked token", **error},
                "403": {"description": "the caller's roles or unit do not allow this", **error},
                "404": {"description": "not found", **error},
                "409": {"description": "conflicts with the current state", **error},
                "502": {"description": "a service failed (the body names only the request id)", **error},
                "503": {
                    "description": "a service is not running, or the bus or a database is busy or away: "
                    "try again after `Retry-After` seconds (a creating request with the same Idempotency-Key)",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    **error,
                },
                "504": {
                    "description": "a service did not answer within ZTC_RPC_TIMEOUT_SECONDS; it may have "
                    "done the request: repeat it with the same Idempotency-Key after `Retry-After` seconds",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    **error,
                },
            }
            if meta.get("anonymous"):  # no token is read, so none is refused
                del operation["responses"]["401"], operation["responses"]["403"]
            statuses = list(meta.get("statuses", ()))
            if meta.get("idempotent"):
                statuses.append((422, "idempotency_key_reused: the Idempotency-Key was first used for another request"))
            for code, description in statuses:
                said = operation["responses"].get(str(code), {}).get("description") if code == 422 else None
                both = f"{said}; or {description}" if said else description
                operation["responses"][str(code)] = {"description": both, **error}
        paths.setdefault(path, {})[http_method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
