"""The OpenAPI document, generated from the gateway's routes and marshmallow schemas.

Every HTTP route of the gateway is found from its nameko ``@http`` entrypoint; what ``@endpoint``
recorded (roles, body and response schemas, summary) describes it. Nothing is written by hand.
"""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from nameko.web.handlers import HttpRequestHandler

from . import schemas
from .http import PATH_SCHEMAS

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _routes(service_cls):
    for name in dir(service_cls):
        method = getattr(service_cls, name)
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                yield entrypoint.method, entrypoint.url, method


def _path(url):
    params = []

    def replace(match):
        converter, name = match.group(1) or "string", match.group(2)
        params.append({"name": name, "in": "path", "required": True,
                       "schema": dict(PATH_SCHEMAS.get(converter, {"type": "string"}))})
        return "{" + name + "}"

    return _PARAM.sub(replace, url), params


def build(service_cls, title="Zhitongche API", version="1") -> dict:
    spec = APISpec(title=title, version=version, openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": "Proposals and consultation workflows. Every call but /health, "
                                        "/ready and /openapi.json needs `Authorization: Bearer <token>`."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=schemas.Error)
    error = {"content": {"application/json": {"schema": "Error"}}}
    paths: dict = {}
    for http_method, url, method in sorted(_routes(service_cls), key=lambda r: (r[1], r[0])):
        path, params = _path(url)
        meta = getattr(method, "openapi", None)
        operation = {"operationId": method.__name__, "summary": (method.__doc__ or method.__name__).strip().split("\n")[0]}
        if params:
            operation["parameters"] = params
        if meta is None:  # public: health and documents
            operation["responses"] = {"200": {"description": "OK"}}
        else:
            operation["security"] = [{"bearer": []}]
            if meta["roles"]:
                operation["description"] = "Roles: " + ", ".join(meta["roles"])
            if meta["query"]:
                operation.setdefault("parameters", []).extend(
                    {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                    for q in meta["query"])
            if meta.get("idempotent"):
                from .http import IDEMPOTENCY_DOC, IDEMPOTENCY_HEADER

                operation.setdefault("parameters", []).append(
                    {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False, "description": IDEMPOTENCY_DOC,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 100}})
            if meta["body"] is not None:
                operation["requestBody"] = {"required": True,
                                            "content": {"application/json": {"schema": meta["body"]}}}
            ok = {"description": "OK"}
            if meta["response"] is not None:
                ok["content"] = {"application/json": {"schema": meta["response"]}}
            if meta.get("html"):
                ok.setdefault("content", {})["text/html"] = {"schema": {"type": "string"}}
            operation["responses"] = {
                str(meta["status"]): ok,
                "400": {"description": "invalid input, field by field", **error},
                "401": {"description": "no or unknown token", **error},
                "403": {"description": "the caller's roles or unit do not allow this", **error},
                "404": {"description": "not found", **error},
                "409": {"description": "conflicts with the current state", **error},
            }
        paths.setdefault(path, {})[http_method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
