"""The proposal's other paths end to end: objection and reassignment, re-handling after 不满意,
B follow-up, merged near-duplicates, and bad unit commands over AMQP (key proposals: test_key_proposals.py) — every
service its own process. Deadlines are in test_deadlines.py."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

from shared import contracts
from shared.calendar import CHINA_TZ
from tests.support import get_messages, publish, wait_for

from .test_proposal_lifecycle import DRAFT, Api, file_it, submit

RATE_OK = {"handling": "satisfied", "result": "satisfied"}


PROMISE = [{"what": "完成改造", "due": (date.today() + timedelta(days=120)).isoformat()}]


def reply(api, number, who="unit", category="A", text="已办理完毕。"):
    mine = api.assignment(who, number)
    if mine["status"] == "assigned":
        api(who, "POST", f"/api/assignments/{mine['id']}/sign", expect=200)
    draft = {"category": category, "text": text, **({"milestones": PROMISE} if category == "B" else {})}
    api(who, "POST", f"/api/assignments/{mine['id']}/reply-draft", draft, expect=200)
    api(who, "POST", f"/api/assignments/{mine['id']}/reply", expect=200)
    return mine


def rate(api, number, who="member", scores=RATE_OK):
    wait_for(
        lambda: api(who, "POST", f"/api/proposals/{number}/ratings", scores).status_code == 201,
        timeout=60,
        message=f"{who}'s rating",
    )


def finish(api, number):
    api.complete("committee", "grade_quality", number, {"grade": "good"})
    wait_for(lambda: api.status(number) == "published", timeout=60, message="publication")


def test_a_unit_objects_within_the_window_and_staff_reassign(running):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["education"]})
    wrong = api.assignment("co_unit", number)
    api("co_unit", "POST", f"/api/assignments/{wrong['id']}/object", {"reason": "属交通部门职责"}, expect=200)
    api.complete("staff", "reassign", number, {"mode": "single", "units": ["transport"]})
    right = api.assignment("unit", number)
    assert right["unit"] == "transport"
    objected = api("co_unit", "GET", f"/api/assignments/{wrong['id']}", expect=200).json()
    assert objected["status"] == "cancelled"
    assert objected["objection"]["decision"]["outcome"] == "reassigned"
    assert objected["objection"]["decision"]["by"] == "staff.wang"
    assert objected["objection"]["decision"]["assigned_to"] == ["transport"]
    reply(api, number)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number)
    finish(api, number)


def test_unsatisfied_proposer_sends_it_back_and_rates_the_second_reply(running):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    reply(api, number, category="C", text="条件不具备，留作参考。")
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number, scores={"handling": "basically_satisfied", "result": "unsatisfied"})

    second = wait_for(
        lambda: (lambda a: a if a["round"] == 2 else None)(api.assignment("unit", number)),
        timeout=60,
        message="the re-handling round",
    )
    assert second["status"] in ("signed", "assigned")
    reply(api, number, category="A", text="重新办理：已增设信号灯。")
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number)
    finish(api, number)
    rounds = api("member", "GET", f"/api/proposals/{number}/ratings", expect=200).json()["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert rounds[0]["ratings"][0]["result"] == "unsatisfied" and rounds[1]["ratings"][0]["result"] == "satisfied"


def test_b_reply_is_followed_up_with_a_second_reply(running):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = reply(api, number, category="B", text="已列入明年计划。")
    early = api("unit", "POST", f"/api/assignments/{mine['id']}/followup", {"text": "too early"})
    assert early.status_code == 200  # the reply is submitted: the unit may report as soon as it is solved
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number)
    finish(api, number)  # published without waiting: the early follow-up waited for the diagram
    wait_for(
        lambda: (
            (api("public", "GET", f"/api/public/proposals/{number}").json() or {}).get("followup_status") == "received"
        ),
        timeout=60,
        message="the follow-up in the published record",
    )


def test_a_face_to_face_meeting_recorded_before_the_reply_earns_the_checklists_points(running):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    api("unit", "POST", f"/api/assignments/{mine['id']}/sign", expect=200)
    # The day of the assignment in China (the services' clock may run ahead of this machine's).
    met_on = datetime.fromisoformat(mine["assigned_at"]).astimezone(CHINA_TZ).date().isoformat()
    contacts = f"/api/assignments/{mine['id']}/contacts"
    meeting = {"kind": "face_to_face", "held_on": met_on, "participants": "交通局王处长与提案人", "note": "现场查看"}
    refused = api("unit", "POST", contacts, {**meeting, "kind": "pigeon"}, expect=400).json()
    assert "kind" in refused["details"]
    api("co_unit", "POST", contacts, meeting, expect=403)  # another unit's assignment
    recorded = api("unit", "POST", contacts, meeting, expect=201).json()
    assert (recorded["kind"], recorded["face_to_face"]) == ("face_to_face", True)
    listed = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["contacts"]
    assert [c["id"] for c in listed] == [recorded["id"]]
    reply(api, number)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number)
    instance = api.task("committee", "grade_quality", number)["instance_id"]  # waits for the score
    [score] = api("staff", "GET", f"/api/instances/{instance}", expect=200).json()["data"]["handling_score"]["units"]
    [item] = [i for i in score["items"] if i["item"] == "face_to_face"]
    assert item["points"] == item["max"] == 20, item
    assert item["why"] == "the unit met the proposer face to face: all points"
    finish(api, number)


# Units no other test on the shared system assigns to, so their assessment is this test's alone.
SCORED_UNITS = {
    unit: {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}
    for unit in ("water", "civil_affairs", "emergency")
}


def handling_scores(api, number):
    """Each unit's (role, total) once the proposal waits for its quality grade (after scoring)."""
    instance = api.task("committee", "grade_quality", number)["instance_id"]
    scored = api("staff", "GET", f"/api/instances/{instance}", expect=200).json()["data"]["handling_score"]
    return {u["unit"]: (u["role"], u["total"]) for u in scored["units"]}


