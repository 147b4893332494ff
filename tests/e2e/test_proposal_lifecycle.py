"""Proposals end to end through the HTTP API, every service its own process on the real broker:
members, staff, the committee and units acting as they would."""

from __future__ import annotations

from tests.support import wait_for

from .conftest import call

DRAFT = {
    "kind": "between_sessions",
    "title": "在学校周边设置安全过街设施",
    "situation": "城区多所小学门前缺少信号灯和过街天桥，上下学高峰人车混行。",
    "analysis": "交通流量逐年增加，现有设施未随学校扩招同步改造。",
    "suggestions": "一、在学校门前增设信号灯；二、高峰时段安排交通协管；三、设置限速标志。",
    "publish_consent": True,
}


class Api:
    def __init__(self, base, tokens):
        self.base, self.tokens = base, tokens

    def __call__(self, who, method, path, body=None, expect=None):
        response = call(self.base, self.tokens[who], method, path, body)
        if expect is not None:
            assert response.status_code == expect, f"{who} {method} {path}: {response.status_code} {response.text}"
        return response

    def task(self, who, name, number):
        def find():
            tasks = self(who, "GET", f"/api/tasks?business_key={number}", expect=200).json()["items"]
            return [t for t in tasks if t["task"] == name]

        return wait_for(find, timeout=60, message=f"task {name} for {number}")[0]

    def complete(self, who, name, number, data):
        task = self.task(who, name, number)
        return self(who, "POST", f"/api/tasks/{task['task_id']}/complete", {"data": data}, expect=200)

    def status(self, number):
        return self("staff", "GET", f"/api/proposals/{number}", expect=200).json()["status"]

    def assignment(self, who, number):
        def find():
            # the proposal's assignments, oldest first (the list answers newest first)
            return self(who, "GET", f"/api/assignments?number={number}", expect=200).json()["items"][::-1]

        rows = wait_for(find, timeout=60, message=f"{who}'s assignment for {number}")
        return rows[0]


def submit(api, cosigners=()):
    response = api("member", "POST", "/api/proposals", {**DRAFT, "cosigners": list(cosigners)}, expect=201)
    return response.json()["number"]


def file_it(api, number):
    api.complete("staff", "pre_review", number, {"eligible": True, "content_ok": True, "format_ok": True})
    api.complete("committee", "filing_decision", number, {"decision": "filed"})


def assigned_to_transport(api, number, sign=False):
    """Filed and assigned to transport alone: transport's assignment (signed for, with ``sign``)."""
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    if sign:
        api("unit", "POST", f"/api/assignments/{mine['id']}/sign", expect=200)
    return mine


def answered_and_graded(api, number, result="satisfied", raters=("member",)):
    """Filed, answered A by transport, accepted, rated by each of ``raters`` (handling satisfied,
    ``result`` as given) and graded: the proposal diagram then publishes it."""
    lead = assigned_to_transport(api, number, sign=True)
    api(
        "unit",
        "POST",
        f"/api/assignments/{lead['id']}/reply-draft",
        {"category": "A", "text": "已增设信号灯，联系电话 13812345678。"},
        expect=200,
    )
    api("unit", "POST", f"/api/assignments/{lead['id']}/reply", expect=200)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    for rater in raters:
        wait_for(
            lambda rater=rater: (
                api(
                    rater, "POST", f"/api/proposals/{number}/ratings", {"handling": "satisfied", "result": result}
                ).status_code
                == 201
            ),
            timeout=60,
            message=f"the rating of {rater} to be accepted",
        )
    api.complete("committee", "grade_quality", number, {"grade": "good"})


