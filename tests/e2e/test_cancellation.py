"""An operator cancels a process instance, and every service closes what it kept open for it — every
service its own process, over the real broker: the engine's ``process.cancelled`` event reaches
intake (the proposal's or item's status, the people told), assignment (the units' assignments, the
units told), supervision (the deadlines) and evaluation."""

from __future__ import annotations

from tests.support import wait_for

from .test_opinions import ITEM, PASSED, item, until_status
from .test_proposal_lifecycle import Api, assigned_to_transport, file_it, submit

REASON = "申请人书面撤回，经提案委同意撤销办理"


def cancel_instance(api, business_key):
    [instance] = wait_for(
        lambda: api("operator", "GET", f"/api/ops/instances?business_key={business_key}", expect=200).json(),
        timeout=60,
        message=f"the instance of {business_key}",
    )
    answer = api("operator", "POST", f"/api/ops/instances/{instance['id']}/cancel", {"reason": REASON}, expect=200)
    assert answer.json()["status"] == "cancelled"
    return instance["id"]


def notices(api, who, subject, kind):
    return [
        n
        for n in api(who, "GET", "/api/notifications", expect=200).json()
        if n["subject"] == subject and n["kind"] == kind
    ]


def live_deadlines(api, number):
    response = api("staff", "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code == 404:  # none opened yet
        return []
    assert response.status_code == 200, response.text
    return [d for d in response.json()["deadlines"] if d["live"]]


def test_a_cancelled_proposal_stops_everywhere_and_its_proposer_and_unit_are_told(running):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    wait_for(lambda: live_deadlines(api, number), timeout=60, message="the reply deadline")
    wait_for(lambda: api.status(number) == "assigned", timeout=60, message="assigned")

    cancel_instance(api, number)

    wait_for(lambda: api.status(number) == "cancelled", timeout=60, message="the proposal cancelled")
    told = wait_for(lambda: notices(api, "member", number, "proposal_cancelled"), timeout=60, message="the notice")
    assert REASON in told[0]["text"] or REASON in told[0]["title"]
    cancelled = wait_for(
        lambda: (lambda a: a if a["status"] == "cancelled" else None)(
            api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()
        ),
        timeout=60,
        message="the assignment cancelled",
    )
    assert cancelled["cancelled_at"]
    wait_for(lambda: notices(api, "unit", number, "assignment.cancelled"), timeout=60, message="the unit told")
    wait_for(lambda: not live_deadlines(api, number), timeout=60, message="the deadlines closed")
    # The unit can no longer answer it, and is told why.
    refused = api("unit", "POST", f"/api/assignments/{mine['id']}/reply-draft", {"category": "A", "text": "已办理。"})
    assert refused.status_code == 409 and REASON in refused.text
    # Told once: the unit's and the proposer's notice are each one.
    assert len(notices(api, "unit", number, "assignment.cancelled")) == 1
    assert len(notices(api, "member", number, "proposal_cancelled")) == 1


def test_a_cancelled_opinion_item_is_cancelled_and_its_submitter_told(running):
    api = Api(*running)
    number = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于撤销测试的建议"}, expect=201).json()[
        "number"
    ]
    until_status(api, number, "submitted")
    cancel_instance(api, number)
    assert until_status(api, number, "cancelled")["status"] == "cancelled"
    # The editors' step is refused naming the cancellation, not as a task that is simply not there.
    refused = api("staff", "POST", f"/api/opinions/{number}/editing", {**PASSED, "decision": "report"})
    assert refused.status_code == 409 and REASON in refused.text and "cancelled" in refused.text
    wait_for(lambda: notices(api, "member", number, "opinion.cancelled"), timeout=60, message="the submitter told")
    assert item(api, number, who="member")["status"] == "cancelled"
    # The editors' open task went with it, and they are told so (the engine's notice, by role).
    [closed] = wait_for(lambda: notices(api, "staff", number, "task_closed"), timeout=60, message="the editors told")
    assert REASON in closed["text"] and "无需再办理" in closed["text"] and closed["recipient"] == "role:staff"


def test_a_cancelled_case_refuses_its_next_step_naming_the_cancellation(running):
    from .test_micro_consultation import ISSUE, step, until_status as case_status

    api = Api(*running)
    number = api("staff", "POST", "/api/consultations", {**ISSUE, "title": "撤销测试：路灯"}, expect=201).json()[
        "number"
    ]
    step(
        api,
        "staff",
        number,
        "dispatch",
        {"dispatch_action": "dispatch", "member": "member.li", "dispatch_note": "请联系"},
    )
    case_status(api, number, "dispatched")
    cancel_instance(api, number)
    case_status(api, number, "cancelled")
    refused = api("member", "POST", f"/api/consultations/{number}/take", {"accepted": True})
    assert refused.status_code == 409 and "cancelled" in refused.text and REASON in refused.text
    wait_for(lambda: notices(api, "member", number, "consultation.cancelled"), timeout=60, message="the member told")


def test_a_merge_into_a_cancelled_proposal_goes_back_to_the_committee_without_an_incident(running):
    api = Api(*running)
    main = submit(api)
    file_it(api, main)
    main_instance = cancel_instance(api, main)
    wait_for(lambda: api.status(main) == "cancelled", timeout=60, message="the main proposal cancelled")
    other = submit(api)
    api.complete("staff", "pre_review", other, {"eligible": True, "content_ok": True, "format_ok": True})
    api.complete("committee", "filing_decision", other, {"decision": "merged", "merge_into": main})
    # The filing job refuses the merge; the diagram catches it and the committee decides again.
    again = api.task("committee", "filing_decision", other)
    assert again["business_key"] == other
    [instance] = api("operator", "GET", f"/api/ops/instances?business_key={other}", expect=200).json()
    assert instance["status"] != "incident" and instance["incidents"] == []
    assert instance["id"] != main_instance
    assert api.status(other) == "pre_review"
    # Who decided is told why, in words, and that the decision is theirs again.
    [told] = wait_for(lambda: notices(api, "committee", other, "filing_refused"), timeout=60, message="told why")
    assert main in told["text"] and "重新作出决定" in told["text"]


def test_a_proposal_merged_into_one_then_cancelled_goes_back_to_the_committees_filing_decision(running):
    api = Api(*running)
    main = submit(api)
    file_it(api, main)
    other = submit(api)
    api.complete("staff", "pre_review", other, {"eligible": True, "content_ok": True, "format_ok": True})
    api.complete("committee", "filing_decision", other, {"decision": "merged", "merge_into": main})
    wait_for(lambda: api.status(other) == "merged", timeout=60, message="merged")
    cancel_instance(api, main)
    # The merged proposal's own process hears merge_main_cancelled and the committee decides again.
    again = api.task("committee", "filing_decision", other)
    assert again["business_key"] == other
    assert api.status(other) == "pre_review"
    [told] = wait_for(lambda: notices(api, "committee", other, "merged_main_cancelled"), timeout=60, message="told")
    assert main in told["text"] and REASON in told["text"]
    # Decided again, on its own this time: filed, as any proposal in review.
    api.complete("committee", "filing_decision", other, {"decision": "filed"})
    wait_for(lambda: api.status(other) == "filed", timeout=60, message="filed on its own")