def test_each_unit_of_a_split_proposal_and_a_co_unit_get_their_own_score_and_assessment(running, e2e_settings):
    from services.launcher import issue_tokens

    base, tokens = running
    api = Api(base, {**tokens, **issue_tokens(e2e_settings, SCORED_UNITS, "e2e scored units", hours=24)})

    # 分办: water and civil_affairs each answer for their part; water met the proposer, civil_affairs did not.
    split = submit(api)
    file_it(api, split)
    api.complete("staff", "assign", split, {"mode": "several", "units": ["water", "civil_affairs"]})
    water = api.assignment("water", split)
    api("water", "POST", f"/api/assignments/{water['id']}/sign", expect=200)
    met_on = datetime.fromisoformat(water["assigned_at"]).astimezone(CHINA_TZ).date().isoformat()
    meeting = {"kind": "face_to_face", "held_on": met_on, "participants": "水利局与提案人", "note": "现场查看"}
    api("water", "POST", f"/api/assignments/{water['id']}/contacts", meeting, expect=201)
    reply(api, split, who="water", category="A", text="已完成排水改造。")
    reply(api, split, who="civil_affairs", category="C", text="条件不具备，留作参考。")
    api.complete("staff", "review_reply", split, {"action": "accept"})
    rate(api, split)
    # water: every point; civil_affairs: no meeting (0 of 20), C rated satisfied ((1/2 + 1) / 2 of 40)
    assert handling_scores(api, split) == {"water": ("answering", 120), "civil_affairs": ("answering", 90)}
    finish(api, split)

    # 主办 + 协办: water leads, emergency helps with its input on time and co-signs.
    led = submit(api)
    file_it(api, led)
    api.complete("staff", "assign", led, {"mode": "lead_co", "lead": "water", "co_units": ["emergency"]})
    lead, co = api.assignment("water", led), api.assignment("emergency", led)
    api("water", "POST", f"/api/assignments/{lead['id']}/sign", expect=200)
    api("emergency", "POST", f"/api/assignments/{co['id']}/sign", expect=200)
    api("emergency", "POST", f"/api/assignments/{co['id']}/input", {"text": "应急局将配合开展排查"}, expect=200)

    def input_met():
        answer = api("staff", "GET", f"/api/proposals/{led}/deadlines")
        if answer.status_code == 404:  # supervision has not opened the clocks of the assignment yet
            return False
        assert answer.status_code == 200, answer.text
        return any(d["rule"] == "co_unit_input" and d["status"] == "met" for d in answer.json()["deadlines"])

    wait_for(input_met, timeout=60, message="supervision to hear the co-unit's input")
    api(
        "water", "POST", f"/api/assignments/{lead['id']}/reply-draft", {"category": "A", "text": "已完成。"}, expect=200
    )
    api("emergency", "POST", f"/api/assignments/{co['id']}/cosign-reply", expect=200)
    api("water", "POST", f"/api/assignments/{lead['id']}/reply", expect=200)
    api.complete("staff", "review_reply", led, {"action": "accept"})
    rate(api, led)
    # water without a meeting this time: 100; emergency on the co-unit checklist: signed and input on time
    assert handling_scores(api, led) == {"water": ("answering", 100), "emergency": ("co", 40)}
    finish(api, led)

    year = int(split.split("-")[0])
    exported = api("staff", "GET", f"/api/assessments/units/{year}/export?format=csv", expect=200)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    figures = {
        row["承办单位 Unit"]: (
            row["办理件数 Proposals"],
            row["办理评分 Handling score"],
            row["协办件数 As co-unit"],
            row["协办评分 Co-unit score"],
            row["考核得分 Score"],
        )
        for row in rows
        if row["承办单位 Unit"] in SCORED_UNITS
    }
    # water: 0.6 x 220/240 + 0.2 x 1 + 0.2 x 1 (every rating satisfied); civil_affairs: 0.6 x 90/120 + 0.4;
    # emergency, not rated (the ratings are of the lead's reply): (0.6 x 40/40 + 0.2 x 1) / 0.8
    assert figures == {
        "water": ("2", "110.0", "0", "", "95.0"),
        "civil_affairs": ("1", "90.0", "0", "", "85.0"),
        "emergency": ("0", "", "1", "40.0", "100.0"),
    }


