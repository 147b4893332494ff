"""Micro-consultation (微协商) end to end through the HTTP API, every service its own process on the
real broker: a case settled at a consultation meeting with departments' commitments, follow-up
and a return visit with the resident's satisfaction; a case that becomes an opinion item and
then a proposal in one thread with one history; the venue directory; forbidden actions and
malformed input refused."""

from __future__ import annotations

from shared import clock
from shared.calendar import local_date
from tests.support import NEXT_YEAR, wait_for

from .test_proposal_lifecycle import Api

ISSUE = {
    "venue": "cp_jiefang",
    "title": "小区门口路灯不亮",
    "description": "解放街道建设路路段路灯损坏两个月，夜间出行不便，老人摔倒过两次。",
    "resident_name": "王秀英",
    "resident_phone": "13800001111",
}


def case(api, number, who="staff"):
    return api(who, "GET", f"/api/consultations/{number}", expect=200).json()


def until_status(api, number, status):
    wait_for(lambda: case(api, number)["status"] == status, timeout=60, message=f"{number} {status}")
    return case(api, number)


def step(api, who, number, path, body):
    """A step that completes the case's task, once the process has reached it."""

    def done():
        response = api(who, "POST", f"/api/consultations/{number}/{path}", body)
        assert response.status_code in (200, 409), response.text
        return response.status_code == 200 and response.json()

    return wait_for(done, timeout=60, message=f"{path} of {number}")


def taken_by_member(api, title):
    number = api("staff", "POST", "/api/consultations", {**ISSUE, "title": title}, expect=201).json()["number"]
    step(
        api,
        "staff",
        number,
        "dispatch",
        {"dispatch_action": "dispatch", "member": "member.li", "dispatch_note": "请尽快联系居民"},
    )
    step(api, "member", number, "take", {"accepted": True})
    until_status(api, number, "taken")
    return number


def test_a_case_settled_at_a_meeting_with_commitments_follow_up_and_a_satisfied_return_visit(running):
    api = Api(*running)
    number = taken_by_member(api, "小区门口路灯不亮")
    assert number.startswith("WX-")
    step(api, "member", number, "decision", {"outcome": "meeting"})
    step(
        api,
        "member",
        number,
        "meeting",
        {
            "meeting_form": "on_site",
            "meeting_venue": "cr_jiefang",
            "held_on": local_date(clock.now()).isoformat(),  # after the registration, not after today
            "attendees": ["member.zhou"],
            "units": ["transport", "education"],
            "summary": "现场协商路灯维修与学校周边照明",
        },
    )
    # The decision already set the status "meeting": wait for the meeting itself to be recorded.
    wait_for(lambda: case(api, number)["meetings"], timeout=60, message=f"{number}'s meeting recorded")
    held = until_status(api, number, "meeting")
    assert held["meetings"][0]["form"] == "on_site" and held["meetings"][0]["attendees"] == ["member.li", "member.zhou"]
    assert sorted(c["unit"] for c in held["commitments"]) == ["education", "transport"]

    mine = case(api, number, "unit")
    assert [c["unit"] for c in mine["commitments"]] == ["transport"], "a department sees its own commitment only"
    assert mine["resident_phone"] is None and mine["resident_name"] == "王**"
    assert [c["number"] for c in api("unit", "GET", "/api/consultations", expect=200).json()["items"]] == [number]
    api(
        "unit",
        "POST",
        f"/api/consultations/{number}/commitments",
        {"actions": "两周内更换路灯12盏", "done_by": f"{NEXT_YEAR}-01-31", "contact": "赵科长"},
        expect=201,
    )
    assert (
        api(
            "unit",
            "POST",
            f"/api/consultations/{number}/commitments",
            {"actions": "again", "done_by": f"{NEXT_YEAR}-01-31"},
        ).status_code
        == 409
    )
    api(
        "co_unit",
        "POST",
        f"/api/consultations/{number}/commitments",
        {"actions": "学校周边增设照明", "done_by": f"{NEXT_YEAR}-02-15"},
        expect=201,
    )

    until_status(api, number, "following_up")
    step(api, "member", number, "follow-up", {"actions_done": False, "follow_up_note": "路灯已换，学校照明施工中"})
    wait_for(lambda: len(case(api, number)["follow_ups"]) == 1, timeout=60, message="the first follow-up recorded")
    step(api, "member", number, "follow-up", {"actions_done": True, "follow_up_note": "全部完成，现场查看"})
    until_status(api, number, "return_visit")
    step(
        api,
        "member",
        number,
        "return-visit",
        {"reached": True, "satisfaction": "satisfied", "visit_comment": "居民表示满意"},
    )
    closed = until_status(api, number, "closed")
    assert closed["satisfaction"] == "satisfied" and closed["close_reason"] is None
    assert [c["status"] for c in closed["commitments"]] == ["committed", "committed"]
    actions = [h["action"] for h in closed["history"]]
    assert actions[:3] == ["registered", "dispatched", "taken"] and actions[-2:] == ["return_visit", "closed"]
    assert {"meeting_held", "committed", "all_committed", "follow_up_scheduled", "followed_up"} <= set(actions)

    def told(who, kinds):
        inbox = api(who, "GET", "/api/notifications", expect=200).json()
        return kinds <= {n["kind"] for n in inbox if n["subject"] == number} and inbox

    wait_for(
        lambda: told("member", {"consultation.dispatched", "consultation.committed", "consultation.closed"}),
        timeout=60,
        message="the member told",
    )
    wait_for(lambda: told("unit", {"consultation.commitment_requested"}), timeout=60, message="the department told")
    thread = api("member", "GET", f"/api/threads/{number}", expect=200).json()
    assert [(e["kind"], e["number"]) for e in thread["entries"]] == [("case", number)]
    assert thread["history"][-1]["action"] == "closed"


