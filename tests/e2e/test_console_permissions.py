"""The console's permission matrix: every console page and action, for a person of each role,
is allowed or refused exactly as the API route it calls (docs/security.md's matrix): refused is
an HTTP 403 page saying so, and nothing changes; allowed is never 401 or 403. The console calls
the API's own route functions, so this is the matrix seen through the console."""

from __future__ import annotations

import re

import pytest
import requests

from services.gateway import matrix
from services.gateway.tokens import ROLES

from .conftest import ONE_ROLE_USERS, once_on_sqlite

PASSWORD = "console-matrix-pw"
NONE = "2147483000"
# Console route (method, path) -> the API route function it calls first (its roles decide).
CONSOLE = [
    ("GET", "/console/proposals", "list_proposals"),
    ("GET", "/console/proposals/new", "performance_members"),
    ("POST", "/console/proposals", "submit_proposal"),
    ("GET", "/console/proposals/1999-9999", "get_proposal"),
    ("POST", "/console/proposals/1999-9999/cosign", "cosign_proposal"),
    ("POST", "/console/proposals/1999-9999/ratings", "rate"),
    ("GET", "/console/opinions", "list_opinions"),
    ("GET", "/console/opinions/new", "submit_opinion"),
    ("POST", "/console/opinions", "submit_opinion"),
    ("GET", "/console/opinions/1999-S-9999", "get_opinion"),
    ("POST", "/console/opinions/1999-S-9999/submit", "submit_saved_opinion"),
    ("GET", "/console/performance", "performance_file"),
    ("GET", "/console/tasks", "tasks"),
    ("POST", "/console/tasks/matrix-none", "complete"),
    ("GET", "/console/assignments", "list_assignments"),
    ("GET", f"/console/assignments/{NONE}", "get_assignment"),
    ("POST", f"/console/assignments/{NONE}/sign", "sign_assignment"),
    ("POST", f"/console/assignments/{NONE}/reply-draft", "draft_reply"),
    ("POST", f"/console/assignments/{NONE}/reply", "submit_reply"),
    ("POST", f"/console/assignments/{NONE}/input", "send_input"),
    ("POST", f"/console/assignments/{NONE}/cosign-reply", "cosign_reply"),
    ("POST", f"/console/assignments/{NONE}/object", "object_to_assignment"),
    ("POST", f"/console/assignments/{NONE}/extension", "request_extension"),
    ("POST", f"/console/assignments/{NONE}/milestone", "report_milestone"),
    ("POST", f"/console/assignments/{NONE}/followup", "submit_followup"),
    ("POST", f"/console/assignments/{NONE}/contacts", "record_contact"),
    ("GET", "/console/leader/key-proposals", "key_proposals_of_year"),
    ("GET", "/console/leader/supervision/1999-9999", "key_supervision_log"),
    ("POST", "/console/leader/supervision/1999-9999", "log_key_supervision"),
    ("GET", "/console/leader/opinions", "record_instruction"),
    ("POST", "/console/leader/opinions/1999-S-9999/instructions", "record_instruction"),
    ("GET", "/console/published", "published_proposals"),
    ("GET", "/console/ops/queues", "ops_queues"),
    ("GET", "/console/ops/dead-letters", "ops_dead_letters"),
    ("GET", "/console/ops/dead-letters/matrixnone", "ops_dead_letter"),
    ("POST", "/console/ops/dead-letters/matrixnone/replay", "ops_replay_dead_letters"),
    ("POST", "/console/ops/dead-letters/matrixnone/discard", "ops_discard_dead_letters"),
    ("GET", "/console/ops/incidents", "incidents"),
    ("POST", f"/console/ops/incidents/{NONE}/retry", "retry_incident"),
    ("POST", f"/console/ops/incidents/{NONE}/resolve", "resolve_incident"),
    ("GET", "/console/ops/instances?business_key=matrix-none", "ops_instances"),
    ("GET", "/console/ops/instances/matrix-none", "ops_where"),
    ("GET", "/console/ops/instances/matrix-none/diagram.xml", "ops_where"),
    ("POST", "/console/ops/instances/matrix-none/suspend", "ops_suspend"),
    ("POST", "/console/ops/instances/matrix-none/resume", "ops_resume"),
    ("POST", "/console/ops/instances/matrix-none/cancel", "ops_cancel"),
    ("GET", "/console/notifications", "list_notifications"),
    ("POST", f"/console/notifications/{NONE}/read", "read_notification"),
    ("GET", "/console/designs", "versions"),
    ("GET", "/console/designs/smoke/versions/1", "version_diagram"),
    ("GET", "/console/designs/smoke/versions/1/diagram.xml", "version_diagram"),
    ("GET", "/console/designs/smoke/diff?from=1&to=1", "version_diff"),
    ("GET", "/console/designs/smoke/versions/1/coverage", "version_coverage"),
    ("GET", "/console/designs/deploy", "deploy"),
    ("POST", "/console/designs/deploy", "deploy"),
    ("GET", "/console/overdue", "overdue"),
    ("GET", "/console/reports", "proposal_notice"),
    ("GET", "/console/reports/notice/2026", "proposal_notice"),
    ("GET", "/console/reports/bulletin/2026", "proposal_bulletin"),
    ("GET", "/console/reports/opinions/2026", "adopted_opinions"),
]
FORMS = {
    "submit_proposal": {
        "kind": "between_sessions",
        "title": "矩阵",
        "situation": "情况",
        "analysis": "分析",
        "suggestions": "建议",
        "publish_consent": "yes",
    },
    "submit_opinion": {
        "title": "矩阵",
        "situation": "情况",
        "analysis": "分析",
        "suggestion": "建议",
        "action": "save",
    },
    "rate": {"handling": "satisfied", "result": "satisfied"},
    "complete": {"task": "pre_review"},
    "draft_reply": {"category": "A", "text": "matrix"},
    "send_input": {"text": "matrix"},
    "ops_discard_dead_letters": {"reason": "matrix"},
    "resolve_incident": {"resolution": "matrix"},
    "ops_cancel": {"reason": "matrix"},
    "object_to_assignment": {"reason": "matrix"},
    "request_extension": {"by": "months", "months": "1", "reason": "matrix"},
    "report_milestone": {"milestone": "1", "note": "matrix"},
    "submit_followup": {"text": "matrix"},
    "record_contact": {"kind": "phone", "held_on": "2026-03-02", "participants": "matrix"},
    "log_key_supervision": {"kind": "note", "text": "matrix"},
    "record_instruction": {"channel": "city_government", "level": "city", "leader": "matrix", "text": "matrix"},
}
ALLOWED = {row["name"]: set(row["roles"]) for row in matrix.routes()}


