"""Members' performance points end to end, every service its own process on the real broker:
points from the opinion flow and a thread that becomes a proposal, each awarded exactly once;
attendance recorded by the organising office; a quarter published, corrected inside its window
and refused after it; a changed rulebook applying to the new term only; every point in a member's
file with the event behind it.

The tests run in file order and move the shared clock forward (the module has a system of its own)."""

from __future__ import annotations

import pytest

from tests.support import wait_for

from . import test_micro_consultation as consultation
from .test_opinions import ITEM, PASSED, step, until_status
from .test_proposal_lifecycle import Api, file_it

# The standings count every point the system gave, in the 14th term, and the clock then moves
# into the next: first on a system of its own (test_deadlines.py moves the clock on after it).
pytestmark = pytest.mark.system("clock", first=True)


def points_file(api, who, member, **query):
    args = "&".join(f"{k}={v}" for k, v in query.items())
    return api(who, "GET", f"/api/performance/members/{member}/file?{args}", expect=200).json()


def entries_for(api, member, subject=None, event_id=None, **query):
    rows = points_file(api, "staff", member, **query)["entries"]
    return [
        e
        for e in rows
        if (subject is None or (e["event"] or {}).get("subject") == subject)
        and (event_id is None or (e["event"] or {}).get("event_id") == event_id)
    ]


def wait_entries(api, member, count, **filters):
    return wait_for(
        lambda: len(found := entries_for(api, member, **filters)) >= count and found,
        timeout=60,
        message=f"{count} ledger entries of {member} for {filters}",
    )


def test_opinion_points_are_awarded_exactly_once_and_a_thread_counts_its_authorship_once(running):
    api = Api(*running)
    # an item reported to two recipients, adopted by both, instructed: submitted 5, adopted 10 once, instructed 10
    number = api("member", "POST", "/api/opinions", ITEM, expect=201).json()["number"]
    step(api, "staff", number, "editing", {**PASSED, "decision": "report"})
    until_status(api, number, "reviewed")
    step(
        api,
        "leader",
        number,
        "sign-off",
        {"approved": True, "channels": ["city_party_committee", "provincial_committee"]},
    )
    until_status(api, number, "sent")
    for channel in ("city_party_committee", "provincial_committee"):
        api("staff", "POST", f"/api/opinions/{number}/adoptions", {"channel": channel, "adopted": True}, expect=200)
    api(
        "leader",
        "POST",
        f"/api/opinions/{number}/instructions",
        {"channel": "provincial_committee", "level": "province", "leader": "某副省长", "text": "请研究落实"},
        expect=201,
    )
    rows = wait_entries(api, "member.li", 4, subject=number)
    assert sorted((e["activity"], e["points"]) for e in rows) == [
        ("opinion_adopted", 0),
        ("opinion_adopted", 10),
        ("opinion_instructed", 10),
        ("opinion_submitted", 5),
    ]
    assert len({e["event"]["event_id"] for e in rows}) == 4, "each entry names the event that earned it"
    assert all(e["rulebook"]["version"] == "14.1" for e in rows)
    assert "once per item" in next(e for e in rows if e["activity"] == "opinion_adopted" and e["points"] == 0)["reason"]

    # an item that becomes a proposal in its thread: authorship counts once, at the proposal's value
    second = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于社区养老服务站的建议"}, expect=201).json()[
        "number"
    ]
    [submitted] = wait_entries(api, "member.li", 1, subject=second)
    converted = api(
        "member", "POST", f"/api/opinions/{second}/to-proposal", {"publish_consent": True}, expect=201
    ).json()
    proposal = converted["proposal"]["number"]
    file_it(api, proposal)
    adjustment, filed = wait_entries(api, "member.li", 2, subject=proposal)
    assert (adjustment["kind"], adjustment["points"], adjustment["replaces"]) == ("adjustment", -5, submitted["id"])
    assert (filed["activity"], filed["points"]) == ("proposal_lead", 15)
    assert submitted["event"]["thread"] == filed["event"]["thread"] == converted["opinion"]["thread"]
    thread_points = sum(
        e["points"]
        for e in entries_for(api, "member.li", subject=second) + entries_for(api, "member.li", subject=proposal)
    )
    assert thread_points == 15, "one thread, its authorship counted once"