def test_a_case_becomes_an_opinion_item_and_then_a_proposal_in_one_thread(running):
    api = Api(*running)
    number = taken_by_member(api, "社区缺少老年食堂")
    step(
        api,
        "member",
        number,
        "decision",
        {
            "outcome": "opinion",
            "analysis": "辖区老年人口占比高，就餐难。",
            "suggestion": "由民政部门统筹建设社区老年食堂。",
        },
    )
    waiting = until_status(api, number, "converted")  # it waits for the outcome, then the return visit
    assert waiting["close_reason"] is None and waiting["converted_kind"] == "opinion"
    item = waiting["converted_number"]
    opinion = api("member", "GET", f"/api/opinions/{item}", expect=200).json()
    assert opinion["thread"] == number and opinion["origin_case"] == number
    wait_for(
        lambda: api("member", "GET", f"/api/opinions/{item}", expect=200).json()["status"] == "submitted",
        timeout=60,
        message="the item in editing",
    )
    made = api("member", "POST", f"/api/opinions/{item}/to-proposal", {"publish_consent": True}, expect=201).json()
    assert made["proposal"]["thread"] == number

    thread = api("member", "GET", f"/api/threads/{number}", expect=200).json()
    assert [(e["kind"], e["number"]) for e in thread["entries"]] == [
        ("case", number),
        ("opinion", item),
        ("proposal", made["proposal"]["number"]),
    ]
    kinds = [h["kind"] for h in thread["history"]]
    assert kinds[0] == "case" and {"case", "opinion", "proposal"} <= set(kinds)
    assert thread["history"] == sorted(thread["history"], key=lambda h: h["at"]), "one history, in order"
    # Another member sees the thread as one with nothing in it, as a thread that does not exist.
    hidden = api("cosigner", "GET", f"/api/threads/{number}", expect=200).json()
    missing = api("cosigner", "GET", "/api/threads/WX-2000-0001", expect=200).json()
    assert hidden["entries"] == missing["entries"] == [] and hidden["history"] == missing["history"] == []


