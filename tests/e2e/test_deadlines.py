"""Deadlines end to end: reminder, extension and escalation, each explained by one call. The
services' shared clock is moved months ahead, so this module runs its own system."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from tests.support import wait_for

from .test_proposal_lifecycle import Api, file_it, submit


def _deadline(api, number, rule):
    """The live deadline of that rule, or None while the proposal has none yet."""
    response = api("staff", "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    live = [d for d in response.json()["deadlines"] if d["rule"] == rule and d["live"]]
    return live[0] if live else None


def test_reminder_extension_and_escalation_each_explained_by_one_call(running, service_clock):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    api("unit", "POST", f"/api/assignments/{mine['id']}/sign", expect=200)

    reply_deadline = wait_for(lambda: _deadline(api, number, "reply_deadline"), message="the reply clock")
    assert reply_deadline["rulebook"]["version"] and reply_deadline["rulebook"]["hash"].startswith("sha256:")
    assert reply_deadline["duration"] == {"amount": 3, "unit": "months"}
    objection = _deadline(api, number, "objection_window")
    assert objection["duration"]["unit"] == "working_days" and objection["calendar"]

    due = date.fromisoformat(reply_deadline["due"])
    now = service_clock.now()
    ahead = datetime(due.year, due.month, due.day, tzinfo=timezone.utc) - timedelta(days=10) - now
    service_clock.advance(ahead.total_seconds())
    reminded = wait_for(lambda: _deadline(api, number, "reply_deadline")["reminders"], timeout=60,
                        message="a reminder before the deadline")
    assert len(reminded) >= 1

    later = (due + timedelta(days=20)).isoformat()
    api("unit", "POST", f"/api/assignments/{mine['id']}/extension", {"until": later, "reason": "等待预算批复"},
        expect=200)
    api.complete("staff", "approve_extension", number, {"approved": True, "until": later,
                                                        "extension_comment": "预算周期"})
    extended = wait_for(lambda: (lambda d: d if d["due"] == later else None)(_deadline(api, number, "reply_deadline")),
                        timeout=60, message="the extended deadline")
    assert [c["kind"] for c in extended["changes"]] == ["extension"]
    assert extended["changes"][0]["reason"].startswith("预算周期") and "max_extension" in extended["changes"][0]["reason"]
    assert extended["original_due"] == due.isoformat()

    service_clock.advance(timedelta(days=32).total_seconds())
    escalated = wait_for(lambda: _deadline(api, number, "reply_deadline")["escalations"], timeout=60,
                         message="the escalation after the deadline")
    assert escalated[0]["unit"] == "transport"
    overdue = api("staff", "GET", "/api/overdue", expect=200).json()["units"]
    assert any(u["unit"] == "transport" and any(o["number"] == number for o in u["overdue"]) for u in overdue)
    assert api("member", "GET", "/api/overdue").status_code == 403