def test_joint_proposal_filed_assigned_lead_and_co_unit_answered_a_rated_and_published(running):
    api = Api(*running)
    number = submit(api, cosigners=["member.zhou"])
    api("cosigner", "POST", f"/api/proposals/{number}/cosign", expect=200)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "lead_co", "lead": "transport", "co_units": ["education"]})

    lead = api.assignment("unit", number)
    co = api.assignment("co_unit", number)
    assert lead["unit"] == "transport" and co["unit"] == "education"
    api("unit", "POST", f"/api/assignments/{lead['id']}/sign", expect=200)
    api("co_unit", "POST", f"/api/assignments/{co['id']}/sign", expect=200)
    api("co_unit", "POST", f"/api/assignments/{co['id']}/input", {"text": "教育局将配合开展安全教育"}, expect=200)
    api(
        "unit",
        "POST",
        f"/api/assignments/{lead['id']}/reply-draft",
        {"category": "A", "text": "已在三所小学门前增设信号灯并安排协管。"},
        expect=200,
    )
    refused = api("unit", "POST", f"/api/assignments/{lead['id']}/reply")
    assert refused.status_code == 409, "a reply went out before the co-unit co-signed it"
    api("co_unit", "POST", f"/api/assignments/{co['id']}/cosign-reply", expect=200)
    api("unit", "POST", f"/api/assignments/{lead['id']}/reply", expect=200)

    api.complete("staff", "review_reply", number, {"action": "accept"})
    for who in ("member", "cosigner"):
        wait_for(
            lambda who=who: (
                api(
                    who, "POST", f"/api/proposals/{number}/ratings", {"handling": "satisfied", "result": "satisfied"}
                ).status_code
                == 201
            ),
            timeout=60,
            message=f"{who}'s rating to be accepted",
        )
    api.complete("committee", "grade_quality", number, {"grade": "good"})
    wait_for(lambda: api.status(number) == "published", timeout=60, message="publication")

    deadlines = api("unit", "GET", f"/api/proposals/{number}/deadlines", expect=200).json()["deadlines"]
    assert {d["rule"] for d in deadlines} >= {"sign_for_limit", "reply_deadline"}
    published = api("member", "GET", f"/api/proposals/{number}", expect=200).json()
    assert published["status"] == "published"


def test_not_filed_proposal_records_its_reason_and_is_converted_to_an_opinion_item(running):
    api = Api(*running)
    number = submit(api)
    api.complete("staff", "pre_review", number, {"eligible": True, "content_ok": False, "format_ok": True})
    bad = api("committee", "GET", f"/api/tasks?business_key={number}", expect=200).json()["items"]
    task = [t for t in bad if t["task"] == "filing_decision"]
    task = task[0] if task else api.task("committee", "filing_decision", number)
    unknown = api(
        "committee",
        "POST",
        f"/api/tasks/{task['task_id']}/complete",
        {"data": {"decision": "not_filed", "reason_code": "too_long"}},
    )
    assert unknown.status_code == 400 and "reason_code" in unknown.json()["details"]
    api(
        "committee",
        "POST",
        f"/api/tasks/{task['task_id']}/complete",
        {"data": {"decision": "not_filed", "reason_code": "no_concrete_suggestion", "convert_to": "opinion"}},
        expect=200,
    )
    wait_for(lambda: api.status(number) == "not_filed", timeout=60, message="the filing record")
    filing = api("member", "GET", f"/api/proposals/{number}", expect=200).json()["filing"]
    assert filing["reason_code"] == "no_concrete_suggestion" and filing["decided_by"] == "committee.liu"
    assert filing["reason_text"]
    assert filing["converted_to"]["kind"] == "opinion"


def test_forbidden_actions_are_refused_and_change_nothing(running):
    api = Api(*running)
    number = submit(api)
    # A member cannot take the committee's filing decision.
    file_it_task = api.task("staff", "pre_review", number)
    assert (
        api(
            "member",
            "POST",
            f"/api/tasks/{file_it_task['task_id']}/complete",
            {"data": {"eligible": True, "content_ok": True, "format_ok": True}},
        ).status_code
        == 403
    )
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    # Another unit's assignment: not listed, and not to be signed.
    assert api("co_unit", "GET", f"/api/assignments?number={number}", expect=200).json()["items"] == []
    assert api("co_unit", "POST", f"/api/assignments/{mine['id']}/sign").status_code == 403
    assert api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["status"] == "assigned"
    # Rating someone else's proposal.
    assert api(
        "cosigner", "POST", f"/api/proposals/{number}/ratings", {"handling": "unsatisfied", "result": "unsatisfied"}
    ).status_code in (403, 404)
    # Staff may not submit proposals; a member may not read another member's unpublished one.
    assert api("staff", "POST", "/api/proposals", DRAFT).status_code == 403
    assert api("cosigner", "GET", f"/api/proposals/{number}").status_code == 404


def test_malformed_input_is_refused_field_by_field(running):
    api = Api(*running)
    before = api("member", "GET", "/api/proposals?mine=true", expect=200).json()["total"]
    response = api("member", "POST", "/api/proposals", {"kind": "whenever", "title": "", "publish_consent": "yes"})
    assert response.status_code == 400
    details = response.json()["details"]
    assert {"kind", "situation", "analysis", "suggestions"} <= set(details)
    assert api("member", "GET", "/api/proposals?mine=true", expect=200).json()["total"] == before