def test_the_venue_directory_and_its_coverage(running):
    api = Api(*running)
    studios = api("member", "GET", "/api/venues?kind=sector_studio", expect=200).json()
    assert len(studios) == 13 and all(v["sector"] for v in studios)
    here = api("member", "GET", "/api/venues?town=jiefang", expect=200).json()
    assert {"contact_point", "consultation_room"} <= {v["kind"] for v in here}
    coverage = api("staff", "GET", "/api/venues/coverage", expect=200).json()
    assert len(coverage["towns"]) == 36 and coverage["uncovered"] == []
    assert coverage["venues_by_kind"] == {
        "contact_point": 53,
        "reception_room": 14,
        "consultation_room": 24,
        "sector_studio": 13,
    }
    assert api("member", "GET", "/api/venues?kind=pub").status_code == 400


def test_a_case_dispatched_to_a_member_the_directory_lacks_comes_back_to_staff_saying_why(running):
    api = Api(*running)
    title = "公交站台缺少遮阳棚"
    number = api("staff", "POST", "/api/consultations", {**ISSUE, "title": title}, expect=201).json()["number"]
    first = api.task("staff", "dispatch", number)
    step(api, "staff", number, "dispatch", {"dispatch_action": "dispatch", "member": "member.nobdy"})

    def back_again():
        tasks = api("staff", "GET", f"/api/tasks?business_key={number}", expect=200).json()["items"]
        return [t for t in tasks if t["task"] == "dispatch" and t["task_id"] != first["task_id"]]

    [again] = wait_for(back_again, timeout=60, message=f"the dispatch of {number} back to staff")
    history = api("staff", "GET", f"/api/instances/{again['instance_id']}/history", expect=200).json()
    [why] = [h["data"] for h in history if h["action"] == "bpmn_error"]
    assert why["code"] == "unknown_member" and "'member.nobdy' is not in the members directory" in why["message"]
    assert case(api, number)["status"] == "registered", "nobody was told, nothing was recorded"
    step(api, "staff", number, "dispatch", {"dispatch_action": "dispatch", "member": "member.li"})
    assert until_status(api, number, "dispatched")["member"] == "member.li"


def test_forbidden_actions_and_malformed_input_are_refused(running):
    api = Api(*running)
    refused = api("staff", "POST", "/api/consultations", {"venue": "cp_jiefang", "title": "", "resident_phone": "x"})
    assert refused.status_code == 400
    assert {"title", "description", "resident_name", "resident_phone"} <= set(refused.json()["details"])
    assert api("unit", "POST", "/api/consultations", ISSUE).status_code == 403
    assert api("staff", "POST", "/api/consultations", {**ISSUE, "venue": "nowhere"}).status_code == 400

    number = api("member", "POST", "/api/consultations", {**ISSUE, "title": "菜市场占道经营"}, expect=201).json()[
        "number"
    ]
    assert (
        api(
            "member",
            "POST",
            f"/api/consultations/{number}/dispatch",
            {"dispatch_action": "dispatch", "member": "member.li"},
        ).status_code
        == 403
    )
    step(api, "staff", number, "dispatch", {"dispatch_action": "dispatch", "member": "member.li"})
    take = api.task("member", "take", number)
    refused = api("cosigner", "POST", f"/api/tasks/{take['task_id']}/complete", {"data": {"accepted": True}})
    assert refused.status_code == 403, "the engine refuses a member the case was not given to"
    assert api("cosigner", "POST", f"/api/consultations/{number}/take", {"accepted": True}).status_code == 409
    assert api("cosigner", "GET", f"/api/consultations/{number}").status_code == 403
    assert api("unit", "GET", f"/api/consultations/{number}").status_code == 403
    bad = api("member", "POST", f"/api/consultations/{number}/take", {"accepted": False})
    assert bad.status_code == 400 and "decline_reason" in bad.json()["details"]
    assert (
        api(
            "unit",
            "POST",
            f"/api/consultations/{number}/commitments",
            {"actions": "x", "done_by": f"{NEXT_YEAR}-01-31"},
        ).status_code
        == 403
    )
    assert case(api, number)["status"] == "dispatched"
