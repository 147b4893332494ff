"""Idempotency keys over HTTP, every service its own process: a creating POST repeated with the
same Idempotency-Key answers what the first made, and only one proposal and one process exist;
the key used again for another request is refused (422)."""

from __future__ import annotations

import requests
from sqlalchemy import select

from services.engine.models import Instance
from shared.db import session_factory

from .test_proposal_lifecycle import DRAFT, Api


def post(base, token, path, body, key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(base + path, json=body, headers=headers, timeout=30)


def test_a_proposal_posted_twice_with_the_same_key_is_recorded_once_with_one_instance(running, e2e_settings):
    base, tokens = running
    api = Api(base, tokens)
    body = {**DRAFT, "title": "幂等提交：同一个提案只记录一次", "cosigners": []}
    first = post(base, tokens["member"], "/api/proposals", body, key="e2e-idem-1")
    assert first.status_code == 201, first.text
    again = post(base, tokens["member"], "/api/proposals", body, key="e2e-idem-1")
    assert again.status_code == 201, again.text
    number = first.json()["number"]
    assert again.json()["number"] == number and again.json()["analysis"] == DRAFT["analysis"]
    # The same key on another request is the client's mistake: 422, and nothing is made.
    changed = post(base, tokens["member"], "/api/proposals", {**body, "analysis": "改了也不算"}, key="e2e-idem-1")
    assert changed.status_code == 422 and changed.json()["error"] == "idempotency_key_reused", changed.text
    mine = [
        p
        for p in api("member", "GET", "/api/proposals?mine=true&per_page=200", expect=200).json()["items"]
        if p["title"] == body["title"]
    ]
    assert [p["number"] for p in mine] == [number]
    api.task("staff", "pre_review", number)  # the process started (once: see below)
    with session_factory(e2e_settings.database_url("engine"))() as engine_db:
        instances = engine_db.scalars(
            select(Instance.id).where(Instance.process_id == "proposal", Instance.business_key == number)
        ).all()
    assert len(instances) == 1
    # Without a key each request is its own submission; a bad key is refused and changes nothing.
    assert post(base, tokens["member"], "/api/proposals", body).json()["number"] != number
    refused = post(base, tokens["member"], "/api/proposals", body, key="x" * 101)
    assert refused.status_code == 400 and "Idempotency-Key" in refused.json()["details"], refused.text
    refused = post(base, tokens["member"], "/api/proposals", body, key="bad\tkey")
    assert refused.status_code == 400, refused.text
    assert (
        len(
            [
                p
                for p in api("member", "GET", "/api/proposals?mine=true&per_page=200", expect=200).json()["items"]
                if p["title"] == body["title"]
            ]
        )
        == 2
    )


def test_the_openapi_document_names_the_idempotency_key_header_on_creating_routes(running):
    base, _ = running
    spec = requests.get(base + "/openapi.json", timeout=30).json()
    for path in ("/api/proposals", "/api/opinions", "/api/consultations", "/api/performance/attendance"):
        params = spec["paths"][path]["post"].get("parameters", [])
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params), path
