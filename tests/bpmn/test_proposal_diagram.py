"""proposal.bpmn driven through its paths by the runtime alone, with a skipping clock and a
save/restore at every wait state. Job results stand in for the services; the services' own rules
are tested in their tiers."""
from __future__ import annotations

from datetime import timedelta


from shared.config import ROOT
from shared.workflow.parser import parse_paths
from tests.bpmn.driver import Instance

PROPOSAL = parse_paths([ROOT / "bpmn" / "proposal.bpmn"])[0]


class Proposal(Instance):
    """One proposal instance; every input goes through a save/restore first."""

    default_actor = "committee.liu"

    def __init__(self, clock, cosigners=(), number="2027-0001"):
        due = (clock.now() + timedelta(days=3)).isoformat() if cosigners else None
        data = {"proposal_id": 1, "number": number, "title": "Safer school crossings", "kind": "plenary",
                "proposer": "member.li", "cosigners": list(cosigners), "publish_consent": True,
                "cosign_due": due}
        super().__init__(clock, PROPOSAL, data, "proposal-test")


def filed(p, cosigned=True):
    if p.waits_at("wait_cosign"):
        p.message("cosign_settled", {"confirmed": ["member.zhou"]})
        p.job("intake.settle_cosigners", {"proposers": ["member.li", "member.zhou"], "dropped": []})
    p.job("intake.find_duplicates", {"candidates": []})
    p.task("pre_review", {"eligible": True, "content_ok": True, "format_ok": True})
    p.task("filing_decision", {"decision": "filed"})
    p.job("intake.record_filing", {"status": "filed"})


def assigned(p, **form):
    p.task("assign", form or {"mode": "lead_co", "lead": "transport", "co_units": ["education"]})
    unit = form.get("lead") or (form.get("units") or ["transport"])[0]
    params = p.job("assignment.assign", {"assignments": [{"id": 1, "unit": unit, "role": "lead"}],
                                         "answering_units": [unit]})
    p.job("supervision.open_deadlines", {"next_check": (p.clock.now() + timedelta(days=60)).isoformat()})
    return params


def replied(p, category="A", unit="transport"):
    p.message("reply_submitted", {"round": 1, "category": category,
                                  "replies": [{"unit": unit, "category": category, "text": "Crossings rebuilt"}]})
    p.task("review_reply", {"action": "accept"})
    p.job("supervision.close", {"replied_on_time": True, "signed_on_time": True})


def rated(p, rehandle=False):
    p.job("evaluation.open_rating", {"round": 1})
    p.message("ratings_complete", {"round": 1, "rehandle": rehandle,
                                   "ratings": [{"rater": "member.li", "handling": "satisfied",
                                                "result": "unsatisfied" if rehandle else "satisfied"}]})


def finished(p):
    params = p.job("evaluation.score_handling", {"total": 110})
    p.task("grade_quality", {"grade": "good"})
    p.job("evaluation.grade_quality", {"grade": "good"})
    p.job("intake.publish", {"published": True})
    p.job("intake.answer_merged", {"answered": []})
    assert p.done and p.ended_at() == {"end_done"}
    return params


def test_joint_proposal_filed_assigned_lead_and_co_unit_answered_a_and_published(skipping_clock):
    p = Proposal(skipping_clock, cosigners=["member.zhou"])
    assert p.waits_at("wait_cosign")
    filed(p)
    params = assigned(p, mode="lead_co", lead="transport", co_units=["education"])
    assert params == {"proposal_id": 1, "number": "2027-0001", "mode": "lead_co", "units": [],
                      "lead": "transport", "co_units": ["education"], "round": 1}
    replied(p, "A")
    rated(p)
    facts = finished(p)["facts"]
    assert facts["category"] == "A" and facts["rehandling_rounds"] == 0 and facts["extensions"] == 0
    assert facts["satisfaction"] == ["satisfied"]


