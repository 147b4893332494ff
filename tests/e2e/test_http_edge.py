"""The HTTP edge against the running system: no side doors (raw starts and BPMN messages are for
operators; a unit acts on its own assignments only), bad input answers 4xx without internals,
reads narrowed to who is involved, tokens that expire or are revoked answer 401, private files."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import urlparse

import requests

from shared.config import ROOT
from tests.support import settings_env, wait_for

from .conftest import call
from .test_proposal_lifecycle import DRAFT, Api, file_it, submit


def assigned_to_transport(api) -> tuple[str, dict]:
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    return number, api.assignment("unit", number)


def no_internals(response) -> None:
    text = response.text
    for leak in (
        "Traceback",
        "RecursionError",
        "OverflowError",
        "UnicodeEncodeError",
        "ValueError",
        "sqlalchemy",
        "psycopg2",
        'File "',
    ):
        assert leak not in text, text[:500]
    assert response.headers.get("X-Request-Id"), "every answer carries a request id"


def test_side_doors_answer_403_and_change_nothing(running):
    api = Api(*running)
    number, mine = assigned_to_transport(api)
    of_it = f"/api/tasks?business_key={number}&per_page=200"
    staff_tasks = {t["task_id"] for t in api("staff", "GET", of_it, expect=200).json()["items"]}
    before = api("staff", "GET", f"/api/proposals/{number}", expect=200).json()

    forged = {
        "name": "reply_submitted",
        "correlation_key": number,
        "message_id": f"forged-{number}",
        "payload": {"category": "A", "text": "forged reply"},
    }
    for who in ("co_unit", "unit", "staff", "member"):
        refused = api(who, "POST", "/api/messages", forged)
        assert refused.status_code == 403, (who, refused.text)
    start = {"business_key": number, "data": {"proposal_id": before["id"], "number": number, "title": "x"}}
    for who in ("member", "staff", "unit"):
        assert api(who, "POST", "/api/processes/proposal/instances", start).status_code == 403, who

    # A unit acts on its own assignments only: every unit route on another unit's is refused.
    bodies = {
        "object": {"reason": "not ours"},
        "input": {"text": "input"},
        "reply-draft": {"category": "A", "text": "a reply"},
        "extension": {"until": "2099-01-01", "reason": "r"},
        "followup": {"text": "done"},
    }
    for action in ("sign", "object", "input", "reply-draft", "cosign-reply", "reply", "extension", "followup"):
        refused = api("co_unit", "POST", f"/api/assignments/{mine['id']}/{action}", bodies.get(action))
        assert refused.status_code == 403, (action, refused.status_code, refused.text)
    assert api("co_unit", "GET", f"/api/assignments/{mine['id']}").status_code == 403

    time.sleep(1.5)  # long enough for a forged message or start to have made a task
    assert {t["task_id"] for t in api("staff", "GET", of_it, expect=200).json()["items"]} == staff_tasks
    after = api("staff", "GET", f"/api/proposals/{number}", expect=200).json()
    assert (after["status"], after["revision"]) == (before["status"], before["revision"])
    assignment = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()
    assert assignment["status"] == "assigned" and not assignment.get("replies")


def test_reads_are_for_those_involved(running):
    api = Api(*running)
    number, _ = assigned_to_transport(api)
    wait_for(
        lambda: api("staff", "GET", f"/api/proposals/{number}/deadlines").status_code == 200,
        timeout=60,
        message="the deadlines",
    )
    for who in ("member", "staff", "committee", "leader", "unit"):  # the proposer, overseers, its unit
        assert api(who, "GET", f"/api/proposals/{number}/deadlines").status_code == 200, who
    # Not involved: a member who did not propose it and a unit not given it hear 404, as for a
    # proposal that does not exist (nothing told); roles that never see deadlines hear 403.
    for who, status in (("cosigner", 404), ("co_unit", 404), ("informant", 403), ("public", 403), ("operator", 403)):
        refused = api(who, "GET", f"/api/proposals/{number}/deadlines")
        assert refused.status_code == status, (who, refused.text)
        assert "deadlines" not in refused.json()
    for who in ("cosigner", "informant", "public"):
        assert api(who, "GET", f"/api/proposals/{number}/supervision-log").status_code in (403, 404), who
    for path in ("/api/processes", "/api/performance/terms"):
        for who in ("public", "member", "informant", "unit", "leader"):
            assert api(who, "GET", path).status_code == 403, (who, path)
        for who in ("staff", "operator"):
            assert api(who, "GET", path).status_code == 200, (who, path)
    # The public reads published proposals only: this one is not.
    assert api("public", "GET", f"/api/proposals/{number}").status_code == 404
    listed = api("public", "GET", "/api/proposals?per_page=200", expect=200).json()
    assert all(p.get("status") == "published" for p in listed["items"]) and listed["total"] >= len(listed["items"])


def raw_request(base: str, head: str, body_parts=()) -> tuple[int, str]:
    """Send a request by hand (a lying Content-Length, a chunked body) and read the status line."""
    url = urlparse(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest: what we want
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line, _, rest = data.decode("latin-1").partition("\r\n")
    return int(status_line.split()[1]), rest


def test_bad_input_answers_4xx_without_internals(running):
    base, tokens = running
    member = {"Authorization": f"Bearer {tokens['member']}", "Content-Type": "application/json"}

    deep = "[" * 2000 + "]" * 2000
    response = requests.post(base + "/api/proposals", data=f'{{"title": {deep}}}', headers=member, timeout=30)
    assert response.status_code == 400, response.text
    no_internals(response)
    nested = json.dumps({"data": json.loads("[" * 40 + "]" * 40)})
    operator = {**member, "Authorization": f"Bearer {tokens['operator']}"}
    response = requests.post(base + "/api/processes/smoke/instances", data=nested, headers=operator, timeout=30)
    assert response.status_code == 400 and "nested" in response.json()["message"], response.text

    surrogate = json.dumps({**DRAFT, "title": "\ud800 候车亭"})  # json.dumps writes it as the escape \ud800
    response = requests.post(base + "/api/proposals", data=surrogate, headers=member, timeout=30)
    assert response.status_code == 400, response.text
    no_internals(response)
    response = requests.post(base + "/api/proposals", data=b'{"title": "\xff\xfe"}', headers=member, timeout=30)
    assert response.status_code == 400
    no_internals(response)

    too_big = call(
        base,
        tokens["member"],
        "POST",
        "/api/performance/periods/2026/corrections",
        {"reason": "wrong points", "entry_id": 2**63, "points": 10**6},
    )
    assert too_big.status_code == 400 and set(too_big.json()["details"]) >= {"entry_id", "points"}
    beyond = call(
        base,
        tokens["member"],
        "POST",
        "/api/performance/periods/2026/corrections",
        {"reason": "wrong points", "entry_id": 1, "points": 10**30},
    )
    assert beyond.status_code == 400 and "beyond 64 bits" in str(beyond.json()["details"]["_body"]), beyond.text
    no_internals(too_big)
    for path in ("/api/assignments/99999999999999999999", "/api/assignments/0", "/api/assessments/units/0"):
        response = call(base, tokens["staff"], "GET", path)
        assert response.status_code == 404 and response.headers["Content-Type"].startswith("application/json")
        no_internals(response)

    for who, method, path, body in (
        ("staff", "POST", "/api/performance/periods", {"period": "0000"}),
        ("member", "GET", "/api/performance/periods/0000", None),
        ("member", "GET", "/api/performance/members/member.li/file?period=0000", None),
        ("staff", "GET", "/api/performance/statistics?period=9999-Q4", None),
    ):
        response = call(base, tokens[who], method, path, body)
        assert response.status_code == 400, (path, response.status_code, response.text)
        no_internals(response)

    many = call(
        base, tokens["member"], "POST", "/api/proposals", {**DRAFT, "cosigners": [f"stranger.{i}" for i in range(3000)]}
    )
    assert many.status_code == 400 and "at most" in many.json()["details"]["cosigners"][0], many.text
    strangers = call(
        base, tokens["member"], "POST", "/api/proposals", {**DRAFT, "cosigners": ["member.zhou", "nobody"]}
    )
    assert strangers.status_code == 400 and "nobody" in strangers.json()["details"]["cosigners"][0]
    assert "member.zhou" not in strangers.json()["details"]["cosigners"][0]

    # 50 MB announced: refused before it is read, and the connection closed.
    head = (
        f"POST /api/proposals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens['member']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    )
    status, rest = raw_request(base, head, [b"{" + b" " * 65536])
    assert status == 413 and "X-Request-Id" in rest
    # A chunked body is read only up to the limit.
    chunk = b" " * 65536
    parts = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * 20 + [b"0\r\n\r\n"]
    head = (
        f"POST /api/proposals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens['member']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, _ = raw_request(base, head, parts)
    assert status == 413
    assert requests.get(base + "/health", timeout=5).headers["X-Request-Id"]
    unknown = requests.get(base + "/api/nowhere", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


def test_expired_and_revoked_tokens_answer_401(running, e2e_settings):
    from services.gateway import tokens as api_tokens
    from shared.db import session_factory, transaction

    base, _ = running
    sessions = session_factory(e2e_settings.database_url("gateway"))
    with transaction(sessions) as s:
        expired = api_tokens.issue(s, "staff.old", ["staff"], ttl=timedelta(seconds=-1))
        doomed = api_tokens.issue(s, "staff.leaving", ["staff"], ttl=timedelta(hours=1))
    refused = call(base, expired, "GET", "/api/me")
    assert refused.status_code == 401 and "expired" in refused.json()["message"]
    assert call(base, doomed, "GET", "/api/me").status_code == 200

    env = dict(os.environ, **settings_env(e2e_settings))
    ztc = [sys.executable, "-m", "services.ztc.cli"]
    listed = subprocess.run(
        ztc + ["tokens", "list", "--user", "staff.leaving", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["state"] == "active" and doomed not in listed.stdout
    revoked = subprocess.run(
        ztc + ["tokens", "revoke", rows[0]["id"]], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert revoked.returncode == 0 and "revoked 1" in revoked.stdout, revoked.stderr
    refused = call(base, doomed, "GET", "/api/me")
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]


def test_var_and_the_databases_are_private(running, e2e_settings):
    var = e2e_settings.var_dir
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    databases = list(var.glob("*.db"))
    if e2e_settings.database_url("gateway").startswith("sqlite"):
        assert databases, "the SQLite databases live in var/"
    for path in databases:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
