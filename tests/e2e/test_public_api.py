"""The public API end to end, without a token, every service its own process on the real broker:
it serves only what is published (a draft, a proposal filed but not published, a proposal whose
proposer declined, an opinion item not adopted or not marked publishable are all absent), names a proposer only with
consent (the initiator's at submission, a co-signer's when co-signing), and a resident raises a case that reaches the member serving its contact point, follows
it by its reference to its return visit (a case turned into a proposal learns the proposal's outcome,
not filed with its reason too), and is refused with 429 beyond the spam limit."""

from __future__ import annotations

import pytest
import requests

from tests.support import wait_for

from .test_micro_consultation import step as case_step
from .test_opinions import ITEM, PASSED, step as opinion_step, until_status as opinion_until
from .test_proposal_lifecycle import DRAFT, Api, answered_and_graded, file_it

# The spam limit counts every case raised from the test's address: a system of its own, so no
# other module's cases use up the allowance (and this module's cases disturb no other count).
pytestmark = pytest.mark.system("public")

ISSUE = {
    "venue": "cp_jiefang",
    "title": "小区门口路灯不亮",
    "description": "解放街道建设路路段路灯损坏两个月，夜间出行不便。",
    "resident_name": "王秀英",
    "resident_phone": "13800001111",
}


def anonymous(base, method, path, body=None):
    return requests.request(method, base + path, json=body, timeout=30)


def submitted(api, **draft):
    return api("member", "POST", "/api/proposals", {**DRAFT, **draft}, expect=201).json()["number"]


def answered(api, number, raters=("member",)):
    """Filed, answered by transport, accepted and rated: the proposal diagram then publishes it."""
    answered_and_graded(api, number, raters=raters)


def test_the_public_api_serves_only_what_is_published_and_names_only_with_consent(running):
    base, _ = running
    api = Api(*running)
    named = submitted(api, title="关于增设学校周边过街天桥的建议", publish_name=True)
    unnamed = submitted(api, title="关于延长公交末班车时间的建议")
    declined = submitted(
        api, title="关于社区食堂补贴的建议", publish_consent=False, no_publish_reason="涉及单位内部情况"
    )
    joint = submitted(api, title="关于增设社区图书角的建议", cosigners=["member.zhou"])
    confirmed = api("cosigner", "POST", f"/api/proposals/{joint}/cosign", {"publish_name": True}, expect=200).json()
    assert [(c["user"], c["publish_name"]) for c in confirmed["cosigners"]] == [("member.zhou", True)]
    for number in (named, unnamed, declined):
        answered(api, number)
    answered(api, joint, raters=("member", "cosigner"))
    filed_only = submitted(api, title="关于口袋公园建设的建议")
    file_it(api, filed_only)
    draft = submitted(api, title="关于老旧小区停车的建议", cosigners=["member.zhou"])  # waits for its co-signer
    for number in (named, unnamed, joint):
        wait_for(lambda n=number: api.status(n) == "published", timeout=90, message=f"{number} published")
    wait_for(lambda: api.status(filed_only) == "filed", timeout=60, message="the filing")

    page = anonymous(base, "GET", "/api/public/proposals?per_page=50")
    assert page.status_code == 200, page.text
    listed = {item["number"]: item for item in page.json()["items"]}
    assert set(listed) == {named, unnamed, joint} and page.json()["total"] == 3
    for hidden in (declined, filed_only, draft):
        assert anonymous(base, "GET", f"/api/public/proposals/{hidden}").status_code == 404
    assert listed[named]["proposers"] == [{"name": "李明华", "named": True}]
    assert listed[unnamed]["proposers"] == [{"name": "m***", "named": False}], "no consent: masked"
    assert listed[joint]["proposers"] == [{"name": "m***", "named": False}, {"name": "周雅琴", "named": True}]
    one = anonymous(base, "GET", f"/api/public/proposals/{named}").json()
    assert one["units"] == [{"code": "transport", "name": "市交通运输局 Municipal Transport Bureau"}]
    assert one["reply_category"] == "A" and "138****5678" in one["reply_summary"]
    text = page.text + str(one)
    assert "13812345678" not in text and "member.li" not in text and "initiator" not in text

    assert anonymous(base, "GET", "/api/public/proposals?per_page=51").status_code == 400
    second = anonymous(base, "GET", "/api/public/proposals?per_page=1&page=2").json()
    assert len(second["items"]) == 1 and second["total"] == 3

    year = int(named.split("-")[0])
    notice = anonymous(base, "GET", f"/api/public/reports/proposals/{year}/notice")
    assert notice.status_code == 200 and notice.headers["Content-Type"].startswith("application/json")
    shown = {p["number"]: p["proposers"] for p in notice.json()["proposals"]}
    assert shown == {named: ["李明华"], unnamed: ["m***"], joint: ["m***", "周雅琴"]}
    html = anonymous(base, "GET", f"/api/public/reports/proposals/{year}/notice?format=html")
    assert html.headers["Content-Type"].startswith("text/html") and named in html.text and declined not in html.text


