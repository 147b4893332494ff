"""micro_consultation.bpmn driven through every path by the runtime alone, with a skipping clock
and a save/restore at every wait state. Job results stand in for the assignment and intake
services; their rules are tested in their own tiers."""
from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from marshmallow import ValidationError

from shared.config import ROOT
from shared.forms import FORMS
from shared.workflow.parser import parse_paths
from tests.bpmn.driver import Instance

DIAGRAM = parse_paths([ROOT / "bpmn" / "micro_consultation.bpmn"])[0]
NUMBER = "WX-2027-0001"
MEMBER = "member.li"


class Case(Instance):
    default_actor = MEMBER

    def __init__(self, clock):
        data = {"case_id": 3, "number": NUMBER, "thread": NUMBER, "title": "小区门口路灯不亮"}
        super().__init__(clock, DIAGRAM, data, "mc-test")

    def candidate(self):
        [task] = self.waiting()
        props = task.properties
        user = props.get("candidateUser")
        data = self.workflow.get_task_from_id(UUID(str(task.task_id))).data
        return props["candidateRole"], data.get(user) if user else None

    def ended_at(self):
        assert self.workflow.completed
        return super().ended_at()


def due(clock, **days):
    return (clock.now() + timedelta(**days)).isoformat()


def taken(c):
    assert c.candidate() == ("staff", None)
    c.task("dispatch", {"dispatch_action": "dispatch", "member": MEMBER, "dispatch_note": "请联系居民"},
           actor="staff.wang")
    params = c.job("assignment.dispatch_case", {"member": MEMBER, "take_due": due(c.clock, days=3)})
    assert params == {"case_id": 3, "member": MEMBER, "dispatched_by": "staff.wang", "note": "请联系居民"}
    assert c.candidate() == ("member", MEMBER)
    c.task("take", {"accepted": True})
    assert c.job("assignment.take_case", {"accepted": True})["by"] == MEMBER


def visited(c, satisfaction="satisfied", reopen=False):
    assert c.candidate() == ("member", MEMBER)
    c.task("return_visit", {"reached": True, "satisfaction": satisfaction, "visit_comment": "居民认可"})
    params = c.job("assignment.record_return_visit", {"reopen": reopen, "close_reason": None, "note": "居民认可"})
    assert params["satisfaction"] == satisfaction and params["by"] == MEMBER
    return params


