"""A console page when the bus or the gateway's database fails under load: the unit's sign button
whose RPC call met a connection the broker reset answers the 503 page with Retry-After, logged
under the page's own request id, and signs on the next press; a failure before any route runs (the
session read from a database out of connections) is a 503 with the request id too, not a 500."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import pytest
from sqlalchemy import exc as sa
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import http, tokens
from services.gateway.console import session
from services.gateway.console.work import ConsoleWorkRoutes
from services.gateway.models import Base
from services.gateway.routes.proposals import ProposalRoutes
from shared import config
from shared.db import dispose_all, get_engine, session_factory


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path}/gateway.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


class Assignment:
    """The assignment service; the first ``resets`` calls meet a connection the broker reset."""

    def __init__(self, resets):
        self.resets, self.signed = resets, []

    def sign(self, assignment_id, principal):
        if self.resets:
            self.resets -= 1
            raise ConnectionResetError(104, "Connection reset by peer")
        self.signed.append((assignment_id, principal["unit"]))
        return {"id": assignment_id, "status": "signed"}


class Console(ConsoleWorkRoutes, ProposalRoutes):
    def __init__(self, s, assignment):
        self.db, self.assignment = SimpleNamespace(session=s), assignment

    def _settings(self):
        return config.load({})

    def _principal(self, request):
        return tokens.principal_for(self.db.session, request.headers.get("Authorization"))


def press_sign(console, token):
    environ = EnvironBuilder(
        method="POST",
        path="/console/assignments/7/sign",
        data={"csrf": session.csrf_for(token)},
        headers={"Cookie": f"{session.COOKIE}={token}"},
    ).get_environ()
    environ["ztc.request_id"] = "rid-page"
    return console.console_assignment_action(Request(environ), assignment_id=7, action="sign")


def test_the_sign_button_under_a_reset_connection_answers_the_503_page_and_signs_when_pressed_again(db, caplog):
    token = tokens.issue(db, "handler.zhao", ["unit"], "transport")
    db.commit()
    assignment = Assignment(resets=1)
    console = Console(db, assignment)
    with caplog.at_level(logging.WARNING, logger="services.gateway.http"):
        refused = press_sign(console, token)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "nothing was lost" in refused.get_data(as_text=True) or "未丢失" in refused.get_data(as_text=True)
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "sign_assignment answered 503" in logged and "[request_id=rid-page]" in logged
    assert assignment.signed == []
    again = press_sign(console, token)
    assert again.status_code == 303 and again.headers["Location"] == "/console/assignments/7"
    assert assignment.signed == [(7, "transport")]


class Host:
    def page(self, request):
        raise AssertionError("not called")


def _handler(failure):
    def spawn_worker(entrypoint, args, kwargs, context_data, handle_result):
        try:
            raise failure
        except Exception:
            handle_result(None, None, sys.exc_info())

    handler = http.GuardedHttpHandler("GET", "/console/x")
    handler.method_name = "page"
    handler.container = SimpleNamespace(service_cls=Host, spawn_worker=spawn_worker)
    return handler


def _request():
    request = Request(EnvironBuilder(path="/console/x").get_environ())
    request.environ["ztc.request_id"] = "rid-handler"
    request.path_values = {}
    return request


def test_what_escapes_a_page_is_answered_with_the_request_id_503_when_it_passes():
    pool_dry = sa.TimeoutError("QueuePool limit of size 10 overflow 10 reached, connection timed out")
    busy = _handler(pool_dry).handle_request(_request())
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert busy.json["details"]["request_id"] == "rid-handler" and busy.json["error"] == "service_unavailable"
    bug = _handler(KeyError("a secret")).handle_request(_request())
    assert bug.status_code == 500 and bug.json == {
        "error": "internal_error",
        "message": "internal error",
        "details": {"request_id": "rid-handler"},
    }
