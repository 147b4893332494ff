"""``GET /api/incidents``: what the route asks the engine for. An absent ``status`` is the engine's
default (open); ``status=`` given empty asks for every incident."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from services.gateway.routes.operators import OperatorRoutes

ROUTE = OperatorRoutes.incidents.__wrapped__  # the handler behind the guard
OPERATOR = {"user": "ops.sun", "roles": ["operator"]}


class _Engine:
    def __init__(self):
        self.asked = []

    def incident_page(self, query):
        self.asked.append(query)
        return {"page": 1, "per_page": 50, "total": 0, "items": []}


class _Gateway(OperatorRoutes):
    def __init__(self):
        self.engine = _Engine()


class _Request:
    def __init__(self, args):
        self.args = MultiDict(args)


@pytest.mark.parametrize(
    ("args", "asked"),
    [
        ({}, {}),
        ({"status": ""}, {"status": ""}),
        ({"status": "resolved", "page": "2", "per_page": "20"}, {"status": "resolved", "page": "2", "per_page": "20"}),
        ({"page": "", "other": "x"}, {}),
    ],
)
def test_the_route_passes_on_the_page_and_the_status_asked(args, asked):
    gateway = _Gateway()
    assert ROUTE(gateway, _Request(args), OPERATOR) == (200, {"page": 1, "per_page": 50, "total": 0, "items": []})
    assert gateway.engine.asked == [asked]