def test_only_adopted_opinion_items_marked_publishable_are_public(running):
    base, _ = running
    api = Api(*running)
    adopted = api("member", "POST", "/api/opinions", ITEM, expect=201).json()["number"]
    rejected = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于夜市噪声扰民的情况"}, expect=201).json()[
        "number"
    ]
    kept = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于河道清淤的情况"}, expect=201).json()["number"]
    for number in (adopted, rejected, kept):
        opinion_step(api, "staff", number, "editing", {**PASSED, "decision": "report"})
        opinion_until(api, number, "reviewed")
        opinion_step(api, "leader", number, "sign-off", {"approved": True, "channels": ["city_government"]})
        opinion_until(api, number, "sent")
    api(
        "staff",
        "POST",
        f"/api/opinions/{adopted}/adoptions",
        {"channel": "city_government", "adopted": True, "publishable": True},
        expect=200,
    )
    api(
        "staff",
        "POST",
        f"/api/opinions/{rejected}/adoptions",
        {"channel": "city_government", "adopted": False, "publishable": True},
        expect=200,
    )
    api(
        "staff", "POST", f"/api/opinions/{kept}/adoptions", {"channel": "city_government", "adopted": True}, expect=200
    )  # adopted, not marked publishable
    year = int(adopted.split("-")[1])
    public = anonymous(base, "GET", f"/api/public/opinions/{year}/adopted")
    assert public.status_code == 200, public.text
    assert [i["number"] for i in public.json()["items"]] == [adopted]
    assert public.json()["items"][0]["submitter"] == "m***"
    printable = anonymous(base, "GET", f"/api/public/opinions/{year}/adopted?format=html")
    assert printable.status_code == 200 and printable.headers["Content-Type"].startswith("text/html")
    assert adopted in printable.text and kept not in printable.text and "member.li" not in printable.text
    refused = anonymous(base, "GET", f"/api/public/opinions/{year}/adopted?format=xml")
    assert refused.status_code == 400 and refused.json()["details"]["format"], refused.text
    members = api("staff", "GET", f"/api/reports/opinions/{year}/adopted?format=json&audience=members", expect=200)
    assert [i["number"] for i in members.json()["items"]] == [adopted, kept], "members see every adoption"


def test_a_resident_raises_a_case_and_follows_it_to_its_return_visit(running):
    base, _ = running
    api = Api(*running)
    raised = anonymous(base, "POST", "/api/public/consultations", ISSUE)
    assert raised.status_code == 201, raised.text
    reference, number = raised.json()["reference"], raised.json()["number"]
    assert len(reference) >= 20 and raised.json()["status"] == "registered"
    assert "王秀英" not in raised.text and "13800001111" not in raised.text

    assert api("staff", "GET", f"/api/consultations/{number}", expect=200).json()["registered_by"] == "public"
    # member.li serves the contact point (deploy/seed/venues.yaml): the case reaches them at once.
    wait_for(
        lambda: [
            n
            for n in api("member", "GET", "/api/notifications", expect=200).json()
            if n["subject"] == number and n["kind"] == "consultation.raised_at_venue"
        ],
        timeout=60,
        message="the venue's member told",
    )
    assert api("member", "GET", f"/api/consultations/{number}", expect=200).json()["venue_members"] == ["member.li"]
    case_step(api, "staff", number, "dispatch", {"dispatch_action": "dispatch", "member": "member.li"})
    case_step(api, "member", number, "take", {"accepted": True})
    case_step(api, "member", number, "decision", {"outcome": "answered", "answer": "已联系物业，本周内修复"})
    wait_for(
        lambda: anonymous(base, "GET", f"/api/public/consultations/{reference}").json()["status"] == "answered",
        timeout=60,
        message="the answer",
    )
    case_step(
        api,
        "member",
        number,
        "return-visit",
        {"reached": True, "satisfaction": "satisfied", "visit_comment": "居民表示满意"},
    )
    wait_for(
        lambda: anonymous(base, "GET", f"/api/public/consultations/{reference}").json()["status"] == "closed",
        timeout=60,
        message="the case closed",
    )
    seen = anonymous(base, "GET", f"/api/public/consultations/{reference}").json()
    assert (
        seen["return_visit_done"] and seen["satisfaction"] == "satisfied" and seen["answer"] == "已联系物业，本周内修复"
    )
    assert anonymous(base, "GET", f"/api/public/consultations/{number}").status_code == 404, "numbers are guessable"
    assert anonymous(base, "POST", "/api/public/consultations", {**ISSUE, "title": ""}).status_code == 400
    assert anonymous(base, "POST", "/api/public/consultations", {**ISSUE, "venue": "nowhere"}).status_code == 400


