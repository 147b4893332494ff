"""The 1533 model end to end, every service its own process on the real broker: the five areas of
proposals and opinion items (given at submission, set by staff at filing and later, counted by area
in the report and the year-end bulletin) and a proposal graded on the quality checklist of three
standards, the grade computed by the rulebook's thresholds and kept with its checklist."""

from __future__ import annotations

from tests.support import wait_for

from .test_opinions import ITEM
from .test_proposal_lifecycle import DRAFT, Api, assigned_to_transport

CHECKLIST = [
    "central_task",
    "public_concern",
    "timely_topic",
    "thorough_research",
    "sound_analysis",
    "feasible_suggestions",
    "consensus",
    "adopted",
    "public_response",
]


def areas_report(api, year):
    return {a["code"]: a for a in api("staff", "GET", f"/api/reports/areas?year={year}", expect=200).json()["areas"]}


def test_areas_are_given_at_submission_set_by_staff_and_counted_by_area(running):
    api = Api(*running)
    refused = api("member", "POST", "/api/proposals", {**DRAFT, "area": "sports"}, expect=400).json()
    assert "area" in refused["details"]
    proposal = api("member", "POST", "/api/proposals", {**DRAFT, "area": "society"}, expect=201).json()
    number, year = proposal["number"], proposal["year"]
    before = areas_report(api, year)
    assert proposal["area"] == "society"
    # staff change it at filing: the filing decision form takes the area
    api.complete("staff", "pre_review", number, {"eligible": True, "content_ok": True, "format_ok": True})
    api.complete("committee", "filing_decision", number, {"decision": "filed", "area": "ecology"})
    wait_for(
        lambda: api("staff", "GET", f"/api/proposals/{number}", expect=200).json()["area"] == "ecology",
        timeout=60,
        message="the area set at filing",
    )
    after = areas_report(api, year)
    assert after["ecology"]["proposals"] == before["ecology"]["proposals"] + 1
    assert after["ecology"]["filed"] == before["ecology"]["filed"] + 1
    assert after["society"]["proposals"] == before["society"]["proposals"] - 1
    # and later, when editing
    api("member", "PUT", f"/api/proposals/{number}/area", {"area": "economy"}, expect=403)
    api("staff", "PUT", f"/api/proposals/{number}/area", {"area": "moon"}, expect=400)
    changed = api("staff", "PUT", f"/api/proposals/{number}/area", {"area": "economy"}, expect=200).json()
    assert (changed["area"], changed["was"]) == ("economy", "ecology")
    assert areas_report(api, year)["economy"]["filed"] == after["economy"]["filed"] + 1

    item = api("member", "POST", "/api/opinions", {**ITEM, "area": "culture"}, expect=201).json()
    assert item["area"] == "culture"
    api("staff", "PUT", f"/api/opinions/{item['number']}/area", {"area": "politics"}, expect=200)
    assert api("staff", "GET", f"/api/opinions/{item['number']}", expect=200).json()["area"] == "politics"
    report = api("leader", "GET", f"/api/reports/areas?year={year}", expect=200).json()
    assert [a["label"] for a in report["areas"]] == ["经济", "政治", "文化", "社会", "生态文明"]
    assert {a["code"]: a["opinions"] for a in report["areas"]}["politics"] >= 1
    api("member", "GET", f"/api/reports/areas?year={year}", expect=403)
    api("staff", "GET", "/api/reports/areas?year=soon", expect=400)
    bulletin = api("staff", "GET", f"/api/reports/proposals/{year}/bulletin?format=json", expect=200).json()
    assert {a["code"]: a["filed"] for a in bulletin["areas"]["areas"]} == {
        a["code"]: a["filed"] for a in report["areas"]
    }
    printed = api("staff", "GET", f"/api/reports/proposals/{year}/bulletin", expect=200).text
    assert "领域 Area (1533)" in printed and "生态文明" in printed


def test_the_committee_grades_on_the_checklist_and_the_grade_is_computed_and_shown(running):
    api = Api(*running)
    number = api("member", "POST", "/api/proposals", DRAFT, expect=201).json()["number"]
    lead = assigned_to_transport(api, number, sign=True)
    api(
        "unit",
        "POST",
        f"/api/assignments/{lead['id']}/reply-draft",
        {"category": "A", "text": "已增设信号灯。"},
        expect=200,
    )
    api("unit", "POST", f"/api/assignments/{lead['id']}/reply", expect=200)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    wait_for(
        lambda: (
            api(
                "member", "POST", f"/api/proposals/{number}/ratings", {"handling": "satisfied", "result": "satisfied"}
            ).status_code
            == 201
        ),
        timeout=60,
        message="the rating to be accepted",
    )
    task = api.task("committee", "grade_quality", number)
    bad = api(
        "committee",
        "POST",
        f"/api/tasks/{task['task_id']}/complete",
        {"data": {"quality_checklist": ["charisma"]}},
        expect=400,
    ).json()
    assert "quality_checklist" in str(bad)
    api.complete("committee", "grade_quality", number, {"quality_checklist": CHECKLIST})
    graded = wait_for(
        lambda: (r := api("leader", "GET", f"/api/proposals/{number}/quality")).status_code == 200 and r.json(),
        timeout=60,
        message="the grade",
    )
    assert (graded["grade"], graded["grade_zh"], graded["points"]) == ("excellent", "优秀提案", 100)
    assert [s["zh"] for s in graded["checklist"]["standards"]] == ["服务中心有为", "建言资政有力", "凝聚共识有效"]
    assert all(item["met"] for s in graded["checklist"]["standards"] for item in s["items"])
    api("member", "GET", f"/api/proposals/{number}/quality", expect=403)

    def entries():
        rows = api("staff", "GET", "/api/performance/members/member.li/file", expect=200).json()["entries"]
        return [
            e
            for e in rows
            if (e["event"] or {}).get("subject") == number and e["activity"] == "excellent_proposal_lead"
        ]

    [entry] = wait_for(entries, timeout=60, message="the excellent proposal's points")
    assert entry["points"] == 10
