"""Every service as its own process, started the way ``make run`` starts them, driven through the
HTTP API as people and department systems would."""

from __future__ import annotations

import requests

from shared.config import ROOT
from tests.support import wait_for

from .conftest import call

DATA = {"title": "Street lights on Jiefang Road are out", "unit": "transport", "reply_within": "P30D"}


def test_a_submission_runs_to_completion_through_the_http_api(running):
    base, tokens = running
    assert requests.get(base + "/health", timeout=5).json() == {"status": "ok"}
    document = requests.get(base + "/openapi.json", timeout=10).json()
    assert "/api/tasks/{task_id}/complete" in document["paths"]

    started = call(
        base, tokens["operator"], "POST", "/api/processes/smoke/instances", {"business_key": "E2E-1", "data": DATA}
    )
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    # The same start again with an Idempotency-Key: one instance, however often it is sent (a
    # start the broker redelivers to a restarted engine is the same case: each request has its key).
    headers = {"Authorization": f"Bearer {tokens['operator']}", "Idempotency-Key": "e2e-start-2"}
    body = {"business_key": "E2E-2", "data": DATA}
    first, again = (
        requests.post(base + "/api/processes/smoke/instances", json=body, headers=headers, timeout=30) for _ in range(2)
    )
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert len(call(base, tokens["operator"], "GET", "/api/ops/instances?business_key=E2E-2").json()) == 1

    task = wait_for(
        lambda: call(base, tokens["staff"], "GET", f"/api/tasks?instance_id={instance_id}").json()["items"],
        message="the review task",
    )[0]
    assert task["task"] == "review"
    assert call(base, tokens["member"], "GET", "/api/tasks").json() == {
        "page": 1,
        "per_page": 50,
        "total": 0,
        "total_exact": True,
        "items": [],
    }

    refused = call(
        base, tokens["member"], "POST", f"/api/tasks/{task['task_id']}/complete", {"data": {"approved": True}}
    )
    assert refused.status_code == 403
    bad = call(
        base, tokens["staff"], "POST", f"/api/tasks/{task['task_id']}/complete", {"data": {"approved": "perhaps"}}
    )
    assert bad.status_code == 400 and "approved" in bad.json()["details"]
    done = call(base, tokens["staff"], "POST", f"/api/tasks/{task['task_id']}/complete", {"data": {"approved": True}})
    assert done.status_code == 200, done.text

    wait_for(
        lambda: (
            call(base, tokens["staff"], "GET", f"/api/instances/{instance_id}").json()["waiting_messages"]
            == ["unit_reply"]
        ),
        message="the wait for the unit's reply",
    )
    reply = call(
        base,
        tokens["operator"],
        "POST",
        "/api/messages",
        {
            "name": "unit_reply",
            "correlation_key": "E2E-1",
            "message_id": "transport-reply-1",
            "payload": {"text": "Repaired on 2 March"},
        },
    )
    assert reply.status_code == 202 and reply.json()["status"] == "delivered"

    final = wait_for(
        lambda: (lambda i: i if i["status"] == "completed" else None)(
            call(base, tokens["staff"], "GET", f"/api/instances/{instance_id}").json()
        ),
        message="completion",
    )
    assert final["data"]["outcome"] == "answered"
    history = call(base, tokens["staff"], "GET", f"/api/instances/{instance_id}/history").json()
    assert [h["action"] for h in history].count("job_completed") == 3


def test_the_api_refuses_what_it_must(running):
    base, tokens = running
    assert call(base, None, "GET", "/api/tasks").status_code == 401
    assert call(base, "not-a-token", "GET", "/api/tasks").status_code == 401
    assert call(base, tokens["member"], "GET", "/api/incidents").status_code == 403
    not_json = requests.post(
        base + "/api/processes/smoke/instances",
        data="{oops",
        headers={"Authorization": f"Bearer {tokens['operator']}"},
        timeout=10,
    )
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_input"  # no Content-Type: read as JSON
    for sent_as in ("text/plain", "application/x-www-form-urlencoded"):  # JSON text, but not sent as JSON
        as_text = requests.post(
            base + "/api/processes/smoke/instances",
            data='{"data": {"title": "t"}}',
            headers={"Authorization": f"Bearer {tokens['operator']}", "Content-Type": sent_as},
            timeout=10,
        )
        assert as_text.status_code == 415 and as_text.json()["error"] == "unsupported_media_type", as_text.text
    missing = call(base, tokens["operator"], "POST", "/api/processes/smoke/instances", {"data": {}})
    assert missing.status_code == 400 and "title" in missing.json()["message"]
    unknown = call(base, tokens["operator"], "POST", "/api/processes/nope/instances", {"data": {}})
    assert unknown.status_code == 404
    unknown_field = call(
        base, tokens["operator"], "POST", "/api/processes/smoke/instances", {"data": {}, "priority": "high"}
    )
    assert unknown_field.status_code == 400 and "priority" in unknown_field.json()["details"]
    bad_message = call(base, tokens["operator"], "POST", "/api/messages", {"name": "unit_reply"})
    assert bad_message.status_code == 400
    assert set(bad_message.json()["details"]) >= {"correlation_key", "message_id"}
    deployed = call(base, tokens["staff"], "GET", "/api/processes").json()
    malicious = call(
        base,
        tokens["operator"],
        "POST",
        "/api/deployments",
        {
            "files": {
                "evil.bpmn": (ROOT / "bpmn" / "smoke.bpmn")
                .read_text()
                .replace('outcome = "answered"', "import os; outcome = os.getcwd()")
            }
        },
    )
    assert malicious.status_code == 422
    assert any("set_outcome_answered" in p and "import" in p for p in malicious.json()["details"]["problems"])
    assert call(base, tokens["staff"], "GET", "/api/processes").json() == deployed
