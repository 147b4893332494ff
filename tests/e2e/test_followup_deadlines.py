"""Promises and windows that run out, end to end on a system whose clock the tests move (shared with
test_deadlines.py): an extension asked after the reply deadline is refused when asked, over HTTP
(422) and over AMQP (``too_late`` on the unit's queue); a B reply's milestone is reminded before
its date, escalated after it and on the overdue board; an appeal after its window is refused and the process goes on."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from shared.messaging import access
from tests.support import broker_users, wait_for

from .test_followups_and_appeals import milestone_deadlines, public, rate, re_handled_and_still_unsatisfied
from .test_proposal_lifecycle import Api, assigned_to_transport, notices, submit
from .test_unit_refusals import publish_with_id, refusals_heard

pytestmark = pytest.mark.system("clock")


def reply_deadline(api, number):
    response = api("staff", "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code != 200:
        return None
    live = [d for d in response.json()["deadlines"] if d["rule"] == "reply_deadline" and d["live"]]
    return live[0] if live and live[0]["start"]["event"] == "signed" else None


def move_to(service_clock, day: date, hours: int = 2):
    """Move the services' clock to ``hours`` past midnight of ``day`` in China (UTC+8)."""
    target = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(hours=hours - 8)
    service_clock.advance((target - service_clock.now()).total_seconds())


def test_an_extension_asked_after_the_reply_deadline_is_refused_when_asked(
    running, service_clock, e2e_settings, db_kind
):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    due = date.fromisoformat(
        wait_for(lambda: reply_deadline(api, number), timeout=60, message="the reply clock from the signing")["due"]
    )
    move_to(service_clock, due + timedelta(days=2))
    late = api("unit", "POST", f"/api/assignments/{mine['id']}/extension", {"months": 1, "reason": "等待预算批复"})
    assert late.status_code == 422, late.text
    refused = late.json()
    assert refused["error"] == "too_late" and refused["details"]["reply_due"] == due.isoformat()
    assert "too late to ask" in refused["message"]

    transport = access.unit_grant(e2e_settings, "transport")
    run = uuid.uuid4().hex[:8]
    with broker_users(e2e_settings, [transport]) as uris:
        publish_with_id(
            uris[transport.user],
            transport.user,
            "transport.request_extension",
            {"assignment_id": mine["id"], "months": 1, "reason": "等待预算批复"},
            f"{run}-late",
        )
        [(key, told)] = refusals_heard(uris[transport.user], "transport", {f"{run}-late"}).values()
    assert key == "transport.command.refused" and told["kind"] == "too_late"
    assert told["details"]["reply_due"] == due.isoformat()
    requests = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["extension_requests"]
    assert requests == []  # nothing was asked, nothing for staff to decide
    assert [
        t
        for t in api("staff", "GET", f"/api/tasks?business_key={number}", expect=200).json()["items"]
        if t["task"] == "approve_extension"
    ] == []


def test_a_milestone_is_reminded_before_its_date_and_escalated_after_it(running, service_clock, db_kind):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    today = service_clock.now().astimezone(timezone(timedelta(hours=8))).date()
    due = today + timedelta(days=30)
    api(
        "unit",
        "POST",
        f"/api/assignments/{mine['id']}/reply-draft",
        {"category": "B", "text": "已列入计划。", "milestones": [{"what": "完成设计", "due": due.isoformat()}]},
        expect=200,
    )
    api("unit", "POST", f"/api/assignments/{mine['id']}/reply", expect=200)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number)
    api.complete("committee", "grade_quality", number, {"grade": "good"})
    wait_for(lambda: public(api, number), timeout=60, message="the publication, its follow-up pending")
    [opened] = wait_for(lambda: milestone_deadlines(api, number), timeout=60, message="the milestone's deadline")
    assert opened["due"] == due.isoformat() and opened["reminders"] == []

    move_to(service_clock, due - timedelta(days=5))
    [reminded] = wait_for(
        lambda: (lambda d: d if d and d[0]["reminders"] else None)(milestone_deadlines(api, number)),
        timeout=90,
        message="the milestone's reminder",
    )
    assert reminded["reminders"][0]["lead"] == {"amount": 7, "unit": "days"}
    wait_for(
        lambda: "deadline_reminder" in notices(api, "unit", number),
        timeout=60,
        message="the reminder in the unit's inbox",
    )

    move_to(service_clock, due + timedelta(days=2))
    # The deadline and its escalations are read by two statements: one answer may show an escalation
    # committed between them beside the status read before it; the next one shows both.
    [escalated] = wait_for(
        lambda: (lambda d: d if d and d[0]["escalations"] and d[0]["status"] == "missed" else None)(
            milestone_deadlines(api, number)
        ),
        timeout=90,
        message="the milestone's escalation",
    )
    assert escalated["status"] == "missed" and escalated["escalations"][0]["unit"] == "transport"
    wait_for(
        lambda: "deadline_escalation" in notices(api, "staff", number),
        timeout=60,
        message="the escalation in the staff's inbox",
    )
    board = api("staff", "GET", "/api/overdue", expect=200).json()["units"]
    [row] = [o for u in board if u["unit"] == "transport" for o in u["overdue"] if o["number"] == number]
    assert (row["kind"], row["due"], row["days_overdue"]) == ("milestone", due.isoformat(), 2)
    assert row["milestone"] == {"number": 1, "what": "完成设计"} and row["escalated_at"] is not None
    assert '"完成设计", promised in its category B reply' in row["explanation"]


def test_no_appeal_after_the_window_and_the_process_goes_on(running, service_clock, db_kind):
    api = Api(*running)
    number = submit(api)
    re_handled_and_still_unsatisfied(api, number)

    def window():
        rounds = api("member", "GET", f"/api/proposals/{number}/ratings", expect=200).json()["rounds"]
        return rounds[-1]["appeal_due"] if rounds[-1]["round"] == 2 else None

    ends = datetime.fromisoformat(wait_for(window, timeout=60, message="the appeal window"))
    service_clock.advance((ends - service_clock.now()).total_seconds() + 3600)
    late = api("member", "POST", f"/api/proposals/{number}/appeal", {"reason": "仍不满意"})
    assert late.status_code == 422 and late.json()["error"] == "too_late"
    api.task("committee", "grade_quality", number)  # the window's timer moved the process on