def test_a_case_turned_into_a_proposal_waits_for_its_answer_then_gets_its_return_visit(running):
    base, _ = running
    api = Api(*running)
    raised = anonymous(base, "POST", "/api/public/consultations", {**ISSUE, "title": "社区缺少老年食堂"})
    assert raised.status_code == 201, raised.text
    reference, number = raised.json()["reference"], raised.json()["number"]
    case_step(api, "staff", number, "dispatch", {"dispatch_action": "dispatch", "member": "member.li"})
    case_step(api, "member", number, "take", {"accepted": True})
    case_step(
        api,
        "member",
        number,
        "decision",
        {
            "outcome": "proposal",
            "analysis": "辖区老年人口占比高，就餐难。",
            "suggestion": "由民政部门统筹建设社区老年食堂。",
        },
    )

    def public_view():
        return anonymous(base, "GET", f"/api/public/consultations/{reference}").json()

    wait_for(lambda: public_view()["status"] == "converted", timeout=60, message="the conversion")
    proposal = public_view()["converted_number"]
    assert public_view()["converted_kind"] == "proposal" and not public_view()["return_visit_done"]
    answered(api, proposal)
    wait_for(
        lambda: public_view()["status"] == "return_visit",
        timeout=90,
        message="the proposal's outcome reaching the case",
    )
    case_step(api, "member", number, "return-visit", {"reached": True, "satisfaction": "basically_satisfied"})
    wait_for(lambda: public_view()["status"] == "closed", timeout=60, message="the case closed")
    assert public_view()["return_visit_done"] and public_view()["satisfaction"] == "basically_satisfied"
    history = [h["action"] for h in api("staff", "GET", f"/api/consultations/{number}", expect=200).json()["history"]]
    assert history[-4:] == ["converted", "converted_outcome", "return_visit", "closed"], history


def test_a_case_whose_proposal_is_not_filed_learns_it_with_the_reason_instead_of_waiting(running):
    base, _ = running
    api = Api(*running)
    raised = anonymous(base, "POST", "/api/public/consultations", {**ISSUE, "title": "小区广场舞噪音扰民"})
    assert raised.status_code == 201, raised.text
    reference, number = raised.json()["reference"], raised.json()["number"]
    case_step(api, "staff", number, "dispatch", {"dispatch_action": "dispatch", "member": "member.li"})
    case_step(api, "member", number, "take", {"accepted": True})
    case_step(
        api,
        "member",
        number,
        "decision",
        {"outcome": "proposal", "analysis": "广场紧邻住宅楼。", "suggestion": "划定活动时段。"},
    )

    def public_view():
        return anonymous(base, "GET", f"/api/public/consultations/{reference}").json()

    wait_for(lambda: public_view()["status"] == "converted", timeout=60, message="the conversion")
    proposal = public_view()["converted_number"]
    assert public_view()["converted_outcome"] is None
    api.complete("staff", "pre_review", proposal, {"eligible": True, "content_ok": True, "format_ok": True})
    api.complete(
        "committee",
        "filing_decision",
        proposal,
        {"decision": "not_filed", "reason_code": "personal_or_family", "convert_to": "none"},
    )
    wait_for(
        lambda: public_view()["status"] == "return_visit",
        timeout=90,
        message="the proposal's filing decision reaching the case",
    )
    told = {"kind": "proposal", "number": proposal, "status": "not_filed", "reason": "不予立案：属于个人或家庭问题的"}
    assert public_view()["converted_outcome"] == told
    seen = api("staff", "GET", f"/api/consultations/{number}", expect=200).json()
    assert seen["converted_outcome"] == told and seen["status"] == "return_visit"
    assert [h["action"] for h in seen["history"]][-2:] == ["converted", "converted_outcome"]
    wait_for(
        lambda: [
            n
            for n in api("member", "GET", "/api/notifications", expect=200).json()
            if n["subject"] == number and "不予立案：属于个人或家庭问题的" in n["text"]
        ],
        timeout=60,
        message="the member asked for the return visit, told why",
    )


def test_the_spam_limit_refuses_a_client_address_with_429_and_a_message(running, e2e_settings):
    base, _ = running
    limit = e2e_settings.public_cases_per_address
    answers = [
        anonymous(base, "POST", "/api/public/consultations", {**ISSUE, "title": f"噪声扰民 {i}"})
        for i in range(limit + 1)
    ]
    codes = [a.status_code for a in answers]
    # Earlier tests of this module raised cases from the same address: they count too.
    assert set(codes) == {201, 429} and codes.index(429) == codes.count(201) <= limit, codes
    refused = answers[-1]
    assert refused.status_code == 429, codes
    body = refused.json()
    assert body["error"] == "too_many_requests" and "try again" in body["message"]
    assert body["details"]["scope"] == "address" and body["details"]["retry_after_seconds"] > 0
    assert refused.headers["Retry-After"] == str(body["details"]["retry_after_seconds"])
