"""The bodies of a unit's HTTP commands (``POST /api/assignments/{id}/...``): each is refused
before the assignment service is asked when a number is not a whole number (``{"months": 1.5}``
must not ask for one month), naming the field, as the same command over AMQP is; and each takes
what the same command takes over AMQP, with the same limits (docs/unit-integration.md: both ways
are checked the same)."""

from __future__ import annotations

import json

import pytest
from marshmallow import fields
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.assignment.contracts import COMMAND_SCHEMAS
from services.gateway.routes.proposals import ProposalRoutes
from shared import config
from shared.errors import InvalidInput
from shared.validation import load, made

UNIT = {"user": "handler.transport", "roles": ["unit"], "unit": "transport"}
# The unit's command routes, by route function: each names the body schema it loads (None: no body).
COMMAND_ROUTES = {
    name: route.openapi["body"]
    for name, route in vars(ProposalRoutes).items()
    if getattr(route, "openapi", None) and "unit" in route.openapi["roles"]
    for entrypoint in getattr(route, "nameko_entrypoints", ())
    if entrypoint.method == "POST" and entrypoint.url.startswith("/api/assignments/")
}
INTEGER_FIELDS = [
    (route, name)
    for route, body in COMMAND_ROUTES.items()
    if body is not None
    for name, field in body().fields.items()
    if isinstance(field, fields.Integer)
]


class _Assignment:
    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return {"ok": True}

        return call


class _Gateway(ProposalRoutes):
    def __init__(self):
        self.assignment = _Assignment()

    def _settings(self):
        return config.load({})

    def _principal(self, request):
        return UNIT


def post(gateway, route: str, body, **path):
    data = json.dumps(body) if body is not None else b""
    request = Request(EnvironBuilder(method="POST", data=data, content_type="application/json").get_environ())
    response = getattr(gateway, route)(request, **path)
    return response.status_code, json.loads(response.get_data())


def test_the_unit_command_routes_and_their_integer_fields_are_found():
    assert {"sign_assignment", "request_extension", "report_milestone", "record_contact"} <= set(COMMAND_ROUTES)
    assert {("request_extension", "months"), ("report_milestone", "milestone")} <= set(INTEGER_FIELDS)


@pytest.mark.parametrize("value", [1.9, 1.5, 1.0, "1", True], ids=repr)
@pytest.mark.parametrize("route, name", INTEGER_FIELDS)
def test_an_integer_field_of_a_unit_command_body_refuses_what_is_not_a_whole_number(route, name, value):
    with pytest.raises(InvalidInput) as refused:
        load(COMMAND_ROUTES[route], {name: value}, "the request body")
    assert refused.value.details[name] == ["Not a valid integer."]


def test_an_extension_for_1_5_months_is_refused_naming_months_and_the_service_is_not_asked():
    gateway = _Gateway()
    status, answer = post(gateway, "request_extension", {"months": 1.5, "reason": "预算"}, assignment_id=1)
    assert (status, answer["error"]) == (400, "invalid_input")
    assert answer["details"]["months"] == ["Not a valid integer."]
    assert gateway.assignment.calls == []
    status, _ = post(gateway, "request_extension", {"months": 2, "reason": "预算"}, assignment_id=1)
    assert status == 200 and gateway.assignment.calls[0][2]["months"] == 2


def test_signing_refuses_unknown_fields_as_every_other_body_does_and_takes_an_empty_body():
    gateway = _Gateway()
    status, answer = post(gateway, "sign_assignment", {"reason": "x", "months": 1}, assignment_id=1)
    assert (status, answer["error"]) == (400, "invalid_input")
    assert answer["details"]["reason"] == answer["details"]["months"] == ["Unknown field."]
    status, other = post(gateway, "object_to_assignment", {"reason": "x", "months": 1}, assignment_id=1)
    assert (status, other["details"]["months"]) == (400, ["Unknown field."])  # the same refusal
    assert gateway.assignment.calls == []
    for empty in (None, {}):
        assert post(gateway, "sign_assignment", empty, assignment_id=1)[0] == 200
    assert [name for name, _, _ in gateway.assignment.calls] == ["sign", "sign"]


# -- one limit for both doors ----------------------------------------------------------------------

# Each unit route and the AMQP command it is (docs/unit-integration.md: both end in the same function).
ROUTE_COMMANDS = {
    "sign_assignment": "sign",
    "object_to_assignment": "object",
    "send_input": "send_input",
    "draft_reply": "draft_reply",
    "cosign_reply": "cosign_reply",
    "submit_reply": "submit_reply",
    "request_extension": "request_extension",
    "report_milestone": "report_milestone",
    "record_contact": "record_contact",
    "submit_followup": "submit_followup",
}


def takes(schema) -> dict:
    """What each field of ``schema`` takes: its type, required, null allowed, strict, the bounds of its
    validators, and the same of the fields of a nested schema."""

    def field_takes(field):
        bounds = sorted((type(v).__name__, getattr(v, "min", None), getattr(v, "max", None)) for v in field.validators)
        inner = getattr(field, "inner", None)
        nested = takes(field.schema) if isinstance(field, fields.Nested) else None
        shape = (type(field).__name__, field.required, field.allow_none, getattr(field, "strict", None))
        return (shape, bounds, field_takes(inner) if inner is not None else None, nested)

    schema = made(schema) if isinstance(schema, type) else schema
    return {name: field_takes(field) for name, field in schema.fields.items()}


def test_every_unit_command_route_is_paired_with_its_amqp_command():
    assert set(ROUTE_COMMANDS) == set(COMMAND_ROUTES)
    assert set(ROUTE_COMMANDS.values()) == set(COMMAND_SCHEMAS)


@pytest.mark.parametrize("route, command", ROUTE_COMMANDS.items())
def test_a_unit_commands_http_body_takes_what_its_amqp_body_takes_with_the_same_limits(route, command):
    over_amqp = takes(COMMAND_SCHEMAS[command])
    del over_amqp["assignment_id"]  # over HTTP, the path's
    body = COMMAND_ROUTES[route]
    assert (takes(body) if body is not None else {}) == over_amqp


def test_cosigning_and_submitting_a_reply_refuse_unknown_fields_and_take_an_empty_body():
    gateway = _Gateway()
    for route in ("cosign_reply", "submit_reply"):
        status, answer = post(gateway, route, {"text": "答复正文", "category": "A"}, assignment_id=1)
        assert (status, answer["error"]) == (400, "invalid_input")
        assert answer["details"] == {"text": ["Unknown field."], "category": ["Unknown field."]}
    assert gateway.assignment.calls == []
    for empty in (None, {}):
        assert post(gateway, "cosign_reply", empty, assignment_id=1)[0] == 200
        assert post(gateway, "submit_reply", empty, assignment_id=1)[0] == 200
    assert [name for name, _, _ in gateway.assignment.calls] == ["cosign_reply", "submit_reply"] * 2
