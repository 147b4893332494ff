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


def test_every_route_of_the_gateway_is_in_the_document_and_no_console_page():
    document = openapi.build(GatewayService)
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    console = 0
    for method, url in gateway_routes():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", url)
        if url == "/console" or url.startswith("/console/"):
            console += 1  # HTML for a browser; each page calls a documented API route
            assert (method, path) not in documented, f"the console page {method.upper()} {url} is documented"
        else:
            assert (method, path) in documented, f"{method.upper()} {url} is not documented"
    assert console > 0


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
    page = incidents["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page.endswith("/IncidentPage")
    assert set(document["components"]["schemas"]["IncidentPage"]["properties"]) == {
        "page",
        "per_page",
        "total",
        "total_exact",
        "items",
    }


def test_public_routes_need_no_token():
    document = openapi.build(GatewayService)
    assert "security" not in document["paths"]["/health"]["get"]
    assert document["openapi"].startswith("3.")


def test_the_public_api_is_documented_without_a_token_and_with_its_spam_limit():
    paths = openapi.build(GatewayService)["paths"]
    public = {
        (path, method): op
        for path, ops in paths.items()
        if path.startswith("/api/public/")
        for method, op in ops.items()
    }
    assert {
        ("/api/public/proposals", "get"),
        ("/api/public/proposals/{number}", "get"),
        ("/api/public/reports/proposals/{year}/notice", "get"),
        ("/api/public/opinions/{year}/adopted", "get"),
        ("/api/public/consultations", "post"),
        ("/api/public/consultations/{reference}", "get"),
        ("/api/public/venues", "get"),
    } == set(public)
    for op in public.values():
        assert op["security"] == [] and "401" not in op["responses"] and "403" not in op["responses"]
    page = public[("/api/public/proposals", "get")]
    assert {p["name"] for p in page["parameters"]} == {"page", "per_page", "year"}
    raised = public[("/api/public/consultations", "post")]
    assert "429" in raised["responses"] and "201" in raised["responses"]
    assert raised["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CaseRegistration")


def test_every_command_route_reads_its_body_with_a_schema_so_an_unknown_field_is_refused():
    """A POST, PUT or PATCH of the API declares its body (a command that needs nothing but its path
    declares the empty one): a field the route does not read is answered invalid_input naming it,
    never dropped without a word (cosign-reply, reply, claim and resume read no body before)."""
    document = openapi.build(GatewayService)
    bodiless = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch") and "requestBody" not in operation
    ]
    assert bodiless == []
    reply = document["paths"]["/api/assignments/{assignment_id}/reply"]["post"]["requestBody"]
    assert reply["content"]["application/json"]["schema"]["$ref"].endswith("/EmptyRequest")
    assert reply["required"] is False  # the empty body may be left out, as the route takes it
    objection = document["paths"]["/api/assignments/{assignment_id}/object"]["post"]["requestBody"]
    assert objection["required"] is True  # its reason is required
