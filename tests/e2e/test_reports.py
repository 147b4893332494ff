"""The documents the committee publishes, generated from what the running system recorded: the
year-end public notice (names masked, only published proposals listed) and the bulletin to all
members (every proposal, the units' assessment)."""
from __future__ import annotations

from tests.support import wait_for

from .test_proposal_lifecycle import Api, file_it, submit


def _publish_one(api) -> str:
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    lead = api.assignment("unit", number)
    api("unit", "POST", f"/api/assignments/{lead['id']}/sign", expect=200)
    api("unit", "POST", f"/api/assignments/{lead['id']}/reply-draft",
        {"category": "A", "text": "已增设信号灯，联系电话 13812345678。"}, expect=200)
    api("unit", "POST", f"/api/assignments/{lead['id']}/reply", expect=200)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    wait_for(lambda: api("member", "POST", f"/api/proposals/{number}/ratings",
                         {"handling": "satisfied", "result": "basically_satisfied"}).status_code == 201,
             timeout=60, message="the rating to be accepted")
    api.complete("committee", "grade_quality", number, {"grade": "good"})
    return number


def _not_filed_one(api) -> str:
    number = submit(api)
    api.complete("staff", "pre_review", number, {"eligible": True, "content_ok": False, "format_ok": True})
    api.complete("committee", "filing_decision", number,
                 {"decision": "not_filed", "reason_code": "no_concrete_suggestion", "convert_to": "opinion"})
    wait_for(lambda: api.status(number) == "not_filed", timeout=60, message="the filing record")
    return number


def test_year_end_notice_and_bulletin_are_generated_from_the_records_with_names_masked(running):
    api = Api(*running)
    published = _publish_one(api)
    not_filed = _not_filed_one(api)
    year = int(published.split("-")[0])
    wait_for(lambda: api.status(published) == "published", timeout=60, message="publication")

    notice = api("staff", "GET", f"/api/reports/proposals/{year}/notice?format=json", expect=200).json()
    assert notice["received"] == 2 and notice["filed"] == 1 and notice["not_filed"] == 1
    assert notice["converted"]["opinion"] == 1
    assert [r["code"] for r in notice["not_filed_reasons"]] == ["no_concrete_suggestion"]
    assert {c["code"]: c["count"] for c in notice["categories"]}["A"] == 1
    assert notice["lead_units"] == [{"unit": "transport", "count": 1}]
    assert [p["number"] for p in notice["proposals"]] == [published], "the public notice lists published ones only"
    assert notice["proposals"][0]["proposers"] == ["m***"], "names are masked in the public notice"
    assert "13812345678" not in str(notice) and "138****5678" in notice["proposals"][0]["reply_summary"]

    html = api("leader", "GET", f"/api/reports/proposals/{year}/notice", expect=200)
    assert html.headers["Content-Type"].startswith("text/html")
    assert published in html.text and not_filed not in html.text and "member.li" not in html.text

    bulletin = api("committee", "GET", f"/api/reports/proposals/{year}/bulletin?format=json", expect=200).json()
    assert {p["number"] for p in bulletin["proposals"]} == {published, not_filed}
    assert all(p["proposers"] == ["member.li"] for p in bulletin["proposals"]), "members see who proposed"
    assert [u["unit"] for u in bulletin["assessment"]["units"]] == ["transport"]
    page = api("committee", "GET", f"/api/reports/proposals/{year}/bulletin", expect=200).text
    assert "member.li" in page and "transport" in page

    refused = api("member", "GET", f"/api/reports/proposals/{year}/bulletin")
    assert refused.status_code == 403
