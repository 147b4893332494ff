"""An extension asked in months is approved as asked, the same through both doors: a unit's
handler over HTTP and a department's system over AMQP; supervision counts the months from the
reply deadline as the rulebook counts month deadlines. Every service its own process."""

from __future__ import annotations

import uuid
from datetime import date

from shared.calendar import WorkingCalendar
from shared.messaging import access
from tests.support import broker_users, wait_for

from .test_proposal_lifecycle import Api, assigned_to_transport, submit
from .test_unit_refusals import publish_with_id


def reply_deadline(api, number):
    response = api("staff", "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code != 200:
        return None
    live = [d for d in response.json()["deadlines"] if d["rule"] == "reply_deadline" and d["live"]]
    return live[0] if live and live[0]["start"]["event"] == "signed" else None


def signed_and_clocked(api, number):
    mine = assigned_to_transport(api, number, sign=True)
    due = wait_for(lambda: reply_deadline(api, number), timeout=60, message="the reply clock from the signing")
    return mine, date.fromisoformat(due["due"])


def approved_as_asked(api, number, due, months=2):
    api.complete("staff", "approve_extension", number, {"approved": True, "extension_comment": "同意"})
    expected = WorkingCalendar.add_months(due, months).isoformat()
    extended = wait_for(
        lambda: (lambda d: d if d and d["due"] == expected else None)(reply_deadline(api, number)),
        timeout=60,
        message=f"the deadline moved {months} months to {expected}",
    )
    assert [c["kind"] for c in extended["changes"]][-1] == "extension"
    return expected


def test_an_extension_asked_in_months_over_http_is_approved_as_asked(running):
    api = Api(*running)
    number = submit(api)
    mine, due = signed_and_clocked(api, number)
    asked = api(
        "unit", "POST", f"/api/assignments/{mine['id']}/extension", {"months": 2, "reason": "等待预算批复"}, expect=200
    ).json()
    assert (asked["months"], asked["until"]) == (2, None)
    until = approved_as_asked(api, number, due)
    [request] = wait_for(
        lambda: [
            e
            for e in api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["extension_requests"]
            if e["decision"]
        ],
        timeout=60,
        message="the decision on the unit's request",
    )
    assert request["decision"]["outcome"] == "approved" and request["decision"]["until"] == until


def test_an_extension_asked_in_months_over_amqp_is_approved_as_asked(running, e2e_settings):
    api = Api(*running)
    number = submit(api)
    mine, due = signed_and_clocked(api, number)
    transport = access.unit_grant(e2e_settings, "transport")
    with broker_users(e2e_settings, [transport]) as uris:
        publish_with_id(
            uris[transport.user],
            transport.user,
            "transport.request_extension",
            {"assignment_id": mine["id"], "months": 2, "reason": "等待预算批复"},
            uuid.uuid4().hex,
        )
        api.task("staff", "approve_extension", number)  # the engine heard the request
    approved_as_asked(api, number, due)


def test_an_extension_with_both_a_date_and_months_is_refused_over_http(running):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    refused = api(
        "unit",
        "POST",
        f"/api/assignments/{mine['id']}/extension",
        {"months": 2, "until": "2099-01-01", "reason": "x"},
        expect=400,
    ).json()
    assert "exactly one" in str(refused["details"])


def test_two_requests_asked_before_staff_decide_get_a_decision_each(running):
    """The unit asks twice before staff decide: the second request waits in the engine and comes to
    staff after the first. Staff approve the first (2 months, as asked) and refuse the second: the
    first request shows approved and the second refused, each its own decision."""
    api = Api(*running)
    number = submit(api)
    mine, due = signed_and_clocked(api, number)
    path = f"/api/assignments/{mine['id']}/extension"
    first = api("unit", "POST", path, {"months": 2, "reason": "等待预算批复"}, expect=200).json()
    second = api("unit", "POST", path, {"months": 3, "reason": "还需征求意见"}, expect=200).json()
    approved_as_asked(api, number, due, months=2)  # the first request's task (its months, not the second's)

    def decided():
        requests = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["extension_requests"]
        return {r["id"]: r["status"] for r in requests}

    assert wait_for(
        lambda: (lambda d: d if d[first["id"]] == "approved" else None)(decided()),
        timeout=60,
        message="the first request approved",
    ) == {first["id"]: "approved", second["id"]: "requested"}

    api.complete("staff", "approve_extension", number, {"approved": False, "extension_comment": "已延期一次"})
    assert wait_for(
        lambda: (lambda d: d if d[second["id"]] == "refused" else None)(decided()),
        timeout=60,
        message="the second request refused",
    ) == {first["id"]: "approved", second["id"]: "refused"}


def test_staff_approving_past_the_longest_extension_are_asked_again_with_the_reason(running):
    """Staff approve with a date of their own past the rulebook's cap: supervision refuses it, the
    diagram catches the refusal and asks staff again, and the task says why."""
    api = Api(*running)
    number = submit(api)
    mine, due = signed_and_clocked(api, number)
    api("unit", "POST", f"/api/assignments/{mine['id']}/extension", {"months": 1, "reason": "等待预算批复"}, expect=200)
    first = api.task("staff", "approve_extension", number)
    assert first["reason"] is None
    too_late = WorkingCalendar.add_months(due, 12).isoformat()  # far past 6 months from the signing
    api.complete(
        "staff", "approve_extension", number, {"approved": True, "until": too_late, "extension_comment": "同意"}
    )
    again = wait_for(
        lambda: [
            t
            for t in api("staff", "GET", f"/api/tasks?business_key={number}", expect=200).json()["items"]
            if t["task"] == "approve_extension" and t["task_id"] != first["task_id"]
        ],
        timeout=60,
        message="approve_extension asked for again",
    )[0]
    assert again["reason"]["code"] == "extension_too_long" and again["reason"]["operation"] == "supervision.extend"
    assert again["reason"]["message"]  # supervision's own words: the latest date allowed
    # Decided again within the cap, the extension is made.
    approved_as_asked(api, number, due, months=1)
