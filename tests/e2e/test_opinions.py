"""Opinion information (社情民意) end to end through the HTTP API, every service its own process on
the real broker: a member's item edited, signed off, reported to two recipients, adopted by one
with a province-level instruction, forwarded to a department that answers, the submitter told at
each step; forbidden actions and malformed input refused, over HTTP and over AMQP."""

from __future__ import annotations

from shared import contracts
from tests.support import get_messages, publish, wait_for

from .test_proposal_lifecycle import Api

ITEM = {
    "title": "关于老旧小区加装电梯的建议",
    "situation": "老旧小区多为六层以下住宅，老年住户上下楼困难。",
    "analysis": "加装电梯需要全体业主同意，费用分摊和低层住户补偿难以协调。",
    "suggestion": "出台费用分摊指引，设立加装电梯协调专班，给予财政补贴。",
}
PASSED = {
    "political_ok": True,
    "political_note": "导向正确",
    "facts_ok": True,
    "facts_note": "已核实",
    "content_ok": True,
    "wording_ok": True,
}
MALFORMED = {"title": "", "situation": "情" * 1600, "urgent": "very"}


def item(api, number, who="staff"):
    return api(who, "GET", f"/api/opinions/{number}", expect=200).json()


def until_status(api, number, status):
    wait_for(lambda: item(api, number)["status"] == status, timeout=60, message=f"{number} {status}")
    return item(api, number)


def step(api, who, number, path, body):
    """A decision that completes the item's task, once the process has reached it."""

    def done():
        response = api(who, "POST", f"/api/opinions/{number}/{path}", body)
        assert response.status_code in (200, 409), response.text
        return response.status_code == 200 and response.json()

    return wait_for(done, timeout=60, message=f"{path} of {number}")


def test_an_item_edited_signed_off_reported_adopted_instructed_forwarded_and_answered(running):
    api = Api(*running)
    number = api("member", "POST", "/api/opinions", ITEM, expect=201).json()["number"]
    urgent = api(
        "informant", "POST", "/api/opinions", {**ITEM, "title": "关于暴雨内涝的紧急情况", "urgent": True}, expect=201
    ).json()["number"]

    def editors_list():
        tasks = api("staff", "GET", "/api/opinion-tasks", expect=200).json()
        keys = [t["business_key"] for t in tasks if t["task"] == "edit"]
        return {number, urgent} <= set(keys) and keys

    keys = wait_for(editors_list, timeout=60, message="both items in the editors' list")
    assert keys.index(urgent) < keys.index(number), "急事急报: the urgent item comes first"

    step(api, "staff", number, "editing", {**PASSED, "decision": "report"})
    until_status(api, number, "reviewed")
    step(
        api,
        "leader",
        number,
        "sign-off",
        {"approved": True, "channels": ["city_party_committee", "provincial_committee"]},
    )
    sent = until_status(api, number, "sent")
    issues = {r["channel"]: r["issue"] for r in sent["reports"]}
    assert set(issues) == {"city_party_committee", "provincial_committee"}
    assert issues["city_party_committee"].startswith("市委-") and issues["provincial_committee"].startswith("省政协-")
    assert [c["check"] for c in sent["checks"]] == ["political", "facts", "content", "wording"]
    assert sent["checks"][1]["note"] == "已核实" and all(c["passed"] for c in sent["checks"])

    api(
        "staff",
        "POST",
        f"/api/opinions/{number}/adoptions",
        {"channel": "city_party_committee", "adopted": False, "note": "已有同类信息"},
        expect=200,
    )
    adopted = api(
        "staff",
        "POST",
        f"/api/opinions/{number}/adoptions",
        {"channel": "provincial_committee", "adopted": True},
        expect=200,
    ).json()
    assert adopted["status"] == "adopted"
    api(
        "leader",
        "POST",
        f"/api/opinions/{number}/instructions",
        {"channel": "provincial_committee", "level": "province", "leader": "某副省长", "text": "请住建部门研究落实"},
        expect=201,
    )

    step(api, "staff", number, "forwarding", {"forward": True, "units": ["transport"], "forward_request": "请研究办理"})
    until_status(api, number, "forwarded")
    assert [i["number"] for i in api("unit", "GET", "/api/opinions", expect=200).json()["items"]] == [number]
    assert api("co_unit", "GET", f"/api/opinions/{number}").status_code == 403  # not forwarded to education
    assert api("co_unit", "POST", f"/api/opinions/{number}/answers", {"text": "x"}).status_code == 403
    api("unit", "POST", f"/api/opinions/{number}/answers", {"text": "已将加装电梯纳入年度计划"}, expect=201)
    done = until_status(api, number, "handled")
    assert done["instructions"][0]["level"] == "province"
    assert done["forwards"][0]["answer"] == "已将加装电梯纳入年度计划"

    expected = {
        "opinion.received",
        "opinion.edited",
        "opinion.reported",
        "opinion.not_adopted_by",
        "opinion.adopted",
        "opinion.instructed",
        "opinion.forwarded",
        "opinion.answered",
        "opinion.handled",
    }

    def told():
        inbox = api("member", "GET", "/api/notifications", expect=200).json()
        return expected <= {n["kind"] for n in inbox if n["subject"] == number} and inbox

    inbox = wait_for(told, timeout=60, message="the submitter told at each step")
    mine = [n for n in inbox if n["subject"] == number]
    assert len(mine) == len({n["event_id"] for n in mine}) == len(expected)
    assert all(n["thread"] == number for n in mine)
    history = [h["action"] for h in api("member", "GET", f"/api/threads/{number}", expect=200).json()["history"]]
    assert history[:2] == ["saved", "submitted"] and history[-1] == "closed"