def test_cosigners_who_miss_the_window_are_settled_by_the_timer(skipping_clock):
    p = Proposal(skipping_clock, cosigners=["member.zhou", "member.qian"])
    skipping_clock.advance(days=2)
    p.state = p.runtime.fire_timers(p.workflow)
    assert p.waits_at("wait_cosign")
    skipping_clock.advance(days=2)
    p.state = p.runtime.fire_timers(p.workflow)
    assert p.job("intake.settle_cosigners", {"proposers": ["member.li"], "dropped": ["member.zhou", "member.qian"]}) \
        == {"proposal_id": 1}
    p.job("intake.find_duplicates", {"candidates": []})
    assert p.runtime.wait_state(p.workflow).user_tasks[0].task_name == "pre_review"


def test_not_filed_with_a_reason_ends_the_process(skipping_clock):
    p = Proposal(skipping_clock)
    p.job("intake.find_duplicates", {"candidates": []})
    p.task("pre_review", {"eligible": False, "content_ok": False, "format_ok": True})
    p.task("filing_decision", {"decision": "not_filed", "reason_code": "no_concrete_suggestion",
                               "convert_to": "opinion"})
    params = p.job("intake.record_filing", {"status": "not_filed"})
    assert params["reason_code"] == "no_concrete_suggestion" and params["convert_to"] == "opinion"
    assert params["decided_by"] == "committee.liu"
    assert p.done and p.ended_at() == {"end_not_filed"}


def test_returned_proposal_is_reviewed_again_after_resubmission(skipping_clock):
    p = Proposal(skipping_clock)
    p.job("intake.find_duplicates", {"candidates": []})
    p.task("pre_review", {"eligible": True, "content_ok": False, "format_ok": True})
    p.task("filing_decision", {"decision": "returned"})
    p.job("intake.record_filing", {"status": "returned"})
    p.message("resubmitted", {"title": "Safer school crossings (revised)"})
    p.job("intake.find_duplicates", {"candidates": []})
    assert p.runtime.wait_state(p.workflow).user_tasks[0].task_name == "pre_review"


def test_merged_proposal_ends_when_the_main_one_is_answered(skipping_clock):
    p = Proposal(skipping_clock, number="2027-0002")
    p.job("intake.find_duplicates", {"candidates": [{"number": "2027-0001", "score": 0.8}]})
    p.task("pre_review", {"eligible": True, "content_ok": True, "format_ok": True})
    p.task("filing_decision", {"decision": "merged", "merge_into": "2027-0001"})
    assert p.job("intake.record_filing", {"status": "merged"})["merge_into"] == "2027-0001"
    p.message("merged_answered", {"category": "A", "summary": "Crossings rebuilt"})
    assert p.done and p.ended_at() == {"end_merged"}


def test_objection_leads_to_reassignment(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p, mode="single", units=["education"])
    p.message("objection_raised", {"unit": "education", "reason": "not our remit"})
    p.task("reassign", {"mode": "single", "units": ["transport"]})
    assert p.job("assignment.assign", {"assignments": [{"id": 3, "unit": "transport", "role": "single"}],
                                       "answering_units": ["transport"]})["units"] == ["transport"]
    p.job("supervision.open_deadlines", {"next_check": (skipping_clock.now() + timedelta(days=60)).isoformat()})
    assert p.waits_at("wait_reply")