def test_answered_on_the_spot_then_a_return_visit_closes_it(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    c.task("decide", {"outcome": "answered", "answer": "已联系物业，本周内修复"})
    params = c.job("assignment.record_decision", {"outcome": "answered", "member": MEMBER})
    assert params["answer"] == "已联系物业，本周内修复" and params["by"] == MEMBER
    visited(c)
    closing = c.job("assignment.close_case", {"status": "closed"})
    assert closing == {"case_id": 3, "reason": None, "note": "居民认可", "by": MEMBER}
    assert c.ended_at() == {"end_closed"}


@pytest.mark.parametrize("outcome,operation", [("opinion", "intake.open_opinion_from_case"),
                                               ("proposal", "intake.open_proposal_from_case")])
def test_turned_into_an_opinion_item_or_a_proposal_in_the_cases_thread(skipping_clock, outcome, operation):
    c = Case(skipping_clock)
    taken(c)
    c.task("decide", {"outcome": outcome, "analysis": "路灯年久失修", "suggestion": "纳入年度改造计划"})
    content = {"title": "小区门口路灯不亮", "situation": "s", "analysis": "路灯年久失修", "suggestion": "纳入年度改造计划"}
    c.job("assignment.record_decision", {"outcome": outcome, "member": MEMBER, "title": "小区门口路灯不亮",
                                         "content": content})
    params = c.job(operation, {"number": "X-1", "thread": NUMBER})
    assert params["thread"] == NUMBER and params["case_number"] == NUMBER
    assert params["member"] == MEMBER and params["content"] == content
    recorded = c.job("assignment.record_conversion", {"status": "closed"})
    assert recorded == {"case_id": 3, "kind": outcome, "converted": {"number": "X-1", "thread": NUMBER}}
    assert c.ended_at() == {"end_converted"}


def test_content_intake_refuses_goes_back_to_the_member(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    c.task("decide", {"outcome": "opinion", "suggestion": "x"})
    c.job("assignment.record_decision", {"outcome": "opinion", "member": MEMBER, "title": "t", "content": {}})
    c.error("intake.open_opinion_from_case", "invalid_input")
    assert [t.task_name for t in c.waiting()] == ["decide"]


def meeting(c, units=("transport", "housing")):
    c.task("decide", {"outcome": "meeting"})
    c.job("assignment.record_decision", {"outcome": "meeting", "member": MEMBER})
    c.task("hold_meeting", {"meeting_form": "on_site", "meeting_venue": "cr_jiefang", "held_on": "2027-01-10",
                            "attendees": ["member.zhou"], "units": list(units), "summary": "现场协商路灯维修"})
    params = c.job("assignment.record_meeting", {"meeting_id": 1, "units": list(units),
                                                 "commitment_due": due(c.clock, days=10)})
    assert params["form"] == "on_site" and params["held_on"] == "2027-01-10" and params["by"] == MEMBER
    return params


def test_meeting_commitments_follow_up_and_return_visit(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    meeting(c)
    c.timers(days=11)   # a department is late: reminded, and the wait goes on
    c.job("assignment.remind_commitments", {"pending": ["housing"], "next_check": due(c.clock, days=5)})
    c.message("commitments_made", {"units": ["transport", "housing"]})
    c.job("assignment.schedule_follow_up", {"follow_up_due": due(c.clock, days=30)})
    assert c.candidate() == ("member", MEMBER)
    c.timers(days=31)   # the follow-up is late: reminded, and the task stays
    c.job("assignment.follow_up_overdue", {"actions_done": False, "follow_up_due": due(c.clock, days=7)})
    c.task("follow_up", {"actions_done": False, "follow_up_note": "施工中"})
    c.job("assignment.record_follow_up", {"actions_done": False, "follow_up_due": due(c.clock, days=30)})
    c.task("follow_up", {"actions_done": True, "follow_up_note": "已全部修复"})
    c.job("assignment.record_follow_up", {"actions_done": True, "follow_up_due": None})
    visited(c, "basically_satisfied")
    c.job("assignment.close_case", {"status": "closed"})
    assert c.ended_at() == {"end_closed"}


def test_a_meeting_that_names_no_department_goes_to_the_return_visit(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    meeting(c, units=())
    visited(c)
    c.job("assignment.close_case")
    assert c.ended_at() == {"end_closed"}


def test_an_unknown_department_sends_the_meeting_record_back(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    c.task("decide", {"outcome": "meeting"})
    c.job("assignment.record_decision", {"outcome": "meeting", "member": MEMBER})
    c.task("hold_meeting", {"meeting_form": "online", "held_on": "2027-01-10", "units": ["nobody"], "summary": "s"})
    c.error("assignment.record_meeting", "unknown_meeting_detail")
    assert [t.task_name for t in c.waiting()] == ["hold_meeting"]


def test_an_unsatisfied_resident_reopens_the_case_once(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    c.task("decide", {"outcome": "answered", "answer": "已答复"})
    c.job("assignment.record_decision", {"outcome": "answered", "member": MEMBER})
    visited(c, "unsatisfied", reopen=True)
    assert [t.task_name for t in c.waiting()] == ["decide"]
    c.task("decide", {"outcome": "answered", "answer": "再次答复"})
    c.job("assignment.record_decision", {"outcome": "answered", "member": MEMBER})
    visited(c, "unsatisfied", reopen=False)
    c.job("assignment.close_case")
    assert c.ended_at() == {"end_closed"}


def test_a_resident_not_reached_closes_with_the_reason(skipping_clock):
    c = Case(skipping_clock)
    taken(c)
    c.task("decide", {"outcome": "answered", "answer": "已答复"})
    c.job("assignment.record_decision", {"outcome": "answered", "member": MEMBER})
    c.task("return_visit", {"reached": False, "visit_comment": "电话三次无人接听"})
    c.job("assignment.record_return_visit", {"reopen": False, "close_reason": "unreachable", "note": "电话三次无人接听"})
    assert c.job("assignment.close_case")["reason"] == "unreachable"
    assert c.ended_at() == {"end_closed"}


def test_staff_close_an_unsuitable_case_with_a_reason(skipping_clock):
    c = Case(skipping_clock)
    c.task("dispatch", {"dispatch_action": "close", "close_reason": "duplicate", "dispatch_note": "同 WX-2027-0000"},
           actor="staff.wang")
    assert c.job("assignment.close_case") == {"case_id": 3, "reason": "duplicate", "note": "同 WX-2027-0000",
                                              "by": "staff.wang"}
    assert c.ended_at() == {"end_closed_with_reason"}


def test_declined_or_not_taken_in_time_goes_back_to_dispatching(skipping_clock):
    c = Case(skipping_clock)
    c.task("dispatch", {"dispatch_action": "dispatch", "member": "member.zhou"}, actor="staff.wang")
    c.job("assignment.dispatch_case", {"member": "member.zhou", "take_due": due(c.clock, days=3)})
    c.timers(days=4)
    assert c.job("assignment.case_not_taken", {"status": "registered"})["member"] == "member.zhou"
    c.task("dispatch", {"dispatch_action": "dispatch", "member": MEMBER}, actor="staff.wang")
    c.job("assignment.dispatch_case", {"member": MEMBER, "take_due": due(c.clock, days=3)})
    c.task("take", {"accepted": False, "decline_reason": "本周外出调研"})
    c.job("assignment.take_case", {"accepted": False})
    assert c.candidate() == ("staff", None)


def test_the_forms_refuse_what_does_not_fit():
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.decide"]().load({"outcome": "answered"})
    assert "answer" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.meeting"]().load({"meeting_form": "by_letter", "held_on": "2027-01-10", "summary": "s"})
    assert "meeting_form" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.return_visit"]().load({"reached": True, "satisfaction": "happy"})
    assert "satisfaction" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["consultation.dispatch"]().load({"dispatch_action": "close", "close_reason": "bored"})
    assert "close_reason" in refused.value.messages