def test_near_duplicates_are_found_merged_and_each_answered(running):
    api = Api(*running)
    first = submit(api)
    file_it(api, first)
    second = api("cosigner", "POST", "/api/proposals", {**DRAFT, "cosigners": []}, expect=201).json()["number"]
    task = api.task("staff", "pre_review", second)
    found = api("staff", "GET", f"/api/instances/{task['instance_id']}", expect=200).json()["data"]["duplicates"]
    assert first in [c["number"] for c in found["candidates"]]
    api.complete("staff", "pre_review", second, {"eligible": True, "content_ok": True, "format_ok": True})
    api.complete("committee", "filing_decision", second, {"decision": "merged", "merge_into": first})

    # Merged (并案) counts as filed for the merged proposer: the rulebook's authorship points.
    authorship = wait_for(
        lambda: [
            e
            for e in api("cosigner", "GET", "/api/performance/members/member.zhou/file", expect=200).json()["entries"]
            if (e["event"] or {}).get("subject") == second
        ],
        timeout=60,
        message="the merged proposer's points",
    )
    assert [(e["activity"], e["points"]) for e in authorship] == [("proposal_lead", 15)]

    api.complete("staff", "assign", first, {"mode": "single", "units": ["transport"]})
    reply(api, first, text="并案答复：已办理。")
    api.complete("staff", "review_reply", first, {"action": "accept"})
    # The merged proposer reads the shared answer and rates it through their own proposal.
    answer = wait_for(
        lambda: (lambda r: r.json() if r.status_code == 200 and r.json().get("rounds") else None)(
            api("cosigner", "GET", f"/api/proposals/{second}/reply")
        ),
        timeout=60,
        message="the shared answer",
    )
    assert "并案答复" in str(answer)
    wait_for(
        lambda: any(
            "并案办理" in n["text"] and "评价" in n["text"]
            for n in api("cosigner", "GET", "/api/notifications", expect=200).json()
        ),
        timeout=60,
        message="the merged proposer asked to rate",
    )
    rate(api, second, who="cosigner")
    rate(api, first)
    rounds = api("staff", "GET", f"/api/proposals/{first}/ratings", expect=200).json()
    assert {r["rater"] for r in rounds["rounds"][0]["ratings"]} == {"member.li", "member.zhou"}
    finish(api, first)
    merged = wait_for(
        lambda: (lambda i: i if i["status"] == "completed" else None)(
            api("staff", "GET", f"/api/instances/{task['instance_id']}", expect=200).json()
        ),
        timeout=60,
        message="the merged proposal's answer",
    )
    assert merged["data"]["merged_answer"]["main"] == first


