"""The assignment service's ports are enough to run its rules: a proposal assigned, answered and
followed up, an extension decided, a micro-consultation case from registration to closing, all on
in-memory fakes (``tests/unit/services/assignment/fakes.py``) with no database; and the rules ports are read
for each worker, so a changed rulebook counts at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml

from services.assignment import commands, decisions, operations, queries
from services.assignment.clocks import ReplyClock
from services.assignment.consultation import cases, directory, steps
from services.assignment.consultation.rules import RulebookConsultationRules
from services.assignment.models import Reply
from services.assignment.rules import RulebookRules
from services.assignment.service import AssignmentService
from shared import clock, contracts
from shared import rulebook as rulebooks
from shared.calendar import CHINA_TZ
from shared.config import ROOT
from shared.errors import InvalidInput, TooLate
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork
from tests.support import FAR_YEAR, members_directory_lacks

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
LI = {"user": "member.li", "roles": ["member"], "unit": None}
TRANSPORT = {"user": "handler.transport", "roles": ["unit"], "unit": "transport"}
NUMBER = "2026-0001"
CASE = {
    "title": "小区门口路灯不亮",
    "description": "路灯损坏两个月。",
    "resident_name": "王秀英",
    "resident_phone": "13800001111",
}
SEED = yaml.safe_load((ROOT / "deploy" / "seed" / "venues.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def uow(skipping_clock):
    fake = FakeAssignmentUnitOfWork()
    operations.ensure_units(fake, {"transport": "市交通运输局", "housing": "市住房和城乡建设局"})
    return fake


@pytest.fixture(scope="module")
def rules():
    return RulebookRules()


class DueIn(ReplyClock):
    """Supervision's reply deadline, as a fake: due ``days`` after today (negative: already passed);
    all extensions together may reach ``latest_days`` after today (None: no cap said)."""

    def __init__(self, days: int, latest_days: int | None = None):
        self.days, self.latest_days = days, latest_days

    def reply_due(self, number: str) -> dict | None:
        today = clock.now().astimezone(CHINA_TZ).date()
        due = today + timedelta(days=self.days)
        ends_at = datetime.combine(due + timedelta(days=1), datetime.min.time(), CHINA_TZ)
        latest = today + timedelta(days=self.latest_days) if self.latest_days is not None else None
        return {"rule": "reply_limit", "due": due, "ends_at": ends_at, "paused": False, "latest_due": latest}


def act(uow, rules, command, assignment_id, clocks=None, **params):
    return commands.run(uow, rules, command, {"assignment_id": assignment_id, **params}, TRANSPORT, clocks)


def assigned(uow) -> int:
    result = operations.assign(
        uow, {"proposal_id": 1, "number": NUMBER, "mode": "single", "units": ["transport"]}, STAFF
    )
    return result["assignments"][0]["id"]


def test_a_b_reply_is_answered_accepted_and_followed_up_through_the_ports_alone(uow, rules, skipping_clock):
    unit_id = assigned(uow)
    assert [key for key, _ in uow.unit_events("transport")] == ["transport.assignment.created"]
    act(uow, rules, "sign", unit_id)
    [signed] = uow.events(contracts.ASSIGNMENT_SIGNED)
    assert signed["payload"]["assignment_id"] == unit_id and signed["subject"] == NUMBER
    act(
        uow,
        rules,
        "draft_reply",
        unit_id,
        category="B",
        text="列入计划",
        milestones=[{"what": "设计", "due": f"{FAR_YEAR}-06-30"}],
    )
    act(uow, rules, "submit_reply", unit_id)
    [submitted] = uow.messages("reply_submitted")
    assert (submitted["correlation_key"], submitted["payload"]["category"]) == (NUMBER, "B")
    assert [e["payload"]["category"] for e in uow.events("handling.reply_submitted")] == ["B"]

    accepted = {
        "event_id": f"handling.rating_opened:{NUMBER}:1",
        "name": decisions.RATING_OPENED,
        "occurred_at": clock.now().isoformat(),
        "subject": NUMBER,
        "payload": {"number": NUMBER, "round": 1},
    }
    assert decisions.hear_acceptance(uow, accepted) == [unit_id]
    assert decisions.hear_acceptance(uow, accepted) == [], "heard twice, told once"
    told = [key for key, _ in uow.unit_events("transport")]
    assert told[-2:] == ["transport.assignment.reply_accepted", "transport.assignment.followup_expected"]
    [notice] = uow.events("notify.assignment.followup_expected")
    assert notice["payload"]["recipients"] == ["unit:transport"]

    skipping_clock.advance(days=3)
    done = act(uow, rules, "report_milestone", unit_id, milestone=1, note="图纸已批")
    assert done["done_by"] == "handler.transport"
    [fact] = uow.events(contracts.ASSIGNMENT_MILESTONE_DONE)
    assert fact["payload"]["milestone"] == 1
    [reply] = uow.assignments.rows.of(Reply)
    assert reply.milestones[0]["note"] == "图纸已批"


def test_an_extension_past_the_latest_reply_date_is_refused_when_it_is_asked(uow, rules):
    """All extensions together reach the rulebook's max_extension from signing at most: one asked
    past it is refused when the unit asks (staff could only refuse it), by months or by a date."""
    unit_id = assigned(uow)
    act(uow, rules, "sign", unit_id)
    capped = DueIn(10, latest_days=40)  # the deadline in 10 days, the latest reply date in 40
    with pytest.raises(InvalidInput) as by_months:
        act(uow, rules, "request_extension", unit_id, clocks=capped, months=2, reason="预算周期")
    assert "at the latest" in by_months.value.message and "months" in by_months.value.details
    far = (clock.now().astimezone(CHINA_TZ) + timedelta(days=41)).date().isoformat()
    with pytest.raises(InvalidInput) as by_date:
        act(uow, rules, "request_extension", unit_id, clocks=capped, until=far, reason="预算周期")
    assert "until" in by_date.value.details
    assert uow.messages("extension_requested") == []
    within = (clock.now().astimezone(CHINA_TZ) + timedelta(days=40)).date().isoformat()
    assert act(uow, rules, "request_extension", unit_id, clocks=capped, until=within, reason="预算周期")["id"]


def test_an_extension_is_asked_before_the_deadline_and_its_approval_told_to_the_unit_once(uow, rules):
    unit_id = assigned(uow)
    act(uow, rules, "sign", unit_id)
    with pytest.raises(TooLate):
        act(uow, rules, "request_extension", unit_id, clocks=DueIn(-1), months=2, reason="预算周期")
    assert uow.messages("extension_requested") == []
    request = act(uow, rules, "request_extension", unit_id, clocks=DueIn(10), months=2, reason="预算周期")
    [asked] = uow.messages("extension_requested")
    assert asked["payload"]["request_id"] == request["id"]

    extended = {
        "event_id": "deadline.extended:1",
        "name": contracts.DEADLINE_EXTENDED,
        "occurred_at": clock.now().isoformat(),
        "subject": NUMBER,
        "payload": {"number": NUMBER, "until": "2026-09-30", "by": "staff.li"},
    }
    assert decisions.hear_extension(uow, extended) == {"request_id": request["id"], "status": "approved"}
    assert decisions.hear_extension(uow, extended) is None
    approvals = [p for key, p in uow.unit_events("transport") if key.endswith("extension_approved")]
    assert [p["until"] for p in approvals] == ["2026-09-30"]
    [shown] = queries.get_assignment(uow, unit_id, TRANSPORT)["extension_requests"]
    assert shown["decision"]["by"] == "staff.li"


class NoReopening(RulebookConsultationRules):
    """The rulebook with ``max_reopen: 0``: an unsatisfied resident does not send the case back."""

    def max_reopen(self) -> int:
        return 0


def test_a_case_goes_from_registration_to_closing_through_the_ports_alone(uow):
    rules = RulebookConsultationRules()
    assert directory.ensure_venues(uow, SEED) > 0
    raised = cases.register(uow, rules, {**CASE, "venue": "cp_jiefang"}, STAFF)
    number, case_id = raised["number"], uow.cases.case_numbered(raised["number"]).id
    assert number == "WX-2026-0001"
    [start] = [m for m in uow.sent if m["kind"] == "start"]
    assert (start["process_id"], start["business_key"]) == ("micro_consultation", number)

    steps.dispatch_case(
        uow,
        rules,
        {"case_id": case_id, "member": "member.li", "dispatched_by": "staff.wang"},
        None,
        members_directory_lacks,
    )
    steps.take_case(uow, rules, {"case_id": case_id, "accepted": True, "by": "member.li"}, None)
    steps.record_decision(uow, rules, {"case_id": case_id, "outcome": "meeting", "by": "member.li"}, None)
    meeting = {"case_id": case_id, "form": "on_site", "held_on": "2026-03-05", "summary": "现场协商", "by": "member.li"}
    steps.record_meeting(
        uow, rules, {**meeting, "units": ["transport"], "attendees": []}, None, members_directory_lacks
    )
    [asked] = uow.events("notify.consultation.commitment_requested")
    assert asked["payload"]["recipients"] == ["unit:transport"]
    cases.record_commitment(uow, number, {"actions": "更换路灯", "done_by": "2026-04-01"}, TRANSPORT)
    [made] = uow.messages("commitments_made")
    assert made["payload"] == {"units": ["transport"]}

    steps.schedule_follow_up(uow, rules, {"case_id": case_id}, None)
    steps.record_follow_up(uow, rules, {"case_id": case_id, "by": "member.li", "actions_done": True}, None)
    visit = {"case_id": case_id, "by": "member.li", "reached": True, "satisfaction": "unsatisfied"}
    assert steps.record_return_visit(uow, NoReopening(), visit, None)["reopen"] is False
    steps.close_case(uow, rules, {"case_id": case_id}, None)
    [closed] = uow.events("consultation.case_closed")
    assert closed["payload"]["satisfaction"] == "unsatisfied"
    seen = cases.get(uow, number, LI)
    assert seen["status"] == "closed"
    assert [e["action"] for e in seen["history"]][-2:] == ["return_visit", "closed"]


def test_each_worker_reads_the_rulebooks_as_they_are_now(tmp_path, monkeypatch):
    for name in ("proposal", "micro_consultation"):
        (tmp_path / f"{name}.yaml").write_text(
            (rulebooks.RULES_DIRECTORY / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    monkeypatch.setattr(rulebooks, "RULES_DIRECTORY", tmp_path)
    proposal_rules, consultation_rules = AssignmentService.rules, AssignmentService.consultation_rules
    assert "D" not in proposal_rules.get_dependency(None).reply_categories()
    assert consultation_rules.get_dependency(None).numbering_prefix() == "WX"

    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(
        proposal.read_text(encoding="utf-8").replace(
            "en: Explained (cannot be adopted), enabled: false", "en: Explained (cannot be adopted), enabled: true"
        ),
        encoding="utf-8",
    )
    consultation = tmp_path / "micro_consultation.yaml"
    consultation.write_text(
        consultation.read_text(encoding="utf-8").replace("prefix: WX", "prefix: XS"), encoding="utf-8"
    )
    assert "D" in proposal_rules.get_dependency(None).reply_categories(), "the next worker reads the new file"
    assert consultation_rules.get_dependency(None).numbering_prefix() == "XS"