# The console holds no data and no rule of its own: it calls the API's route functions, the
# same whatever the database (the end-to-end scenarios over the API run on PostgreSQL too).
_once = once_on_sqlite("the console's permissions are checked once, on SQLite")


@pytest.fixture(scope="module")
def sessions(system):
    """A logged-in console session per role (the one-role users of the permission matrix)."""
    from services.launcher import seed_console_accounts

    users = {f"role:{role}": ONE_ROLE_USERS[f"role:{role}"] for role in ROLES}
    seed_console_accounts(system.settings, users, PASSWORD)
    console, found = system.base + "/console", {}
    for role in ROLES:
        http = requests.Session()
        token = re.search(r'name="csrf" value="([^"]+)"', http.get(console + "/login", timeout=10).text).group(1)
        answer = http.post(
            console + "/login",
            allow_redirects=False,
            timeout=10,
            data={"user": users[f"role:{role}"]["user"], "password": PASSWORD, "csrf": token},
        )
        assert answer.status_code == 303, answer.text
        found[role] = (http, re.search(r'name="csrf" value="([^"]+)"', http.get(console, timeout=10).text).group(1))
    return system.base, found


def test_every_console_route_names_an_api_route_of_the_matrix():
    assert {name for _, _, name in CONSOLE} <= set(ALLOWED)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,route", CONSOLE, ids=[f"{m} {p}" for m, p, _ in CONSOLE])
def test_a_console_route_lets_through_or_refuses_each_role_as_its_api_route_does(sessions, method, path, route, role):
    base, by_role = sessions
    http, csrf = by_role[role]
    if method == "POST":
        answer = http.post(base + path, data={**FORMS.get(route, {}), "csrf": csrf}, allow_redirects=False, timeout=30)
    else:
        answer = http.get(base + path, allow_redirects=False, timeout=30)
    if role in ALLOWED[route]:
        assert answer.status_code not in (401, 403) and answer.status_code < 500, answer.text[-600:]
    else:
        assert answer.status_code == 403, answer.text[-600:]
        assert "this needs one of the roles" in answer.text
