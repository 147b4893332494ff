"""The documents the committee publishes, generated from what the running system recorded: the
year-end public notice (names masked, only published proposals listed) and the bulletin to all
members (every proposal, the units' assessment)."""

from __future__ import annotations

import pytest

from tests.support import wait_for

from .test_proposal_lifecycle import Api, answered_and_graded, submit

# The year's documents list everything the system recorded: first on the shared system.
pytestmark = pytest.mark.system("shared", first=True)


def _publish_one(api) -> str:
    number = submit(api)
    answered_and_graded(api, number, result="basically_satisfied")
    return number


def _not_filed_one(api) -> str:
    number = submit(api)
    api.complete("staff", "pre_review", number, {"eligible": True, "content_ok": False, "format_ok": True})
    api.complete(
        "committee",
        "filing_decision",
        number,
        {"decision": "not_filed", "reason_code": "no_concrete_suggestion", "convert_to": "opinion"},
    )
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
    # members see who proposed, by name (deploy/seed/members.yaml)
    assert all(p["proposers"] == ["李明华"] for p in bulletin["proposals"]), "members see who proposed"
    assert [u["unit"] for u in bulletin["assessment"]["units"]] == ["transport"]
    page = api("committee", "GET", f"/api/reports/proposals/{year}/bulletin", expect=200).text
    assert "李明华" in page and "member.li" not in page  # a proposer by their name
    assert "市交通运输局" in page and ">transport<" not in page  # a unit by its name

    refused = api("member", "GET", f"/api/reports/proposals/{year}/bulletin")
    assert refused.status_code == 403


def test_adopted_opinion_items_are_listed_with_instructions_and_submitters_masked(running):
    from .test_opinions import ITEM, PASSED, step, until_status

    api = Api(*running)
    adopted = api("member", "POST", "/api/opinions", ITEM, expect=201).json()["number"]
    by_informant = api(
        "informant", "POST", "/api/opinions", {**ITEM, "title": "关于夜市噪声扰民的情况"}, expect=201
    ).json()["number"]
    for number in (adopted, by_informant):
        step(api, "staff", number, "editing", {**PASSED, "decision": "report"})
        until_status(api, number, "reviewed")
        step(api, "leader", number, "sign-off", {"approved": True, "channels": ["city_government"]})
        until_status(api, number, "sent")
    api(
        "staff",
        "POST",
        f"/api/opinions/{adopted}/adoptions",
        {"channel": "city_government", "adopted": True, "publishable": True},
        expect=200,
    )
    api(
        "leader",
        "POST",
        f"/api/opinions/{adopted}/instructions",
        {
            "channel": "city_government",
            "level": "city",
            "leader": "某副市长",
            "text": "请住建局牵头研究，电话 13812345678",
        },
        expect=201,
    )
    api(
        "staff",
        "POST",
        f"/api/opinions/{by_informant}/adoptions",
        {"channel": "city_government", "adopted": True, "publishable": True},
        expect=200,
    )
    year = int(adopted.split("-")[1])

    public = api("staff", "GET", f"/api/reports/opinions/{year}/adopted?format=json", expect=200).json()
    assert [i["number"] for i in public["items"]] == [adopted, by_informant]
    assert public["adopted"] == 2 and public["instructed"] == 1
    first = public["items"][0]
    assert first["submitter"] == "m***" and first["adopted_by"][0]["issue"].startswith("市政府-")
    assert first["instructions"][0]["level"] == "city" and "13812345678" not in first["instructions"][0]["text"]

    members = api(
        "committee", "GET", f"/api/reports/opinions/{year}/adopted?format=json&audience=members", expect=200
    ).json()
    assert [i["submitter"] for i in members["items"]] == ["member.li", "i***"], "informants stay masked"
    page = api("leader", "GET", f"/api/reports/opinions/{year}/adopted", expect=200)
    assert page.headers["Content-Type"].startswith("text/html") and "某副市长" in page.text
    assert api("member", "GET", f"/api/reports/opinions/{year}/adopted").status_code == 403
