"""Deadlines end to end: reminder, extension and escalation, each explained by one call. The
services' shared clock is moved months ahead, so this module runs its own system."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.support import wait_for

from .test_proposal_lifecycle import Api, file_it, submit

# The services' clock is moved months ahead, relative to the proposals made here: after
# test_performance.py, on its system.
pytestmark = pytest.mark.system("clock")


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

    # The reply clock counts from the signing (a clock_start change once supervision hears it).
    reply_deadline = wait_for(
        lambda: (lambda d: d if d and d["start"]["event"] == "signed" else None)(
            _deadline(api, number, "reply_deadline")
        ),
        message="the reply clock started by the signing",
    )
    assert reply_deadline["rulebook"]["version"] and reply_deadline["rulebook"]["hash"].startswith("sha256:")
    assert reply_deadline["duration"] == {"amount": 3, "unit": "months"}
    objection = _deadline(api, number, "objection_window")
    assert objection["duration"]["unit"] == "working_days" and objection["calendar"]

    due = date.fromisoformat(reply_deadline["due"])
    now = service_clock.now()
    ahead = datetime(due.year, due.month, due.day, tzinfo=timezone.utc) - timedelta(days=10) - now
    service_clock.advance(ahead.total_seconds())
    reminded = wait_for(
        lambda: _deadline(api, number, "reply_deadline")["reminders"],
        timeout=60,
        message="a reminder before the deadline",
    )
    assert len(reminded) >= 1

    later = (due + timedelta(days=20)).isoformat()
    api(
        "unit",
        "POST",
        f"/api/assignments/{mine['id']}/extension",
        {"until": later, "reason": "等待预算批复"},
        expect=200,
    )
    api.complete(
        "staff", "approve_extension", number, {"approved": True, "until": later, "extension_comment": "预算周期"}
    )
    extended = wait_for(
        lambda: (lambda d: d if d["due"] == later else None)(_deadline(api, number, "reply_deadline")),
        timeout=60,
        message="the extended deadline",
    )
    assert [c["kind"] for c in extended["changes"]] == ["clock_start", "extension"]
    assert (
        extended["changes"][1]["reason"].startswith("预算周期") and "max_extension" in extended["changes"][1]["reason"]
    )
    assert extended["original_due"] == due.isoformat()

    service_clock.advance(timedelta(days=32).total_seconds())
    escalated = wait_for(
        lambda: _deadline(api, number, "reply_deadline")["escalations"],
        timeout=60,
        message="the escalation after the deadline",
    )
    assert escalated[0]["unit"] == "transport"
    overdue = api("staff", "GET", "/api/overdue", expect=200).json()["units"]
    assert any(u["unit"] == "transport" and any(o["number"] == number for o in u["overdue"]) for u in overdue)
    assert api("member", "GET", "/api/overdue").status_code == 403
    # The units' assessment (evaluation, asking supervision) counts the reply not given as not on time.
    year = int(number.split("-")[0])
    assessed = api("staff", "GET", f"/api/assessments/units/{year}", expect=200).json()
    transport = next(u for u in assessed["units"] if u["unit"] == "transport")
    assert transport["overdue_not_done"] >= 1 and transport["on_time_rate"] < 1


def _unit_deadline(api, number, rule, unit):
    response = api("staff", "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code == 404:
        return None
    rows = [d for d in response.json()["deadlines"] if d["rule"] == rule and d["unit"] == unit]
    return rows[-1] if rows else None


def test_signing_late_is_recorded_late_and_a_co_unit_is_reminded_of_its_input(running, service_clock):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "lead_co", "lead": "transport", "co_units": ["education"]})
    lead, co = api.assignment("unit", number), api.assignment("co_unit", number)
    co_input = wait_for(
        lambda: _unit_deadline(api, number, "co_unit_input", "education"), message="the co-unit's input deadline"
    )
    assert co_input["duration"] == {"amount": 1, "unit": "months"} and co_input["start"]["event"] == "assigned"
    assert _unit_deadline(api, number, "co_unit_input", "transport") is None  # the lead sends no input

    api("co_unit", "POST", f"/api/assignments/{co['id']}/sign", expect=200)
    on_time = wait_for(
        lambda: (lambda d: d if d["fulfilled"] else None)(_unit_deadline(api, number, "sign_for_limit", "education")),
        timeout=60,
        message="the co-unit's signing",
    )
    assert on_time["status"] == "met" and on_time["fulfilled"]["by"] == "handler.ma"

    sign_for = _unit_deadline(api, number, "sign_for_limit", "transport")
    due = date.fromisoformat(sign_for["due"])
    past = datetime(due.year, due.month, due.day, tzinfo=timezone.utc) + timedelta(days=2) - service_clock.now()
    service_clock.advance(past.total_seconds())
    api("unit", "POST", f"/api/assignments/{lead['id']}/sign", expect=200)
    late = wait_for(
        lambda: (lambda d: d if d["fulfilled"] else None)(_unit_deadline(api, number, "sign_for_limit", "transport")),
        timeout=60,
        message="the lead's signing",
    )
    assert late["status"] == "missed" and late["fulfilled"]["by"] == "handler.zhao"

    input_due = date.fromisoformat(co_input["due"])
    ahead = (
        datetime(input_due.year, input_due.month, input_due.day, tzinfo=timezone.utc)
        - timedelta(days=3)
        - service_clock.now()
    )
    service_clock.advance(ahead.total_seconds())
    reminded = wait_for(
        lambda: _unit_deadline(api, number, "co_unit_input", "education")["reminders"],
        timeout=60,
        message="a reminder of the co-unit's input",
    )
    assert reminded

    def told():
        return [
            n
            for n in api("co_unit", "GET", "/api/notifications", expect=200).json()
            if n["subject"] == number and n["kind"] == "deadline_reminder"
        ]

    [note] = wait_for(told, timeout=60, message="the reminder in the co-unit's inbox")
    assert note["recipient"] == "unit:education"

    api("co_unit", "POST", f"/api/assignments/{co['id']}/input", {"text": "教育局将配合开展安全教育"}, expect=200)
    sent = wait_for(
        lambda: (lambda d: d if d["fulfilled"] else None)(_unit_deadline(api, number, "co_unit_input", "education")),
        timeout=60,
        message="the co-unit's input",
    )
    assert sent["status"] == "met" and not sent["live"]