def notices(api, who, number):
    return {n["kind"] for n in api(who, "GET", "/api/notifications", expect=200).json() if n["subject"] == number}


def test_proposers_follow_their_proposal_read_the_reply_they_rate_and_are_told_each_step(running):
    api = Api(*running)
    number = submit(api, cosigners=["member.zhou"])
    api("cosigner", "POST", f"/api/proposals/{number}/cosign", expect=200)
    file_it(api, number)
    for who in ("member", "cosigner"):  # the filing notice rides on proposal.filed
        wait_for(
            lambda who=who: "filing_decision" in notices(api, who, number),
            timeout=60,
            message=f"{who}'s filing notice",
        )
    api.complete("staff", "assign", number, {"mode": "lead_co", "lead": "transport", "co_units": ["education"]})
    wait_for(lambda: api.status(number) == "assigned", timeout=60, message="status assigned")
    wait_for(lambda: "proposal_assigned" in notices(api, "member", number), timeout=60, message="assigned notice")

    lead, co = api.assignment("unit", number), api.assignment("co_unit", number)
    api("unit", "POST", f"/api/assignments/{lead['id']}/sign", expect=200)
    api("co_unit", "POST", f"/api/assignments/{co['id']}/sign", expect=200)
    api("co_unit", "POST", f"/api/assignments/{co['id']}/input", {"text": "教育局将配合开展安全教育"}, expect=200)
    api(
        "unit",
        "POST",
        f"/api/assignments/{lead['id']}/reply-draft",
        {"category": "A", "text": "已在三所小学门前增设信号灯并安排协管。"},
        expect=200,
    )
    # Before staff accept it, the proposer reads no reply (a draft is never shown).
    assert api("member", "GET", f"/api/proposals/{number}/reply", expect=200).json()["rounds"] == []
    api("co_unit", "POST", f"/api/assignments/{co['id']}/cosign-reply", expect=200)
    api("unit", "POST", f"/api/assignments/{lead['id']}/reply", expect=200)
    wait_for(lambda: api.status(number) == "replied", timeout=60, message="status replied")
    assert api("member", "GET", f"/api/proposals/{number}/reply", expect=200).json()["rounds"] == []

    api.complete("staff", "review_reply", number, {"action": "accept"})
    wait_for(lambda: api.status(number) == "rating", timeout=60, message="status rating")
    for who in ("member", "cosigner"):
        wait_for(
            lambda who=who: {"reply_accepted", "rating_opened"} <= notices(api, who, number),
            timeout=60,
            message=f"{who}'s notices of the accepted reply and the rating",
        )
        reply = api(who, "GET", f"/api/proposals/{number}/reply", expect=200).json()
        assert reply["answered_by"] == number
        assert {(u["unit"], u["role"]) for u in reply["units"]} == {("transport", "lead"), ("education", "co")}
        (first,) = reply["rounds"]
        assert first["replies"] == [
            {
                "unit": "transport",
                "role": "lead",
                "category": "A",
                "text": "已在三所小学门前增设信号灯并安排协管。",
                "submitted_at": first["replies"][0]["submitted_at"],
            }
        ]
        assert [i["text"] for i in first["co_unit_input"]] == ["教育局将配合开展安全教育"]
    # Nobody else reads it: another member, a unit, the public.
    assert api("role:member", "GET", f"/api/proposals/{number}/reply").status_code == 404
    assert api("unit", "GET", f"/api/proposals/{number}/reply").status_code == 403
    assert api("public", "GET", f"/api/proposals/{number}/reply").status_code == 403
    assert api("staff", "GET", f"/api/proposals/{number}/reply", expect=200).json()["rounds"]

    for who in ("member", "cosigner"):
        wait_for(
            lambda who=who: (
                api(
                    who, "POST", f"/api/proposals/{number}/ratings", {"handling": "satisfied", "result": "satisfied"}
                ).status_code
                == 201
            ),
            timeout=60,
            message=f"{who}'s rating to be accepted",
        )
    api.complete("committee", "grade_quality", number, {"grade": "good"})
    wait_for(lambda: api.status(number) == "published", timeout=60, message="publication")
    wait_for(lambda: "published" in notices(api, "member", number), timeout=60, message="published notice")
