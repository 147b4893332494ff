"""Every row of the HTTP permission matrix (docs/security.md, generated from the routes'
declarations) against a running system, one token per role: an allowed row does not answer 401
or 403 (nor fails), a refused row answers 403, and after every refused row has been tried nothing
that staff or an operator can list has changed.

Allowed rows name objects that do not exist (the service is still reached, and refuses with 404 or
409 what it would refuse) and send bodies of the right shape, so a service that refuses a role
its route lets through shows up as a 403 here.

The matrix runs once, on SQLite: who may call a route is decided by the gateway's declarations
and the services' checks, the same code whatever the database underneath (the end-to-end
scenarios exercise PostgreSQL)."""

from __future__ import annotations

import re

import pytest

from services.gateway import matrix
from tests.support import FAR_YEAR

from .conftest import ONE_ROLE_USERS, call, once_on_sqlite

NONE_ID = 2147483000
PATH_VALUES = {
    "number": "1999-9999",
    "thread": "MATRIX-NONE",
    "process_id": "matrix-none",
    "instance_id": "matrix-none",
    "task_id": "matrix-none",
    "letter_id": "matrix-none",
    "incident_id": NONE_ID,
    "assignment_id": NONE_ID,
    "correction_id": NONE_ID,
    "notification_id": NONE_ID,
    "list_id": NONE_ID,
    "year": 2026,
    "period": "2999",
    "reference": "matrix-none",
    "version": "1",
}
DRAFT = {
    "kind": "between_sessions",
    "title": "矩阵测试提案",
    "situation": "情况",
    "analysis": "分析",
    "suggestions": "建议",
    "publish_consent": True,
}
BODIES = {
    "request_extension": {"until": f"{FAR_YEAR}-01-01", "reason": "matrix"},
    "submit_followup": {"text": "matrix"},
    "send_input": {"text": "matrix"},
    "report_milestone": {"milestone": 1, "note": "matrix"},
    "appeal": {"reason": "matrix"},
    "object_to_assignment": {"reason": "matrix"},
    "draft_reply": {"category": "A", "text": "matrix"},
    "take_case": {"accepted": True},
    "decide_case": {"outcome": "answered", "answer": "matrix"},
    "dispatch_case": {"dispatch_action": "dispatch", "member": "member.li"},
    "follow_up_case": {"actions_done": True, "follow_up_note": "matrix"},
    "return_visit": {"reached": False},
    "deploy": {"files": {"matrix.bpmn": "<definitions/>"}},
    "resolve_incident": {"resolution": "matrix"},
    "message": {"name": "matrix_none", "correlation_key": "MATRIX-NONE", "message_id": "matrix-none-1"},
    "submit_opinion": {"title": "矩阵测试", "situation": "情况", "analysis": "分析", "suggestion": "建议"},
    "record_adoption": {"channel": "city_party", "adopted": True},
    "answer_opinion": {"text": "matrix"},
    "edit_opinion": {
        "political_ok": True,
        "facts_ok": True,
        "content_ok": True,
        "wording_ok": True,
        "decision": "report",
    },
    "forward_opinion": {"forward": False},
    "record_instruction": {"channel": "city_party", "level": "city", "leader": "matrix", "text": "matrix"},
    "sign_off_opinion": {"approved": False},
    "opinion_to_proposal": {"kind": "between_sessions", "publish_consent": True},
    "ops_discard_dead_letters": {"ids": ["matrix-none"], "reason": "matrix", "dry_run": True},
    "ops_replay_dead_letters": {"ids": ["matrix-none"], "dry_run": True},
    "retry_incidents": {"operation": "matrix.none", "dry_run": True},
    "ops_cancel_many": {"reason": "matrix", "business_key_prefix": "MATRIX-NONE-", "dry_run": True},
    "ops_cancel": {"reason": "matrix"},
    "ops_suspend": {},
    "decide_correction": {"action": "reject", "reason": "matrix"},
    "publish_period": {"period": "2999"},
    "ask_correction": {"reason": "matrix"},
    "start": {"data": {}},
    "submit_proposal": DRAFT,
    "resubmit_proposal": DRAFT,
    "rate": {"handling": "satisfied", "result": "satisfied"},
    "set_notification_preferences": {"channels": [], "kinds": ["matrix"], "mode": "digest"},
    "ops_retry_deliveries": {"ids": [NONE_ID]},
    "log_key_supervision": {"kind": "note", "text": "matrix"},
    "complete": {"data": {}},
    "propose_key_proposals": {"items": [{"number": "1999-9999", "reason": "matrix", "leader": "matrix"}]},
    "decide_key_proposals": {"strike": [], "add": []},
    "set_proposal_area": {"area": "economy"},
    "set_opinion_area": {"area": "economy"},
}
# What staff and an operator can list: none of it may change while refused rows are tried.
SNAPSHOT = [
    ("staff", p)
    for p in (
        "/api/proposals",
        "/api/opinions",
        "/api/consultations",
        "/api/tasks",
        "/api/assignments",
        "/api/performance/members",
        "/api/performance/attendance",
        "/api/performance/periods",
        "/api/processes",
        "/api/notifications",
    )
] + [("operator", p) for p in ("/api/incidents?status=", "/api/tasks")]

ROWS = matrix.rows()
REFUSED = [row for row in ROWS if not row["allowed"]]
ALLOWED = [row for row in ROWS if row["allowed"]]
ANONYMOUS = [route for route in matrix.routes() if route["anonymous"]]  # the public API: no token


def row_id(row):
    return f"{row['method']} {row['path']} as {row['role']}"


def url_of(row, role_user: str) -> str:
    values = {**PATH_VALUES, "member": role_user}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), row["path"])


def snapshot(base, tokens):
    seen = {}
    for who, path in SNAPSHOT:
        response = call(base, tokens[who], "GET", path)
        assert response.status_code == 200, (who, path, response.text)
        seen[(who, path)] = response.json()
    return seen


_once = once_on_sqlite("the permission matrix is checked once, on SQLite")


@pytest.fixture(scope="module")
def before(running):
    return snapshot(*running)


def test_the_matrix_covers_every_role_of_every_route():
    assert len(ROWS) == len(matrix.routes()) * 9 and REFUSED and ALLOWED and ANONYMOUS


@pytest.mark.parametrize("row", REFUSED, ids=row_id)
def test_a_refused_row_answers_403(running, before, row):
    base, tokens = running
    response = call(
        base,
        tokens[f"role:{row['role']}"],
        row["method"],
        url_of(row, ONE_ROLE_USERS[f"role:{row['role']}"]["user"]),
        BODIES.get(row["name"], {}) if row["method"] in ("POST", "PUT") else None,
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"


def test_refused_rows_changed_nothing(running, before):
    assert snapshot(*running) == before


@pytest.mark.parametrize("row", ALLOWED, ids=row_id)
def test_an_allowed_row_is_let_through(running, row):
    base, tokens = running
    body = BODIES.get(row["name"], {}) if row["method"] in ("POST", "PUT") else None
    response = call(
        base,
        tokens[f"role:{row['role']}"],
        row["method"],
        url_of(row, ONE_ROLE_USERS[f"role:{row['role']}"]["user"]),
        body,
    )
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("route", ANONYMOUS, ids=lambda r: f"{r['method']} {r['path']} without a token")
def test_a_public_route_answers_without_a_token(running, route):
    base, _ = running
    body = BODIES.get(route["name"], {}) if route["method"] == "POST" else None
    response = call(base, None, route["method"], url_of(route, "matrix-none"), body)
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text
