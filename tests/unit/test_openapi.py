"""The OpenAPI document is generated from the gateway's routes and schemas, so it cannot drift."""
import re

from nameko.web.handlers import HttpRequestHandler

from services.gateway import openapi
from services.gateway.service import GatewayService


def gateway_routes():
    for name in dir(GatewayService):
        for entrypoint in getattr(getattr(GatewayService, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                yield entrypoint.method.lower(), entrypoint.url


def test_every_route_of_the_gateway_is_in_the_document():
    document = openapi.build(GatewayService)
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    for method, url in gateway_routes():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", url)
        assert (method, path) in documented, f"{method.upper()} {url} is not documented"


def test_authenticated_routes_document_their_refusals_and_bodies():
    document = openapi.build(GatewayService)
    complete = document["paths"]["/api/tasks/{task_id}/complete"]["post"]
    assert complete["security"] == [{"bearer": []}]
    assert set(complete["responses"]) >= {"200", "400", "401", "403", "404"}
    body = complete["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/CompleteTaskRequest")
    assert "data" in document["components"]["schemas"]["CompleteTaskRequest"]["properties"]
    incidents = document["paths"]["/api/incidents"]["get"]
    assert "operator" in incidents["description"]
    assert incidents["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_public_routes_need_no_token():
    document = openapi.build(GatewayService)
    assert "security" not in document["paths"]["/health"]["get"]
    assert document["openapi"].startswith("3.")