def test_a_bad_command_from_a_unit_system_is_dead_lettered_and_changes_nothing(running, e2e_settings):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    # Each department's system on its own broker user, as `ztc units credentials issue` gives it.
    from shared.messaging import access
    from tests.support import broker_users

    transport, education = access.unit_grant(e2e_settings, "transport"), access.unit_grant(e2e_settings, "education")
    with broker_users(e2e_settings, [transport, education]) as uris:
        publish(
            uris[transport.user],
            "ztc.unit-commands",
            "transport.object",
            {"assignment_id": mine["id"]},
            user_id=transport.user,
        )  # no reason
        publish(
            uris[education.user],
            "ztc.unit-commands",
            "education.sign",
            {"assignment_id": mine["id"]},
            user_id=education.user,
        )  # not its own
        vhost, dead = e2e_settings.amqp_uri.rsplit("/", 1)[-1], []

        def ours(letter):
            try:
                return json.loads(letter["payload"]).get("assignment_id") == mine["id"]
            except (TypeError, ValueError, AttributeError):
                return False

        def two_dead_letters():
            # The system is shared with other modules: count the letters of these two commands only.
            dead.extend(m for m in get_messages(vhost, contracts.DEAD_QUEUE) if ours(m))
            return len(dead) >= 2

        wait_for(two_dead_letters, timeout=60, message="two dead letters")
    reasons = [m["properties"]["headers"][contracts.REASON_HEADER] for m in dead]
    assert any(r.startswith("invalid_input") and "reason" in r for r in reasons), reasons
    assert any(r.startswith("forbidden") for r in reasons), reasons
    assert api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["status"] == "assigned"