def test_a_case_that_becomes_an_opinion_item_and_a_proposal_counts_each_achievement_once(running):
    api = Api(*running)
    number = consultation.taken_by_member(api, "社区缺少老年食堂")
    consultation.step(
        api,
        "member",
        number,
        "decision",
        {"outcome": "opinion", "analysis": "辖区老年人口占比高。", "suggestion": "由民政部门统筹建设社区老年食堂。"},
    )
    # Converted, the case waits for what becomes of the item before its return visit.
    item = consultation.until_status(api, number, "converted")["converted_number"]
    wait_for(
        lambda: api("member", "GET", f"/api/opinions/{item}", expect=200).json()["status"] == "submitted",
        timeout=60,
        message="the item in editing",
    )
    proposal = api("member", "POST", f"/api/opinions/{item}/to-proposal", {"publish_consent": True}, expect=201).json()[
        "proposal"
    ]["number"]
    file_it(api, proposal)

    def in_thread():
        rows = [
            e
            for e in points_file(api, "member", "member.li")["entries"]
            if e["event"] and e["event"]["thread"] == number
        ]
        return any(e["activity"] == "proposal_lead" for e in rows) and rows

    rows = wait_for(in_thread, timeout=60, message="the proposal's points in the case's thread")
    assert [(e["event"]["name"], e["kind"], e["activity"], e["points"]) for e in rows] == [
        ("consultation.case_taken", "earned", "consultation_case_taken", 2),
        ("opinion.submitted", "earned", "opinion_submitted", 5),
        ("proposal.filed", "adjustment", "opinion_submitted", -5),
        ("proposal.filed", "earned", "proposal_lead", 15),
    ], "the case converted earns nothing itself; authorship counts once, at the proposal's value"
    assert sum(e["points"] for e in rows) == 17


def test_a_quarter_is_published_corrected_inside_the_window_and_refused_after(running, service_clock):
    api = Api(*running)
    record = api(
        "staff",
        "POST",
        "/api/performance/attendance",
        {
            "kind": "inspection",
            "title": "民生实事专项视察",
            "held_on": "2026-08-20",
            "present": ["member.li"],
            "absent": ["member.zhou"],
        },
        expect=201,
    ).json()
    [absence] = wait_entries(api, "member.zhou", 1, event_id=record["event_id"], period="2026-Q3")
    assert (absence["activity"], absence["points"]) == ("meeting_absence", -5)

    published = api("staff", "POST", "/api/performance/periods", {"period": "2026-Q3"}, expect=201).json()
    assert published["status"] == "published"
    standing = {s["member"]: s for s in published["standings"]}
    assert standing["member.zhou"]["total"] == -5 and standing["member.li"]["total"] == 2
    assert api("member", "POST", "/api/performance/periods", {"period": "2026-Q3"}).status_code == 403
    assert api("staff", "POST", "/api/performance/periods", {"period": "2026-Q3"}).status_code == 409

    asked = api(
        "cosigner",
        "POST",
        "/api/performance/periods/2026-Q3/corrections",
        {"reason": "视察当天已请假，假条在办公室", "entry_id": absence["id"], "points": 5},
        expect=201,
    ).json()
    applied = api(
        "staff",
        "POST",
        f"/api/performance/corrections/{asked['id']}",
        {"action": "apply", "points": 5, "reason": "请假属实，改为请假"},
        expect=200,
    ).json()
    assert applied["status"] == "applied"
    zhou = points_file(api, "cosigner", "member.zhou", period="2026-Q3")
    correction = next(e for e in zhou["entries"] if e["kind"] == "correction")
    assert correction["points"] == 5 and "请假属实" in correction["reason"] and zhou["total"] == 0
    pending = api(
        "cosigner", "POST", "/api/performance/periods/2026-Q3/corrections", {"reason": "再核对一次"}, expect=201
    ).json()
    assert api("staff", "POST", "/api/performance/periods/2026-Q3/close").status_code == 409

    service_clock.advance((published_window_days(api) + 1) * 86400)
    refused = api("cosigner", "POST", "/api/performance/periods/2026-Q3/corrections", {"reason": "还有一处"})
    assert (
        refused.status_code == 409 and "closed" in refused.json()["message"] and "refused" in refused.json()["message"]
    )
    late = api(
        "staff",
        "POST",
        f"/api/performance/corrections/{pending['id']}",
        {"action": "apply", "points": 1, "reason": "迟到的更正"},
    )
    assert late.status_code == 409 and "corrections are refused" in late.json()["message"]
    closed = api("staff", "POST", "/api/performance/periods/2026-Q3/close", expect=200).json()
    assert closed["status"] == "closed"
    assert {s["member"]: s["total"] for s in closed["standings"]}["member.zhou"] == 0
    assert points_file(api, "cosigner", "member.zhou", period="2026-Q3")["total"] == 0