def test_an_item_becomes_a_proposal_in_the_same_thread(running):
    api = Api(*running)
    number = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于社区食堂的建议"}, expect=201).json()[
        "number"
    ]
    api.task("staff", "edit", number)
    refused = api("cosigner", "POST", f"/api/opinions/{number}/to-proposal", {"publish_consent": True})
    assert refused.status_code == 403
    made = api("member", "POST", f"/api/opinions/{number}/to-proposal", {"publish_consent": True}, expect=201).json()
    assert made["opinion"]["status"] == "converted" and made["proposal"]["thread"] == number
    thread = api("member", "GET", f"/api/threads/{number}", expect=200).json()
    assert [(e["kind"], e["number"]) for e in thread["entries"]] == [
        ("opinion", number),
        ("proposal", made["proposal"]["number"]),
    ]
    wait_for(
        lambda: (
            not [t for t in api("staff", "GET", "/api/opinion-tasks", expect=200).json() if t["business_key"] == number]
        ),
        timeout=60,
        message="the edit task withdrawn",
    )


def test_forbidden_actions_and_malformed_input_are_refused(running, e2e_settings):
    api = Api(*running)
    number = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于公交线路优化的建议"}, expect=201).json()[
        "number"
    ]
    edit = {**PASSED, "decision": "report"}
    assert api("informant", "POST", f"/api/opinions/{number}/editing", edit).status_code == 403
    task = api.task("staff", "edit", number)
    refused = api("informant", "POST", f"/api/tasks/{task['task_id']}/complete", {"data": edit})
    assert refused.status_code == 403, "the engine refuses an informant editing, whatever the gateway lets through"
    assert api("cosigner", "GET", f"/api/opinions/{number}").status_code == 403
    assert number not in [i["number"] for i in api("cosigner", "GET", "/api/opinions", expect=200).json()["items"]]
    assert item(api, number)["status"] == "submitted"

    before = api("member", "GET", "/api/opinions?mine=true", expect=200).json()["total"]
    bad = api("member", "POST", "/api/opinions", MALFORMED)
    assert bad.status_code == 400
    details = bad.json()["details"]
    assert {"title", "analysis", "suggestion", "urgent"} <= set(details), details
    bad_edit = api("staff", "POST", f"/api/opinions/{number}/editing", {"decision": "report", "political_ok": True})
    assert bad_edit.status_code == 400 and {"facts_ok", "content_ok", "wording_ok"} <= set(bad_edit.json()["details"])

    # Member Li's app, on its own broker user (the submitter is that user, never the body).
    from shared.messaging import access
    from tests.support import broker_users

    vhost = e2e_settings.amqp_uri.rsplit("/", 1)[-1]
    app = access.submitter_grant(e2e_settings, "member", "member.li")
    with broker_users(e2e_settings, [app]) as uris:
        uri = uris[app.user]
        publish(
            uri,
            contracts.MESSAGES_EXCHANGE,
            contracts.OPINION_SUBMIT_ROUTING_KEY,
            {"reference": "app-1", "item": MALFORMED},
            user_id=app.user,
        )
        publish(
            uri,
            contracts.MESSAGES_EXCHANGE,
            contracts.OPINION_SUBMIT_ROUTING_KEY,
            {"reference": "app-2", "principal": {"user": "staff.wang", "roles": ["staff"]}, "item": ITEM},
            user_id=app.user,
        )
        dead = []

        def two_dead_letters():
            dead.extend(
                m
                for m in get_messages(vhost, contracts.DEAD_QUEUE)
                if m["routing_key"] == contracts.OPINION_SUBMIT_ROUTING_KEY
            )
            return len(dead) >= 2

        wait_for(two_dead_letters, timeout=60, message="two dead-lettered submissions")
        reasons = [m["properties"]["headers"][contracts.REASON_HEADER] for m in dead]
        assert any(r.startswith("invalid_input") and "suggestion" in r and "title" in r for r in reasons), reasons
        assert any(r.startswith("forbidden") and "staff.wang" in r for r in reasons), reasons
        publish(
            uri,
            contracts.MESSAGES_EXCHANGE,
            contracts.OPINION_SUBMIT_ROUTING_KEY,
            {"reference": "app-3", "item": {**ITEM, "title": "关于夜市管理的建议"}},
            user_id=app.user,
        )
    wait_for(
        lambda: api("member", "GET", "/api/opinions?mine=true", expect=200).json()["total"] == before + 1,
        timeout=60,
        message="the good AMQP submission",
    )
