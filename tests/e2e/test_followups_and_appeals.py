"""After the reply, end to end, every service its own process: a category B reply promises milestones
(refused without them), is published at once with its follow-up pending, each milestone is a
deadline supervision explains, the unit reports them done over HTTP and AMQP and then sends the
follow-up reply, which the published record takes; a reply staff recategorise to B carries the
milestones settled with the unit and is followed up the same way; and a proposer still 不满意 after a re-handled
reply appeals, the committee deciding. Moving the clock (reminders, escalations, windows ending)
is in test_followup_deadlines.py."""

from __future__ import annotations

import uuid
from datetime import date, timedelta


from shared.messaging import access
from tests.support import broker_users, wait_for

from .test_proposal_lifecycle import Api, assigned_to_transport, notices, submit
from .test_unit_refusals import publish_with_id, refusals_heard

RATE_OK = {"handling": "satisfied", "result": "satisfied"}
UNSATISFIED = {"handling": "unsatisfied", "result": "unsatisfied"}


def rate(api, number, scores=RATE_OK, who="member"):
    wait_for(
        lambda: api(who, "POST", f"/api/proposals/{number}/ratings", scores).status_code == 201,
        timeout=60,
        message=f"{who}'s rating",
    )


def milestone_deadlines(api, number, who="staff"):
    response = api(who, "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code != 200:
        return []
    return [d for d in response.json()["deadlines"] if d["rule"] == "followup_milestone"]


def public(api, number):
    response = api("public", "GET", f"/api/public/proposals/{number}")
    return response.json() if response.status_code == 200 else None


def b_reply_accepted(api, number, assignment_id) -> tuple[date, date]:
    """The unit's category B reply promising two milestones (60 and 200 days on), submitted and
    accepted by staff; the two due dates."""
    soon, later = date.today() + timedelta(days=60), date.today() + timedelta(days=200)
    api(
        "unit",
        "POST",
        f"/api/assignments/{assignment_id}/reply-draft",
        {
            "category": "B",
            "text": "已列入明年计划。",
            "milestones": [
                {"what": "完成设计招标", "due": soon.isoformat()},
                {"what": "完成改造", "due": later.isoformat()},
            ],
        },
        expect=200,
    )
    api("unit", "POST", f"/api/assignments/{assignment_id}/reply", expect=200)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    return soon, later


def test_a_b_reply_keeps_its_promises_published_pending_and_followed_up(running, db_kind):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    draft = f"/api/assignments/{mine['id']}/reply-draft"
    none = api("unit", "POST", draft, {"category": "B", "text": "已列入明年计划。"}, expect=400).json()
    assert "milestones" in none["details"]
    past = api(
        "unit",
        "POST",
        draft,
        {"category": "B", "text": "已列入明年计划。", "milestones": [{"what": "完成设计", "due": "2020-01-01"}]},
        expect=400,
    ).json()
    assert past["details"]["milestones"]["0"]["due"]
    soon, later = b_reply_accepted(api, number, mine["id"])
    rate(api, number)
    api.complete("committee", "grade_quality", number, {"grade": "good"})

    # Published at once, with the follow-up pending; each milestone is a deadline, explained.
    pending = wait_for(lambda: public(api, number), timeout=60, message="the publication")
    assert (pending["reply_category"], pending["followup_status"], pending["followup_text"]) == ("B", "pending", None)
    deadlines = wait_for(lambda: milestone_deadlines(api, number), timeout=60, message="the milestones' deadlines")
    assert [(d["milestone"]["number"], d["due"], d["unit"]) for d in deadlines] == [
        (1, soon.isoformat(), "transport"),
        (2, later.isoformat(), "transport"),
    ]
    assert "完成设计招标" in deadlines[0]["explanation"] and deadlines[0]["live"]
    assert [d["milestone"]["what"] for d in milestone_deadlines(api, number, who="member")] == [
        "完成设计招标",
        "完成改造",
    ]

    # The unit reports the first milestone done: its deadline is met, the proposer told.
    done = api(
        "unit", "POST", f"/api/assignments/{mine['id']}/milestone", {"milestone": 1, "note": "招标已完成"}, expect=200
    ).json()
    assert done["done_at"] and done["note"] == "招标已完成"
    assert (
        api("unit", "POST", f"/api/assignments/{mine['id']}/milestone", {"milestone": 1, "note": "again"}).status_code
        == 409
    )
    wait_for(
        lambda: [d["status"] for d in milestone_deadlines(api, number)] == ["met", "open"],
        timeout=60,
        message="the first milestone's deadline met",
    )
    wait_for(lambda: "milestone_done" in notices(api, "member", number), timeout=60, message="the proposer's notice")

    # The follow-up reply: the published record takes it, the last milestone closes, the process ends.
    api(
        "unit",
        "POST",
        f"/api/assignments/{mine['id']}/followup",
        {"text": "改造已于年底完成，联系电话 13812345678。"},
        expect=200,
    )
    received = wait_for(
        lambda: (lambda p: p if p and p["followup_status"] == "received" else None)(public(api, number)),
        timeout=60,
        message="the follow-up in the published record",
    )
    assert "改造已于年底完成" in received["followup_text"] and "13812345678" not in received["followup_text"]
    wait_for(
        lambda: [d["status"] for d in milestone_deadlines(api, number)] == ["met", "met"],
        timeout=60,
        message="the milestones closed by the follow-up reply",
    )
    wait_for(lambda: "followup_received" in notices(api, "member", number), timeout=60, message="the proposer's notice")
    assert api.status(number) == "published"


def test_a_reply_staff_recategorise_to_b_carries_the_milestones_settled_with_the_unit_and_is_followed_up(
    running, db_kind
):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    api(
        "unit",
        "POST",
        f"/api/assignments/{mine['id']}/reply-draft",
        {"category": "A", "text": "已协调解决。"},
        expect=200,
    )
    api("unit", "POST", f"/api/assignments/{mine['id']}/reply", expect=200)
    review = api.task("staff", "review_reply", number)
    complete = f"/api/tasks/{review['task_id']}/complete"
    bare = api("staff", "POST", complete, {"data": {"action": "accept", "override_category": "B"}}, expect=400).json()
    assert "override_milestones" in str(bare["details"]), bare  # refused, nothing changed: the task waits
    due = date.today() + timedelta(days=90)
    settled = {"what": "完成路口改造", "due": due.isoformat()}
    api(
        "staff",
        "POST",
        complete,
        {"data": {"action": "accept", "override_category": "B", "override_milestones": [settled]}},
        expect=200,
    )

    # The unit's reply is B now, owing the milestone settled at review; the change is in its history.
    owed = wait_for(
        lambda: (lambda r: r if r["category"] == "B" else None)(
            api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["replies"][-1]
        ),
        timeout=60,
        message="the recategorisation on the unit's reply",
    )
    assert [(m["milestone"], m["what"], m["due"]) for m in owed["milestones"]] == [(1, "完成路口改造", due.isoformat())]
    events = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["events"]
    [changed] = [e for e in events if e["action"] == "reply_recategorised"]
    assert (changed["data"]["from"], changed["data"]["to"], changed["actor"]) == ("A", "B", "staff.wang")
    wait_for(
        lambda: "assignment.followup_expected" in notices(api, "unit", number), timeout=60, message="the unit told"
    )

    # The follow-up clock runs as for a reply submitted as B: a deadline per milestone, reported done.
    rate(api, number)
    api.complete("committee", "grade_quality", number, {"grade": "good"})
    pending = wait_for(lambda: public(api, number), timeout=60, message="the publication")
    assert (pending["reply_category"], pending["followup_status"]) == ("B", "pending")
    [deadline] = wait_for(lambda: milestone_deadlines(api, number), timeout=60, message="the milestone's deadline")
    assert (deadline["milestone"], deadline["due"], deadline["unit"]) == (
        {"number": 1, "what": "完成路口改造"},
        due.isoformat(),
        "transport",
    )
    api("unit", "POST", f"/api/assignments/{mine['id']}/milestone", {"milestone": 1, "note": "改造完成"}, expect=200)
    wait_for(
        lambda: [d["status"] for d in milestone_deadlines(api, number)] == ["met"],
        timeout=60,
        message="the milestone met",
    )
    api("unit", "POST", f"/api/assignments/{mine['id']}/followup", {"text": "路口改造已完成。"}, expect=200)
    wait_for(
        lambda: (lambda p: p and p["followup_status"] == "received")(public(api, number)),
        timeout=60,
        message="the follow-up in the published record",
    )


def test_a_units_system_reports_its_milestones_over_amqp_and_a_b_draft_without_them_is_refused(
    running, e2e_settings, db_kind
):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    transport = access.unit_grant(e2e_settings, "transport")
    run = uuid.uuid4().hex[:8]
    due = (date.today() + timedelta(days=90)).isoformat()
    with broker_users(e2e_settings, [transport]) as uris:
        uri = uris[transport.user]
        publish_with_id(
            uri,
            transport.user,
            "transport.draft_reply",
            {"assignment_id": mine["id"], "category": "B", "text": "已列入计划"},
            f"{run}-bare",
        )
        [(key, refusal)] = refusals_heard(uri, "transport", {f"{run}-bare"}).values()
        assert key == "transport.command.refused" and refusal["kind"] == "invalid_input"
        assert "milestones" in refusal["details"]
        publish_with_id(
            uri,
            transport.user,
            "transport.draft_reply",
            {
                "assignment_id": mine["id"],
                "category": "B",
                "text": "已列入计划",
                "milestones": [{"what": "完成设计", "due": due}],
            },
            f"{run}-draft",
        )
        # Commands are taken side by side: the submission is sent once the draft is recorded.
        wait_for(
            lambda: any(
                r["status"] == "draft" and r["category"] == "B"
                for r in api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["replies"]
            ),
            timeout=60,
            message="the B draft recorded",
        )
        publish_with_id(uri, transport.user, "transport.submit_reply", {"assignment_id": mine["id"]}, f"{run}-submit")
        api.complete("staff", "review_reply", number, {"action": "accept"})
        # Staff accepted it: the milestone may be reported (the assignment service heard the acceptance).
        wait_for(
            lambda: any(
                e["action"] == "reply_accepted"
                for e in api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["events"]
            ),
            timeout=60,
            message="the acceptance heard",
        )
        publish_with_id(
            uri,
            transport.user,
            "transport.report_milestone",
            {"assignment_id": mine["id"], "milestone": 1, "note": "设计完成"},
            f"{run}-done",
        )
        # The service's workers take commands side by side: the second report is sent once the first
        # is recorded, so it is the second that meets the first.
        wait_for(
            lambda: any(
                m["note"] == "设计完成"
                for m in api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["replies"][-1][
                    "milestones"
                ]
            ),
            timeout=60,
            message="the first report recorded",
        )
        publish_with_id(
            uri,
            transport.user,
            "transport.report_milestone",
            {"assignment_id": mine["id"], "milestone": 1, "note": "again"},
            f"{run}-twice",
        )
        [(_, twice)] = refusals_heard(uri, "transport", {f"{run}-twice"}).values()
        assert twice["kind"] == "conflict"
    reply = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["replies"][-1]
    assert [(m["milestone"], m["note"]) for m in reply["milestones"]] == [(1, "设计完成")]


def re_handled_and_still_unsatisfied(api, number):
    """Answered C, rated 不满意, re-handled, answered C again and rated 不满意 again."""
    mine = assigned_to_transport(api, number, sign=True)
    for round_ in (1, 2):
        current = wait_for(
            lambda round_=round_: (
                lambda a: a if a["round"] == round_ and a["status"] in ("signed", "assigned") else None
            )(api.assignment("unit", number)),
            timeout=60,
            message=f"round {round_} to answer",
        )
        api(
            "unit",
            "POST",
            f"/api/assignments/{current['id']}/reply-draft",
            {"category": "C", "text": f"第 {round_} 轮：条件不具备。"},
            expect=200,
        )
        api("unit", "POST", f"/api/assignments/{current['id']}/reply", expect=200)
        api.complete("staff", "review_reply", number, {"action": "accept"})
        rate(api, number, UNSATISFIED)
    return mine


def appeal_open(api, number):
    rounds = api("member", "GET", f"/api/proposals/{number}/ratings", expect=200).json()["rounds"]
    return rounds[-1] if rounds[-1]["round"] == 2 and rounds[-1]["outcome"] == "appealable" else None


def test_a_proposer_still_unsatisfied_appeals_and_the_committee_orders_another_round(running, db_kind):
    api = Api(*running)
    number = submit(api)
    file_it_and_more = re_handled_and_still_unsatisfied(api, number)
    second = wait_for(lambda: appeal_open(api, number), timeout=60, message="the appeal window")
    assert second["appeal_due"] and second["appeal"] is None
    wait_for(lambda: "appeal_open" in notices(api, "member", number), timeout=60, message="the proposer told")
    assert api("staff", "POST", f"/api/proposals/{number}/appeal", {"reason": "x"}).status_code == 403
    assert api("member", "POST", f"/api/proposals/{number}/appeal", {"reason": ""}).status_code == 400
    lodged = api(
        "member", "POST", f"/api/proposals/{number}/appeal", {"reason": "信号灯仍未设置，学生过街依旧危险"}, expect=201
    ).json()
    assert (lodged["round"], lodged["appellant"]) == (2, "member.li")
    twice = api("member", "POST", f"/api/proposals/{number}/appeal", {"reason": "再次申诉"})
    assert twice.status_code == 409 and "appealed already" in twice.json()["message"]

    api.complete(
        "committee",
        "decide_appeal",
        number,
        {"appeal_decision": "rehandle", "appeal_reason": "第二次答复未回应学校的调查"},
    )
    third = wait_for(
        lambda: (lambda a: a if a["round"] == 3 else None)(api.assignment("unit", number)),
        timeout=60,
        message="the third round",
    )
    assert third["id"] == file_it_and_more["id"]
    wait_for(
        lambda: "assignment.appeal_decided" in notices(api, "unit", number),
        timeout=60,
        message="the unit told of the decision",
    )
    wait_for(
        lambda: {"appeal_lodged", "appeal_decided"} <= notices(api, "member", number),
        timeout=60,
        message="the proposer told of the appeal and the decision",
    )
    decided = api("member", "GET", f"/api/proposals/{number}/ratings", expect=200).json()["rounds"][1]
    assert decided["outcome"] == "rehandle" and decided["appeal"]["decision"] == "rehandle"
    thread = api("member", "GET", f"/api/proposals/{number}", expect=200).json().get("thread") or number
    history = api("member", "GET", f"/api/threads/{thread}", expect=200).json()["history"]
    handling = [h["data"] for h in history if h["action"] == "handling"]
    assert any(
        d["event"] == "handling.appealed" and d["reason"] == "信号灯仍未设置，学生过街依旧危险" for d in handling
    )
    assert any(
        d["event"] == "handling.appeal_decided" and d["reason"] == "第二次答复未回应学校的调查" for d in handling
    )


def test_an_appeal_the_committee_rejects_keeps_the_rating_and_the_process_goes_on(running, db_kind):
    api = Api(*running)
    number = submit(api)
    re_handled_and_still_unsatisfied(api, number)
    wait_for(lambda: appeal_open(api, number), timeout=60, message="the appeal window")
    api("member", "POST", f"/api/proposals/{number}/appeal", {"reason": "仍不满意"}, expect=201)
    api.complete("committee", "decide_appeal", number, {"appeal_decision": "upheld", "appeal_reason": "今年条件不具备"})
    api.task("committee", "grade_quality", number)  # scored on the ratings as they stand
    decided = api("staff", "GET", f"/api/proposals/{number}/ratings", expect=200).json()["rounds"][1]
    assert decided["outcome"] == "upheld" and [r["result"] for r in decided["ratings"]] == ["unsatisfied"]
    wait_for(
        lambda: "assignment.appeal_decided" in notices(api, "unit", number),
        timeout=60,
        message="the unit told of the decision",
    )
    assert api("member", "POST", f"/api/proposals/{number}/appeal", {"reason": "again"}).status_code == 409
