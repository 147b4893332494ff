"""Slow and broken clients against the real gateway: more clients than it has workers that send
their headers and then stall in the body do not hold the API up (every body is read before a
worker is taken, and one that does not arrive in time is refused with 408); the NUL character in
a path, a query or a body is a 400, never a 5xx."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from services.gateway import tokens
from shared.db import migrate, session_factory, transaction
from tests.integration.conftest import System
from tests.support import free_port, make_settings

MAX_WORKERS = 4  # the gateway's workers here: the stalled clients below are three times as many


@pytest.fixture
def gateway(tmp_path, vhost, database_url_template):
    settings = make_settings(
        tmp_path,
        vhost,
        database_url_template,
        ZTC_GATEWAY_PORT=str(free_port()),
        ZTC_MAX_WORKERS=str(MAX_WORKERS),
        ZTC_HTTP_BODY_SECONDS="3",
    )
    migrate("gateway", settings.database_url("gateway"))
    with transaction(session_factory(settings.database_url("gateway"))) as s:
        token = tokens.issue(s, "member.li", ["member"], None)
    system = System(settings, ("gateway",))
    try:
        yield f"http://127.0.0.1:{settings.gateway_port}", settings.gateway_port, token
    finally:
        system.stop()


def _stalled(port: int, token: str) -> socket.socket:
    """A client that sends a request's headers and one byte of its 100-byte body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        (
            "POST /api/proposals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n{{"
        ).encode()
    )
    return sock


def test_more_stalled_bodies_than_workers_hold_up_nothing_and_each_gets_a_408(gateway):
    base, port, token = gateway
    stalled = [_stalled(port, token) for _ in range(MAX_WORKERS * 3)]
    try:
        time.sleep(0.5)  # every stalled request has reached the gateway
        started = time.monotonic()
        health = requests.get(base + "/health", timeout=10)
        me = requests.get(base + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert health.status_code == 200 and me.status_code == 200 and me.json()["user"] == "member.li"
        assert time.monotonic() - started < 2.5, "answered while the stalled bodies were still open"
        for sock in stalled:
            answer = sock.recv(4096).decode()
            assert answer.startswith("HTTP/1.1 408") and '"request_timeout"' in answer, answer
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/proposals/2026-0001%00", None),
        ("GET", "/api/tasks?business_key=%00", None),
        ("GET", "/api/public/consultations/abc%00", None),
        ("POST", "/api/proposals", {"title": "a\u0000b"}),
    ],
)
def test_the_nul_character_is_a_400_in_json(gateway, method, path, body):
    base, _, token = gateway
    answer = requests.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_input", answer.text
    assert "NUL" in answer.text


def _answer(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as it is and read the whole answer (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return status, headers, body


@pytest.mark.parametrize(
    "request_bytes, status, code",
    [
        (b"GET /health?" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "414", "uri_too_long"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n", "400", "header_too_long"),
        (b"POST /api/proposals HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", "400", "bad_request"),
    ],
    ids=["request_line", "header_line", "content_length"],
)
def test_what_the_web_server_refuses_before_any_route_is_still_a_json_refusal(gateway, request_bytes, status, code):
    base, port, token = gateway
    line, headers, body = _answer(port, request_bytes)
    assert line.split()[1] == status, line
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
    refusal = json.loads(body)
    assert refusal["error"] == code and refusal["message"]
    # The answers the routes give are untouched: the same connection kind, a JSON body of its own.
    assert requests.get(base + "/health", timeout=10).status_code == 200
    over_1_0 = _answer(port, b"GET /api/nothing-here HTTP/1.0\r\nHost: x\r\n\r\n")
    assert over_1_0[0].split()[1] == "404" and json.loads(over_1_0[2])["error"] == "not_found"
