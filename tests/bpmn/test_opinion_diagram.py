"""opinion.bpmn driven through every path by the runtime alone, with a skipping clock and a
save/restore at every wait state. Job results stand in for intake; its rules are tested in their tiers."""
from __future__ import annotations

from datetime import timedelta


from shared.config import ROOT
from shared.forms import FORMS
from shared.workflow.parser import parse_paths
from tests.bpmn.driver import Instance

OPINION = parse_paths([ROOT / "bpmn" / "opinion.bpmn"])[0]
PASSED = {"political_ok": True, "facts_ok": True, "content_ok": True, "wording_ok": True}


class Item(Instance):
    def __init__(self, clock, urgent=False):
        data = {"item_id": 7, "number": "SQ-2027-0001", "thread": "SQ-2027-0001", "title": "老旧小区加装电梯",
                "urgent": urgent, "submitter": "member.li"}
        super().__init__(clock, OPINION, data, "opinion-test")

    def roles(self):
        self._restore()
        return [t.properties["candidateRole"] for t in self.runtime.wait_state(self.workflow).user_tasks]

    def ended_at(self):
        assert self.workflow.completed
        return super().ended_at()


def due(clock, **days):
    return (clock.now() + timedelta(**days)).isoformat()


def edited(p, **form):
    assert p.roles() == ["staff"]
    p.task("edit", {**PASSED, "decision": "report", **form})
    return p.job("intake.record_editing", {"status": "reviewed", "round": 1})


def reported(p, channels=("city_party_committee", "provincial_committee")):
    assert p.roles() == ["leader"]
    p.task("sign_off", {"approved": True, "channels": list(channels)}, actor="leader.chen")
    params = p.job("intake.report_opinion", {"reports": [], "adoption_due": due(p.clock, days=30)})
    return params


def test_edited_signed_off_reported_adopted_forwarded_answered_and_closed(skipping_clock):
    p = Item(skipping_clock)
    params = edited(p, political_note="无问题", edited_title="关于老旧小区加装电梯的建议")
    assert params["edited_by"] == "staff.wang" and params["political_ok"] is True
    assert params["edited_title"] == "关于老旧小区加装电梯的建议"
    params = reported(p)
    assert params == {"item_id": 7, "channels": ["city_party_committee", "provincial_committee"],
                      "signed_off_by": "leader.chen", "comment": ""}
    p.message("adoptions_settled", {"adopted": ["provincial_committee"]})
    p.job("intake.close_reporting", {"adopted": ["provincial_committee"], "no_answer": []})
    p.task("forward_decision", {"forward": True, "units": ["housing"], "forward_request": "请研究办理"})
    params = p.job("intake.forward_opinion", {"units": ["housing"], "answer_due": due(skipping_clock, days=30)})
    assert params == {"item_id": 7, "units": ["housing"], "request": "请研究办理", "forwarded_by": "staff.wang"}
    p.message("forwards_answered", {"units": ["housing"]})
    p.job("intake.close_opinion", {"status": "handled"})
    assert p.ended_at() == {"end_closed"}


def test_not_adopted_by_the_editors_ends_and_says_why(skipping_clock):
    p = Item(skipping_clock)
    p.task("edit", {**PASSED, "facts_ok": False, "facts_note": "数据无来源", "decision": "not_adopted",
                    "not_adopted_reason": "事实不清"})
    params = p.job("intake.record_editing", {"status": "not_adopted", "round": 1})
    assert params["facts_ok"] is False and params["not_adopted_reason"] == "事实不清"
    assert p.ended_at() == {"end_not_adopted"}


def test_the_edit_form_refuses_reporting_an_item_that_failed_a_check():
    import pytest
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as refused:
        FORMS["opinion.edit"]().load({**PASSED, "wording_ok": False, "decision": "report"})
    assert "decision" in refused.value.messages
    with pytest.raises(ValidationError) as refused:
        FORMS["opinion.edit"]().load({**PASSED, "decision": "not_adopted"})
    assert "not_adopted_reason" in refused.value.messages