def published_window_days(api) -> int:
    terms = api("staff", "GET", "/api/performance/terms", expect=200).json()
    return next(t for t in terms if t["term"] == "14")["correction_window_days"]


def test_a_changed_rulebook_applies_to_the_new_term_only_and_the_file_shows_every_event(running, service_clock):
    api = Api(*running)
    terms = {t["term"]: t for t in api("staff", "GET", "/api/performance/terms", expect=200).json()}
    assert api("member", "GET", "/api/performance/terms").status_code == 403  # rulebooks: staff, designers, operators
    assert terms["14"]["ends"] == "2026-12-31" and terms["15"]["starts"] == "2027-01-01"
    assert terms["14"]["hash"] != terms["15"]["hash"]

    body = {"kind": "plenary", "title": "全体会议", "half_days": 2, "present": ["member.zhou"]}
    old = api("staff", "POST", "/api/performance/attendance", {**body, "held_on": "2026-12-10"}, expect=201).json()
    service_clock.advance(45 * 86400)  # into January 2027: the 15th term
    new = api("staff", "POST", "/api/performance/attendance", {**body, "held_on": "2027-01-20"}, expect=201).json()
    [before] = wait_entries(api, "member.zhou", 1, event_id=old["event_id"], term="14")
    [after] = wait_entries(api, "member.zhou", 1, event_id=new["event_id"], term="15")
    assert (before["points"], before["rulebook"]["version"], before["rulebook"]["hash"]) == (
        10,
        "14.1",
        terms["14"]["hash"],
    )
    assert (after["points"], after["rulebook"]["version"], after["rulebook"]["hash"]) == (
        8,
        "15.1",
        terms["15"]["hash"],
    )

    number = api("cosigner", "POST", "/api/opinions", {**ITEM, "title": "关于新学期校车安全的建议"}, expect=201).json()[
        "number"
    ]
    [opinion] = wait_entries(api, "member.zhou", 1, subject=number, term="15")
    assert (opinion["activity"], opinion["points"], opinion["rulebook"]["term"]) == ("opinion_submitted", 6, "15")

    new_term = points_file(api, "cosigner", "member.zhou", term="15")
    assert new_term["rulebook"]["version"] == "15.1"
    for entry in new_term["entries"]:
        assert entry["event"]["event_id"] and entry["event"]["name"] and entry["event"]["occurred_at"], entry
        assert entry["rule"]["activity"] == entry["activity"] and entry["rulebook"]["term"] == "15"
    assert new_term["total"] == sum(e["points"] for e in new_term["entries"]) == 14
    old_term = points_file(api, "staff", "member.zhou", term="14")
    assert all(e["rulebook"]["term"] == "14" for e in old_term["entries"])
    assert any(e["event"] and e["event"]["event_id"] == old["event_id"] for e in old_term["entries"])

    stats = api("leader", "GET", "/api/performance/statistics?period=2027", expect=200).json()
    assert {m["member"]: m["total"] for m in stats["by_member"]}["member.zhou"] == 14
    assert {s["sector"]: s["total"] for s in stats["by_sector"]}["教育界 Education"] == 14


def test_forbidden_and_malformed_requests_are_refused(running):
    api = Api(*running)
    assert api("cosigner", "GET", "/api/performance/members/member.li/file").status_code == 403
    assert api("unit", "GET", "/api/performance/members/member.li/file").status_code == 403
    assert api("member", "GET", "/api/performance/statistics").status_code == 403
    assert (
        api(
            "member",
            "POST",
            "/api/performance/attendance",
            {"kind": "plenary", "title": "x", "held_on": "2026-03-01", "present": ["member.li"]},
        ).status_code
        == 403
    )
    bad = api(
        "staff",
        "POST",
        "/api/performance/attendance",
        {"kind": "plenary", "title": "", "held_on": "someday", "half_days": 0},
    )
    assert bad.status_code == 400
    assert {"title", "held_on", "half_days"} <= set(bad.json()["details"])
    unknown = api(
        "staff",
        "POST",
        "/api/performance/attendance",
        {"kind": "banquet", "title": "x", "held_on": "2026-03-01", "present": ["nobody.here"]},
    )
    assert unknown.status_code == 400 and "kind" in unknown.json()["details"]
    assert api("staff", "POST", "/api/performance/periods", {"period": "2026-Q5"}).status_code == 400
    members = api("member", "GET", "/api/performance/members", expect=200).json()
    assert {
        "user": "member.li",
        "name": "李明华",
        "sector": "中国民主同盟 China Democratic League",
        "terms": ["14", "15"],
    } in members
