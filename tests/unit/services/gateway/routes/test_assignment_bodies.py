"""The bodies of a unit's HTTP commands (``POST /api/assignments/{id}/...``): each is refused
before the assignment service is asked when a number is not a whole number (``{"months": 1.5}``
must not ask for one month), naming the field, as the same command over AMQP is."""

from __future__ import annotations

import json

import pytest
from marshmallow import fields
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.routes.proposals import ProposalRoutes
from shared import config
from shared.errors import InvalidInput
from shared.validation import load

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
    request = Request(
        EnvironBuilder(method="POST", data=json.dumps(body), content_type="application/json").get_environ()
    )
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