def test_a_leader_who_does_not_sign_off_sends_it_back_to_the_editors(skipping_clock):
    p = Item(skipping_clock)
    edited(p)
    p.task("sign_off", {"approved": False, "sign_off_comment": "再核实数据"}, actor="leader.chen")
    params = p.job("intake.return_to_editing", {"status": "submitted"})
    assert params == {"item_id": 7, "comment": "再核实数据", "returned_by": "leader.chen"}
    edited(p)
    reported(p, channels=["city_government"])
    p.message("adoptions_settled", {"adopted": ["city_government"]})
    p.job("intake.close_reporting", {"adopted": ["city_government"]})
    p.task("forward_decision", {"forward": False})
    p.job("intake.close_opinion", {"status": "adopted"})
    assert p.ended_at() == {"end_closed"}


def test_an_unknown_channel_goes_back_to_the_leader(skipping_clock):
    p = Item(skipping_clock)
    edited(p)
    p.task("sign_off", {"approved": True, "channels": ["city_council"]}, actor="leader.chen")
    p.error("intake.report_opinion", "unknown_channel")
    assert p.roles() == ["leader"]
    reported(p)


def test_recipients_silent_until_the_wait_ends_count_as_not_adopting(skipping_clock):
    p = Item(skipping_clock)
    edited(p)
    reported(p)
    p.timers(days=29)
    assert not p.runtime.wait_state(p.workflow).new_jobs
    p.timers(days=2)
    p.job("intake.close_reporting", {"adopted": [], "no_answer": ["city_party_committee"]})
    assert p.ended_at() == {"end_not_adopted_by_recipients"}


def test_an_unknown_department_goes_back_to_staff_and_late_answers_are_chased(skipping_clock):
    p = Item(skipping_clock)
    edited(p)
    reported(p)
    p.message("adoptions_settled", {"adopted": ["city_party_committee"]})
    p.job("intake.close_reporting", {"adopted": ["city_party_committee"]})
    p.task("forward_decision", {"forward": True, "units": ["nowhere"]})
    p.error("intake.forward_opinion", "unknown_unit")
    p.task("forward_decision", {"forward": True, "units": ["transport"]})
    p.job("intake.forward_opinion", {"units": ["transport"], "answer_due": due(skipping_clock, days=30)})
    p.timers(days=31)
    p.job("intake.mark_answers_overdue", {"overdue": ["transport"], "next_check": due(skipping_clock, days=7)})
    p.timers(days=8)
    p.job("intake.mark_answers_overdue", {"overdue": ["transport"], "next_check": due(skipping_clock, days=7)})
    p.message("forwards_answered", {"units": ["transport"]})
    p.job("intake.close_opinion", {"status": "handled"})
    assert p.ended_at() == {"end_closed"}


def test_an_item_turned_into_a_proposal_while_in_editing_leaves_the_editors_list(skipping_clock):
    p = Item(skipping_clock)
    assert p.roles() == ["staff"]
    p.message("converted_to_proposal", {"proposal": "2027-0009"})
    assert p.ended_at() == {"end_converted"}


def test_an_item_converted_while_its_editing_was_being_recorded_ends_there(skipping_clock):
    p = Item(skipping_clock)
    p.task("edit", {**PASSED, "decision": "report"})
    p.error("intake.record_editing", "not_in_editing")
    assert p.ended_at() == {"end_converted"}


def test_every_element_is_drawn_so_a_modeler_opens_the_diagram():
    from xml.etree import ElementTree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    root = ElementTree.parse(ROOT / "bpmn" / "opinion.bpmn").getroot()
    process = root.find("bpmn:process", ns)
    elements = {e.get("id") for e in process if e.get("id")}
    drawn = {e.get("bpmnElement") for e in root.iter() if e.tag.endswith("BPMNShape") or e.tag.endswith("BPMNEdge")}
    assert elements and elements == drawn - {"opinion"}