def test_deadline_checks_loop_and_an_approved_extension_is_counted(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    skipping_clock.advance(days=59)
    p.state = p.runtime.fire_timers(p.workflow)
    assert p.waits_at("wait_reply"), "the check fired early"
    skipping_clock.advance(days=2)
    p.state = p.runtime.fire_timers(p.workflow)
    p.job("supervision.check", {"action": "remind", "next_check": (skipping_clock.now() + timedelta(days=10)).isoformat()})
    p.message("extension_requested", {"unit": "transport", "until": "2027-09-30", "reason": "budget cycle"})
    p.task("approve_extension", {"approved": True, "until": "2027-09-30"})
    assert p.job("supervision.extend", {"next_check": (skipping_clock.now() + timedelta(days=30)).isoformat()}) \
        == {"number": "2027-0001", "until": "2027-09-30", "reason": ""}
    replied(p, "A")
    rated(p)
    assert finished(p)["facts"]["extensions"] == 1


def test_a_refused_extension_keeps_waiting_for_the_reply(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    p.message("extension_requested", {"unit": "transport", "until": "2027-12-31", "reason": "?"})
    p.task("approve_extension", {"approved": False})
    assert p.waits_at("wait_reply")


def test_unsatisfied_rating_sends_the_proposal_back_for_rehandling_and_it_is_rated_again(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    replied(p, "C")
    rated(p, rehandle=True)
    assert p.job("assignment.request_rehandling", {"round": 2}) == {"number": "2027-0001", "round": 2}
    assert p.job("supervision.restart", {"next_check": (skipping_clock.now() + timedelta(days=20)).isoformat()}) \
        == {"number": "2027-0001", "rule": "rehandling_reply"}
    replied(p, "A")
    p.job("evaluation.open_rating", {"round": 2})
    p.message("ratings_complete", {"round": 2, "rehandle": False, "ratings": []})
    assert finished(p)["facts"]["rehandling_rounds"] == 1


def test_sent_back_reply_waits_for_a_new_reply(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    p.message("reply_submitted", {"round": 1, "category": "B",
                                  "replies": [{"unit": "transport", "category": "B", "text": "planned"}]})
    p.task("review_reply", {"action": "send_back", "comment": "say when"})
    assert p.job("assignment.send_back", {})["comment"] == "say when"
    assert p.waits_at("wait_reply")


def test_b_reply_waits_for_the_follow_up_before_scoring(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    replied(p, "B")
    rated(p)
    p.message("followup_reply", {"text": "Crossings finished in June"})
    assert p.job("evaluation.record_followup", {"followup_id": 1})["text"] == "Crossings finished in June"
    assert finished(p)["facts"]["category"] == "B"


def test_staff_may_recategorise_the_reply(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    p.message("reply_submitted", {"round": 1, "category": "A",
                                  "replies": [{"unit": "transport", "category": "A", "text": "done"}]})
    p.task("review_reply", {"action": "accept", "override_category": "B"})
    p.job("supervision.close", {"replied_on_time": True, "signed_on_time": True})
    rated(p)
    assert p.waits_at("followup_arrived")


def test_an_extension_beyond_the_cap_goes_back_to_staff(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    assigned(p)
    p.message("extension_requested", {"unit": "transport", "until": "2028-12-31", "reason": "?"})
    p.task("approve_extension", {"approved": True, "until": "2028-12-31"})
    p._restore()
    [job] = p.runtime.wait_state(p.workflow).new_jobs
    assert job.operation == "supervision.extend"
    p.runtime.mark_job_sent(p.workflow, job.task_id, "j")
    assert p.runtime.throw_job_error(p.workflow, job.task_id, "j", "extension_too_long", "beyond 6 months")
    p.state = p.runtime.wait_state(p.workflow)
    assert [t.task_name for t in p.state.user_tasks] == ["approve_extension"]


def test_deadlines_open_for_every_assigned_unit_and_the_reply_for_the_answering_ones(skipping_clock):
    p = Proposal(skipping_clock)
    filed(p)
    p.task("assign", {"mode": "lead_co", "lead": "transport", "co_units": ["education"]})
    p.job("assignment.assign", {"assignments": [{"id": 1, "unit": "transport", "role": "lead"},
                                                {"id": 2, "unit": "education", "role": "co"}],
                                "answering_units": ["transport"]})
    params = p.job("supervision.open_deadlines", {"next_check": (skipping_clock.now() + timedelta(days=60)).isoformat()})
    assert params["units"] == ["transport", "education"] and params["answering_units"] == ["transport"]