def test_ztc_demo_leaves_proposals_at_every_stage(running, e2e_settings):
    import os
    import subprocess
    import sys

    import json

    from services.launcher import write_private
    from shared.config import ROOT
    from tests.support import settings_env

    # What `make run` (--demo) writes for `ztc demo`; the tests issue their own tokens instead.
    write_private(e2e_settings.var_dir / "demo-tokens.json", json.dumps(running[1]))
    env = dict(os.environ, **settings_env(e2e_settings))
    done = subprocess.run(
        [sys.executable, "-m", "services.ztc.cli", "demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    stories = [line for line in done.stdout.splitlines() if line[:4].isdigit()]
    assert len(stories) == 6
    api = Api(*running)
    statuses = {api.status(line.split(":")[0]) for line in stories}
    assert {"published", "not_filed", "pre_review"} <= statuses
    # The personal matter is the one not filed, and only it: no other path handles it as a proposal.
    from services.ztc.demo import PERSONAL_MATTER

    for line in stories:
        number = line.split(":")[0]
        proposal = api("staff", "GET", f"/api/proposals/{number}", expect=200).json()
        assert (proposal["title"] == PERSONAL_MATTER[0]) == (proposal["status"] == "not_filed"), line
    # Filed ones in handling show where they are: assigned, replied, in rating...
    assert statuses & {"assigned", "replied", "rating", "rated", "rehandling"}


def test_a_refused_extension_shows_on_the_units_request_and_the_reply_is_still_awaited(running):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    api("unit", "POST", f"/api/assignments/{mine['id']}/sign", expect=200)
    api(
        "unit",
        "POST",
        f"/api/assignments/{mine['id']}/extension",
        {"until": (date.today() + timedelta(days=60)).isoformat(), "reason": "等待预算批复"},
        expect=200,
    )
    api.complete("staff", "approve_extension", number, {"approved": False, "extension_comment": "理由不充分"})

    def refused():
        [request] = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["extension_requests"]
        return request if request["status"] == "refused" else None

    request = wait_for(refused, timeout=60, message="the refusal on the unit's request")
    assert (request["decision"]["outcome"], request["decision"]["by"], request["decision"]["comment"]) == (
        "refused",
        "staff.wang",
        "理由不充分",
    )
    reply(api, number)
    api.complete("staff", "review_reply", number, {"action": "accept"})
    rate(api, number)
    finish(api, number)


def test_routing_suggestions_give_their_reasons_to_staff_only(running):
    api = Api(*running)
    number = submit(api)
    suggestions = api("staff", "GET", f"/api/proposals/{number}/routing-suggestions", expect=200).json()
    reasons = {s["unit"]: s["reasons"] for s in suggestions["suggestions"]}
    assert "keyword 学校" in reasons["education"] and "keyword 交通" in reasons["transport"]
    assert suggestions["routing_version"] and suggestions["rulebook"]["hash"].startswith("sha256:")
    assert api("member", "GET", f"/api/proposals/{number}/routing-suggestions").status_code == 403
    assert api("unit", "GET", f"/api/proposals/{number}/routing-suggestions").status_code == 403
    # Asked with others in a batch, a number of no proposal is listed, not a 404 for the whole page.
    batch = api("staff", "GET", f"/api/routing-suggestions?numbers=2099-9999,{number},nonsense", expect=200).json()
    assert [p["number"] for p in batch["proposals"]] == [number] and batch["unknown"] == ["2099-9999", "nonsense"]
    assert batch["proposals"][0]["suggestions"] == suggestions["suggestions"]
    assert api("staff", "GET", "/api/routing-suggestions?numbers=nonsense").status_code == 400


def test_a_proposal_assigned_before_suggests_its_unit_to_one_with_a_similar_title(running):
    """Assignment asks intake's title index for the alike titles, then counts where they went."""
    api = Api(*running)
    title = f"关于建设城市绿道网络{datetime.now():%H%M%S%f}的建议"  # alike to nothing of the other tests

    def submitted(title):
        return api("member", "POST", "/api/proposals", {**DRAFT, "title": title, "cosigners": []}, expect=201).json()

    before = submitted(title)["number"]
    file_it(api, before)
    api.complete("staff", "assign", before, {"mode": "single", "units": ["education"]})
    api.assignment("staff", before)  # the assignment is recorded
    after = submitted(title.replace("的建议", "的提案"))["number"]
    found = api("staff", "GET", f"/api/routing-suggestions?numbers={after}", expect=200).json()["proposals"][0]
    education = next(s for s in found["suggestions"] if s["unit"] == "education")
    assert education["similar_proposals"] == [{"number": before, "similarity": 1.0}]
    assert education["similar_count"] == 1
    assert "1 past proposal with similar titles went to education" in education["reasons"]
    assert found["similar_total"] == found["similar_counted"] == 1


def test_an_invited_cosigner_finds_the_invitation_in_their_notifications(running):
    api = Api(*running)
    number = submit(api, cosigners=["member.zhou"])

    def invitation():
        inbox = api("cosigner", "GET", "/api/notifications?unread=true", expect=200).json()
        return [n for n in inbox if n["subject"] == number]

    [note] = wait_for(invitation, timeout=60, message="the co-signing invitation in the inbox")
    assert note["recipient"] == "member.zhou" and number in note["title"] and note["read_at"] is None
    assert note["kind"] == "cosign_invited"
    assert not [n for n in api("member", "GET", "/api/notifications", expect=200).json() if n["id"] == note["id"]], (
        "someone else's notification was shown"
    )
    assert api("member", "POST", f"/api/notifications/{note['id']}/read").status_code == 404
    api("cosigner", "POST", f"/api/notifications/{note['id']}/read", expect=200)
    assert not invitation()


def unit_notices(api, who, number):
    return {n["kind"] for n in api(who, "GET", "/api/notifications", expect=200).json() if n["subject"] == number}


def test_units_hear_every_decision_about_their_work_and_an_overruled_objection_keeps_the_assignment(running):
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})
    mine = api.assignment("unit", number)
    api("unit", "POST", f"/api/assignments/{mine['id']}/sign", expect=200)
    api("unit", "POST", f"/api/assignments/{mine['id']}/object", {"reason": "不属本单位职责"}, expect=200)
    api.complete("staff", "reassign", number, {"mode": "single", "units": ["transport"]})

    def overruled():
        row = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()
        return row if row["status"] == "signed" else None

    row = wait_for(overruled, timeout=60, message="the objection overruled on the same assignment")
    assert row["objection"]["decision"]["outcome"] == "kept"
    assert [a["id"] for a in api("unit", "GET", f"/api/assignments?number={number}", expect=200).json()["items"]] == [
        mine["id"]
    ]
    wait_for(
        lambda: "assignment.objection_overruled" in unit_notices(api, "unit", number),
        timeout=60,
        message="the unit's notice of the overruled objection",
    )

    # An extension asked in months over HTTP, as over AMQP.
    asked = api(
        "unit", "POST", f"/api/assignments/{mine['id']}/extension", {"months": 2, "reason": "等待预算批复"}, expect=200
    ).json()
    assert asked["months"] == 2 and asked["until"] is None
    assert api("unit", "POST", f"/api/assignments/{mine['id']}/extension", {"reason": "x"}).status_code == 400
    api.complete("staff", "approve_extension", number, {"approved": False, "extension_comment": "理由不充分"})
    wait_for(
        lambda: "assignment.extension_refused" in unit_notices(api, "unit", number),
        timeout=60,
        message="the unit's notice of the refused extension",
    )

    reply(api, number, category="B")
    api.complete("staff", "review_reply", number, {"action": "accept"})
    expected = {"assignment.reply_accepted", "assignment.followup_expected"}
    wait_for(
        lambda: expected <= unit_notices(api, "unit", number),
        timeout=60,
        message="the unit's notices of the accepted reply",
    )
