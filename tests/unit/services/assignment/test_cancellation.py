"""An operator cancelled a process instance (the engine's ``process.cancelled``): what the
assignment service kept open for it is closed. A proposal's open assignments become ``cancelled``,
with the operator's reason in their log, their objections and extension requests closed, and each
unit told once on its own queue; a micro-consultation case becomes ``cancelled`` and its member is
told. Other processes, instances without a business key, unknown numbers and final records change
nothing; a malformed event is refused as every malformed event on the queue is."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from services.assignment import commands, contracts, decisions, operations, queries
from services.assignment.consultation import cases, directory, steps
from services.assignment.consultation.rules import RulebookConsultationRules
from services.assignment.models import AssignmentEvent, ExtensionRequest
from services.assignment.consultation.models import CaseEvent
from services.assignment.rules import RulebookRules
from services.assignment.service import AssignmentService
from shared import clock
from shared import contracts as shared_contracts
from shared.config import ROOT
from shared.errors import Conflict, InvalidInput
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork
from tests.support import process_cancelled, members_directory_lacks

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
LI = {"user": "member.li", "roles": ["member"], "unit": None}
NUMBER = "2026-0001"
UNITS = {"transport": "市交通运输局", "education": "市教育局", "housing": "市住房和城乡建设局"}
REASON = "重复立案，由 2026-0002 合并办理"
SEED = yaml.safe_load((ROOT / "deploy" / "seed" / "venues.yaml").read_text(encoding="utf-8"))
CASE = {
    "title": "小区门口路灯不亮",
    "description": "路灯损坏两个月。",
    "resident_name": "王秀英",
    "venue": "cp_jiefang",
}


def handler(unit):
    return {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}


@pytest.fixture(scope="module")
def rules():
    return RulebookRules()


@pytest.fixture
def uow(skipping_clock):
    fake = FakeAssignmentUnitOfWork()
    operations.ensure_units(fake, UNITS)
    return fake


def cancelled(business_key=NUMBER, process_id="proposal", instance_id="inst-1", **payload):
    """The engine's event, as it publishes it."""
    return process_cancelled(
        business_key, REASON, "ops.chen", process_id=process_id, instance_id=instance_id, payload=payload
    )


def assign(uow, units, mode="several", number=NUMBER):
    params = {"proposal_id": 1, "number": number, "mode": mode}
    params.update({"lead": units[0], "co_units": units[1:]} if mode == "lead_co" else {"units": units})
    result = operations.assign(uow, params, STAFF)
    return {a["unit"]: a["id"] for a in result["assignments"]}


def act(uow, rules, unit, command, assignment_id, **params):
    return commands.run(uow, rules, command, {"assignment_id": assignment_id, **params}, handler(unit))


def status_of(uow, assignment_id):
    return uow.assignments.assignment(assignment_id).status


def told(uow, unit, event=contracts.CANCELLED):
    return [payload for key, payload in uow.unit_events(unit) if key == f"{unit}.{event}"]


def log(uow, assignment_id, action):
    return [e.data for e in uow.assignments.history(assignment_id, action)]


def accepted(uow, number=NUMBER, round_=1, instance="rating-1"):
    decisions.hear_acceptance(
        uow,
        {
            "event_id": f"{instance}",
            "name": decisions.RATING_OPENED,
            "occurred_at": clock.now().isoformat(),
            "subject": number,
            "payload": {"round": round_},
        },
    )


# -- a proposal --------------------------------------------------------------------------------------


def test_every_open_assignment_of_the_proposal_is_cancelled_with_the_reason_and_its_unit_told(uow, rules):
    ids = assign(uow, ["transport", "education", "housing"])
    act(uow, rules, "education", "sign", ids["education"])
    act(uow, rules, "housing", "object", ids["housing"], reason="not ours")
    before = len(uow.sent)

    closed = decisions.hear_cancellation(uow, cancelled())

    assert sorted(closed["assignments"]) == sorted(ids.values()) and closed["case"] is None
    for unit, assignment_id in ids.items():
        row = uow.assignments.assignment(assignment_id)
        assert (row.status, row.cancelled_at) == ("cancelled", clock.now()), unit
        [entry] = log(uow, assignment_id, "cancelled")
        assert entry["reason"] == "process_cancelled" and entry["note"] == REASON and entry["by"] == "ops.chen"
        assert entry["event_id"] == "cancelled:inst-1" and entry["instance_id"] == "inst-1"
        [message] = told(uow, unit)
        assert message["reason"] == "process_cancelled" and message["note"] == REASON
        assert message["cancelled_by"] == "ops.chen" and message["assignment"]["status"] == "cancelled"
    assert log(uow, ids["education"], "cancelled")[0]["previous_status"] == "signed"
    # the unit's system reads what waited for staff and was closed with it
    assert [told(uow, unit)[0]["objection_closed"] for unit in ("transport", "education", "housing")] == [
        False,
        False,
        True,
    ]
    assert all(told(uow, unit)[0]["extension_requests_closed"] == [] for unit in ids)
    notices = [m for m in uow.sent[before:] if m["kind"] == "event" and m["name"] == "notify.assignment.cancelled"]
    assert sorted(n["payload"]["recipients"][0] for n in notices) == [
        "unit:education",
        "unit:housing",
        "unit:transport",
    ]
    assert all("提案办理流程已撤销" in n["payload"]["text"] and REASON in n["payload"]["text"] for n in notices)
    # Nothing for the engine (its instance is gone) nor a handling.* event: intake hears the cancellation itself.
    assert not [m for m in uow.sent[before:] if m["kind"] == "message" or m.get("name", "").startswith("handling.")]


def test_the_objection_waiting_for_staff_is_closed_as_cancelled(uow, rules):
    ids = assign(uow, ["transport"], mode="single")
    act(uow, rules, "transport", "object", ids["transport"], reason="not ours")
    decisions.hear_cancellation(uow, cancelled())
    decision = queries.get_assignment(uow, ids["transport"], STAFF)["objection"]["decision"]
    assert decision == {
        "outcome": "cancelled",
        "by": "ops.chen",
        "at": clock.now().isoformat(),
        "assigned_to": [],
        "comment": REASON,
    }


def test_an_open_extension_request_is_closed_and_a_later_approval_finds_nothing_to_approve(uow, rules):
    ids = assign(uow, ["transport"], mode="single")
    act(uow, rules, "transport", "sign", ids["transport"])
    act(uow, rules, "transport", "request_extension", ids["transport"], until="2026-12-31", reason="budget")

    decisions.hear_cancellation(uow, cancelled())

    [request] = queries.get_assignment(uow, ids["transport"], STAFF)["extension_requests"]
    assert request["status"] == "cancelled"
    [event] = told(uow, "transport")[-1:]
    assert event["extension_requests_closed"] == [request["id"]] and event["objection_closed"] is False
    assert request["decision"] == {
        "outcome": "cancelled",
        "by": "ops.chen",
        "at": clock.now().isoformat(),
        "comment": REASON,
    }
    extended = {
        "event_id": "extended-1",
        "name": shared_contracts.DEADLINE_EXTENDED,
        "occurred_at": clock.now().isoformat(),
        "subject": NUMBER,
        "payload": {"number": NUMBER, "until": "2026-12-31", "by": "staff.li"},
    }
    assert decisions.hear_extension(uow, extended) is None
    assert [r.status for r in uow.assignments.rows.of(ExtensionRequest)] == ["cancelled"]


def test_a_reply_staff_accepted_is_kept_its_unit_told_and_one_not_yet_accepted_is_cancelled(uow, rules):
    accepted_ids = assign(uow, ["transport"], mode="single")
    act(uow, rules, "transport", "sign", accepted_ids["transport"])
    act(uow, rules, "transport", "draft_reply", accepted_ids["transport"], category="A", text="已解决")
    act(uow, rules, "transport", "submit_reply", accepted_ids["transport"])
    accepted(uow)
    waiting = assign(uow, ["education"], mode="single", number="2026-0002")
    act(uow, rules, "education", "sign", waiting["education"])
    act(uow, rules, "education", "draft_reply", waiting["education"], category="A", text="已解决")
    act(uow, rules, "education", "submit_reply", waiting["education"])

    assert decisions.hear_cancellation(uow, cancelled())["assignments"] == [accepted_ids["transport"]]
    row = uow.assignments.assignment(accepted_ids["transport"])
    assert (row.status, row.cancelled_at) == ("replied", clock.now())
    [message] = told(uow, "transport")
    assert message["reason"] == "process_cancelled" and message["reply_kept"] is True
    assert message["assignment"]["status"] == "replied" and message["note"] == REASON

    other = decisions.hear_cancellation(uow, cancelled(business_key="2026-0002", instance_id="inst-2"))
    assert other["assignments"] == [waiting["education"]]
    assert status_of(uow, waiting["education"]) == "cancelled"
    [message] = told(uow, "education")
    assert message["reply_kept"] is False


def b_reply_accepted(uow, rules, unit="transport"):
    """A category B reply staff accepted: milestones and the follow-up are owed."""
    ids = assign(uow, [unit], mode="single")
    act(uow, rules, unit, "sign", ids[unit])
    act(
        uow,
        rules,
        unit,
        "draft_reply",
        ids[unit],
        category="B",
        text="列入计划",
        milestones=[{"what": "立项", "due": "2026-09-30"}, {"what": "完工", "due": "2026-12-31"}],
    )
    act(uow, rules, unit, "submit_reply", ids[unit])
    accepted(uow)
    return ids[unit]


def test_a_b_reply_accepted_keeps_its_reply_and_history_and_later_followups_and_milestones_are_refused(uow, rules):
    assignment_id = b_reply_accepted(uow, rules)
    act(uow, rules, "transport", "report_milestone", assignment_id, milestone=1, note="立项了")
    before = len(uow.sent)

    assert decisions.hear_cancellation(uow, cancelled())["assignments"] == [assignment_id]

    seen = queries.get_assignment(uow, assignment_id, handler("transport"))
    assert (seen["status"], seen["cancelled_at"]) == ("replied", clock.now().isoformat())
    assert seen["handling_cancelled"] == {
        "reason": "process_cancelled",
        "note": REASON,
        "by": "ops.chen",
        "at": clock.now().isoformat(),
        "reply_kept": True,
    }
    [reply] = seen["replies"]
    assert (reply["status"], reply["category"], reply["text"]) == ("submitted", "B", "列入计划")
    assert reply["milestones"][0]["done_at"] is not None  # what was reported stays
    actions = [e["action"] for e in seen["events"]]
    assert actions[-1] == "cancelled" and "reply_submitted" in actions and "milestone_done" in actions
    assert seen["events"][-1]["data"]["previous_status"] == "replied" and seen["events"][-1]["data"]["reply_kept"]
    listed = queries.assignment_page(uow, STAFF, {"number": NUMBER})["items"]
    assert [(a["status"], a["cancelled_at"]) for a in listed] == [("replied", clock.now().isoformat())]

    [message] = told(uow, "transport")
    assert (message["reason"], message["reply_kept"], message["cancelled_by"]) == (
        "process_cancelled",
        True,
        "ops.chen",
    )
    [notice] = [m for m in uow.sent[before:] if m.get("name") == "notify.assignment.cancelled"]
    assert notice["payload"]["recipients"] == ["unit:transport"]
    assert "答复予以保留" in notice["payload"]["text"] and f"原因：{REASON}" in notice["payload"]["text"]

    for command, params in (
        ("report_milestone", {"milestone": 2, "note": "完工"}),
        ("submit_followup", {"text": "已解决"}),
        ("record_contact", {"kind": "phone", "held_on": "2026-01-01", "participants": "张三"}),
        ("request_extension", {"until": "2026-12-31", "reason": "budget"}),
        ("draft_reply", {"category": "A", "text": "已解决"}),
    ):
        sent = len(uow.sent)
        with pytest.raises(Conflict) as refused:
            act(uow, rules, "transport", command, assignment_id, **params)
        message = str(refused.value)
        assert "handling of proposal 2026-0001 was cancelled by ops.chen" in message, (command, message)
        assert REASON in message and clock.now().isoformat() in message, (command, message)
        assert len(uow.sent) == sent, command
    assert "no follow-up or milestone report is owed" in message
    [kept] = queries.get_assignment(uow, assignment_id, STAFF)["replies"]
    assert kept["milestones"][1]["done_at"] is None


def test_heard_twice_after_an_accepted_reply_the_unit_is_told_once(uow, rules):
    assignment_id = b_reply_accepted(uow, rules)
    decisions.hear_cancellation(uow, cancelled())
    sent = len(uow.sent)
    assert decisions.hear_cancellation(uow, cancelled())["assignments"] == []
    assert len(uow.sent) == sent and len(told(uow, "transport")) == 1
    assert len(log(uow, assignment_id, "cancelled")) == 1


def test_a_rating_heard_after_the_cancellation_owes_the_unit_nothing(uow, rules):
    assignment_id = b_reply_accepted(uow, rules)
    decisions.hear_cancellation(uow, cancelled())
    sent = len(uow.sent)
    accepted(uow, instance="rating-late")
    assert len(uow.sent) == sent and len(log(uow, assignment_id, "followup_expected")) == 1


def test_the_units_notice_labels_the_operators_reason_and_a_reassignment_has_none(uow, rules):
    assign(uow, ["transport"], mode="single")
    assign(uow, ["education"], mode="single")
    decisions.hear_cancellation(uow, cancelled())
    texts = {
        m["payload"]["recipients"][0]: m["payload"]["text"]
        for m in uow.sent
        if m.get("name") == "notify.assignment.cancelled"
    }
    assert texts["unit:education"].endswith(f"请勿再办理此件。原因：{REASON}")
    assert texts["unit:transport"].endswith("请勿再办理此件。") and "原因" not in texts["unit:transport"]


def test_an_assignment_cancelled_before_by_a_reassignment_is_left_as_it_was(uow, rules):
    first = assign(uow, ["transport"], mode="single")
    second = assign(uow, ["education"], mode="single")
    [reassigned] = log(uow, first["transport"], "cancelled")
    assert reassigned["reason"] == "reassigned"
    [earlier] = told(uow, "transport")
    assert earlier["reason"] == "reassigned" and earlier["reason_zh"] == "已改交其他单位办理"

    assert decisions.hear_cancellation(uow, cancelled())["assignments"] == [second["education"]]
    assert len(log(uow, first["transport"], "cancelled")) == 1 and len(told(uow, "transport")) == 1


def test_heard_twice_it_cancels_and_tells_once(uow, rules):
    ids = assign(uow, ["transport", "education"], mode="lead_co")
    decisions.hear_cancellation(uow, cancelled())
    sent, logged = len(uow.sent), len(uow.assignments.rows.of(AssignmentEvent))

    assert decisions.hear_cancellation(uow, cancelled()) == {"assignments": [], "case": None}
    assert (len(uow.sent), len(uow.assignments.rows.of(AssignmentEvent))) == (sent, logged)
    assert [len(told(uow, unit)) for unit in ids] == [1, 1]


@pytest.mark.parametrize(
    "event",
    [
        cancelled(process_id="opinion"),
        cancelled(process_id="smoke"),
        cancelled(business_key=None),
        cancelled(business_key="2026-0099"),
        cancelled(business_key="", instance_id="inst-9"),
    ],
    ids=["another-process", "smoke", "no-business-key", "unknown-number", "empty-business-key"],
)
def test_another_process_no_business_key_or_an_unknown_number_changes_nothing(uow, event):
    ids = assign(uow, ["transport"], mode="single")
    sent, logged = len(uow.sent), len(uow.assignments.rows.of(AssignmentEvent))
    assert decisions.hear_cancellation(uow, event) == {"assignments": [], "case": None}
    assert status_of(uow, ids["transport"]) == "assigned"
    assert (len(uow.sent), len(uow.assignments.rows.of(AssignmentEvent))) == (sent, logged)


@pytest.mark.parametrize("missing", ["instance_id", "process_id", "reason", "by"])
def test_a_malformed_payload_is_refused_naming_the_field_and_changes_nothing(uow, missing):
    ids = assign(uow, ["transport"], mode="single")
    body = cancelled()
    del body["payload"][missing]
    sent = len(uow.sent)
    with pytest.raises(InvalidInput) as refused:
        decisions.hear_cancellation(uow, body)
    assert missing in refused.value.details
    assert status_of(uow, ids["transport"]) == "assigned" and len(uow.sent) == sent


def test_a_malformed_envelope_is_refused(uow):
    body = cancelled()
    del body["occurred_at"]
    with pytest.raises(InvalidInput):
        decisions.hear_cancellation(uow, body)


class Committed:
    def __init__(self):
        self.commits = 0
        self.noted = []  # the cancellations remembered for the jobs still queued

    def note_cancelled(self, body):
        self.noted.append(body)

    def commit(self):
        self.commits += 1


def test_the_services_events_listener_hands_the_event_to_the_cancellation_and_commits(uow):
    ids = assign(uow, ["transport"], mode="single")
    service = SimpleNamespace(uow=uow, db=Committed())
    AssignmentService.on_deadline_extended(service, cancelled())
    assert status_of(uow, ids["transport"]) == "cancelled" and service.db.commits == 1
    assert [body["payload"]["instance_id"] for body in service.db.noted] == ["inst-1"]
    broken = cancelled(instance_id="inst-2")
    broken["payload"].pop("reason")
    # Refused, as any malformed event on the queue: the listener's entrypoint dead-letters it with the reason.
    with pytest.raises(InvalidInput):
        AssignmentService.on_deadline_extended(service, broken)
    assert service.db.commits == 1


def test_the_events_queue_is_bound_to_every_event_the_service_acts_on():
    assert set(decisions.HEARD) == set(shared_contracts.subscriptions.ASSIGNMENT_HEARS)


@pytest.mark.parametrize(
    ("command", "params"),
    [
        ("sign", {}),
        ("object", {"reason": "not ours"}),
        ("draft_reply", {"category": "A", "text": "已解决"}),
        ("submit_reply", {}),
        ("request_extension", {"until": "2026-12-31", "reason": "budget"}),
        ("record_contact", {"kind": "phone", "held_on": "2026-01-01", "participants": "张三"}),
        ("submit_followup", {"text": "已解决"}),
        ("report_milestone", {"milestone": 1, "note": "done"}),
    ],
)
def test_a_unit_command_on_an_assignment_whose_process_was_cancelled_is_refused_saying_why(uow, rules, command, params):
    ids = assign(uow, ["transport"], mode="single")
    act(uow, rules, "transport", "sign", ids["transport"])
    decisions.hear_cancellation(uow, cancelled())
    with pytest.raises(Conflict) as refused:
        act(uow, rules, "transport", command, ids["transport"], **params)
    message = str(refused.value)
    assert "handling of proposal 2026-0001 was cancelled" in message and REASON in message, message
    # What a department's system can act on without reading the words (command.refused's details).
    cancelled_ = refused.value.details["cancelled"]
    assert cancelled_["reason"] == "process_cancelled" and cancelled_["note"] == REASON
    assert cancelled_["reply_kept"] is False and cancelled_["by"] == "ops.chen" and cancelled_["at"]


def test_a_command_on_a_reassigned_assignment_says_so_in_its_details(uow, rules):
    ids = assign(uow, ["transport"], mode="single")
    row = uow.assignments.assignment(ids["transport"])
    row.status = "cancelled"  # as staff's reassignment leaves it (no operator's cancellation in its log)
    with pytest.raises(Conflict) as refused:
        act(uow, rules, "transport", "sign", ids["transport"])
    assert refused.value.details == {"cancelled": {"reason": "reassigned"}}
    assert "staff reassigned" in str(refused.value)


def test_a_co_units_input_on_a_cancelled_assignment_is_refused(uow, rules):
    ids = assign(uow, ["transport", "education"], mode="lead_co")
    act(uow, rules, "education", "sign", ids["education"])
    decisions.hear_cancellation(uow, cancelled())
    for command in ("send_input", "cosign_reply"):
        with pytest.raises(Conflict, match="was cancelled"):
            act(
                uow,
                rules,
                "education",
                command,
                ids["education"],
                **({"text": "意见"} if command == "send_input" else {}),
            )


def test_a_command_on_a_reassigned_assignment_still_says_it_was_reassigned(uow, rules):
    first = assign(uow, ["transport"], mode="single")
    assign(uow, ["education"], mode="single")
    with pytest.raises(Conflict, match="when staff reassigned proposal 2026-0001"):
        act(uow, rules, "transport", "sign", first["transport"])


def test_cancelled_assignments_are_no_longer_among_the_proposals_live_ones(uow, rules):
    ids = assign(uow, ["transport", "education"])
    decisions.hear_cancellation(uow, cancelled())
    assert uow.assignments.active_assignments(NUMBER) == []
    assert uow.assignments.answering_units([NUMBER], contracts.ANSWERING_ROLES) == []
    assert queries.get_assignment(uow, ids["transport"], STAFF)["partners"] == []
    page = queries.assignment_page(uow, handler("transport"), {"status": "assigned"})
    assert page["items"] == []
    [shown] = queries.assignment_page(uow, handler("transport"), {"status": "cancelled"})["items"]
    assert shown["id"] == ids["transport"] and shown["cancelled_at"] == clock.now().isoformat()


# -- a micro-consultation case -----------------------------------------------------------------------


@pytest.fixture
def case_rules():
    return RulebookConsultationRules()


def registered(uow, case_rules):
    directory.ensure_venues(uow, SEED)
    number = cases.register(uow, case_rules, CASE, STAFF)["number"]
    return number, uow.cases.case_numbered(number).id


def taken_by_li(uow, case_rules):
    number, case_id = registered(uow, case_rules)
    steps.dispatch_case(
        uow,
        case_rules,
        {"case_id": case_id, "member": "member.li", "dispatched_by": "staff.wang"},
        None,
        members_directory_lacks,
    )
    steps.take_case(uow, case_rules, {"case_id": case_id, "accepted": True, "by": "member.li"}, None)
    return number, case_id


def case_cancelled(number):
    return cancelled(business_key=number, process_id="micro_consultation", instance_id="inst-case")


def test_a_taken_case_is_cancelled_with_the_reason_and_its_member_told(uow, case_rules):
    number, _ = taken_by_li(uow, case_rules)
    before = len(uow.sent)

    assert decisions.hear_cancellation(uow, case_cancelled(number)) == {"assignments": [], "case": number}

    seen = cases.get(uow, number, STAFF)
    assert seen["status"] == "cancelled" and seen["closed_at"] == clock.now().isoformat()
    assert (seen["close_reason"], seen["close_note"], seen["follow_up_due"]) == ("process_cancelled", REASON, None)
    last = seen["history"][-1]
    assert (last["action"], last["actor"]) == ("cancelled", "ops.chen")
    assert last["data"]["reason"] == REASON and last["data"]["previous_status"] == "taken"
    assert last["data"]["event_id"] == "cancelled:inst-case"
    [notice] = uow.events("notify.consultation.cancelled")
    assert notice["payload"]["recipients"] == ["member.li", "role:staff"]
    assert notice["payload"]["text"] == f"原因：{REASON}"
    # Nothing was resolved: no consultation.case_closed (it would count for the member's points).
    assert [m["name"] for m in uow.sent[before:]] == ["notify.consultation.cancelled"]


def test_heard_twice_the_case_is_cancelled_and_its_member_told_once(uow, case_rules):
    number, case_id = taken_by_li(uow, case_rules)
    decisions.hear_cancellation(uow, case_cancelled(number))
    sent, logged = len(uow.sent), len(uow.cases.rows.of(CaseEvent))
    assert decisions.hear_cancellation(uow, case_cancelled(number))["case"] is None
    assert (len(uow.sent), len(uow.cases.rows.of(CaseEvent))) == (sent, logged)
    assert len(uow.events("notify.consultation.cancelled")) == 1


def test_a_closed_case_stays_closed(uow, case_rules):
    number, case_id = taken_by_li(uow, case_rules)
    steps.close_case(uow, case_rules, {"case_id": case_id, "reason": "duplicate"}, None)
    sent = len(uow.sent)
    assert decisions.hear_cancellation(uow, case_cancelled(number))["case"] is None
    assert uow.cases.case(case_id).status == "closed" and len(uow.sent) == sent


def test_a_case_nobody_took_is_cancelled_and_only_staff_are_told(uow, case_rules):
    number, case_id = registered(uow, case_rules)
    assert decisions.hear_cancellation(uow, case_cancelled(number))["case"] == number
    assert uow.cases.case(case_id).status == "cancelled"
    [notice] = uow.events("notify.consultation.cancelled")
    assert notice["payload"]["recipients"] == ["role:staff"]


def test_an_unknown_case_number_changes_nothing(uow, case_rules):
    number, case_id = taken_by_li(uow, case_rules)
    assert decisions.hear_cancellation(uow, case_cancelled("WX-2026-0099"))["case"] is None
    assert uow.cases.case(case_id).status == "taken"


def after_a_meeting(uow, case_rules, units=("transport", "housing")):
    number, case_id = taken_by_li(uow, case_rules)
    steps.record_decision(uow, case_rules, {"case_id": case_id, "outcome": "meeting", "by": "member.li"}, None)
    meeting = {"case_id": case_id, "form": "on_site", "held_on": "2026-03-05", "summary": "现场协商", "by": "member.li"}
    steps.record_meeting(
        uow, case_rules, {**meeting, "units": list(units), "attendees": []}, None, members_directory_lacks
    )
    return number, case_id


def test_after_a_meeting_every_department_and_staff_are_told_once_and_pending_requests_are_closed(uow, case_rules):
    number, case_id = after_a_meeting(uow, case_rules)
    cases.record_commitment(uow, number, {"actions": "更换路灯", "done_by": "2026-04-01"}, handler("transport"))

    decisions.hear_cancellation(uow, case_cancelled(number))

    [notice] = uow.events("notify.consultation.cancelled")
    assert notice["payload"]["recipients"] == ["member.li", "unit:transport", "unit:housing", "role:staff"]
    assert {c.unit: c.status for c in uow.cases.commitments(case_id)} == {
        "transport": "committed",
        "housing": "cancelled",
    }
    for unit, view in (("housing", "cancelled"), ("transport", "committed")):
        [mine] = cases.get(uow, number, handler(unit))["commitments"]
        assert mine["status"] == view, unit
    last = cases.get(uow, number, STAFF)["history"][-1]
    assert last["data"]["commitments_cancelled"] == ["housing"] and last["data"]["previous_status"] == "meeting"
    # Heard again: nobody is told twice.
    decisions.hear_cancellation(uow, case_cancelled(number))
    assert len(uow.events("notify.consultation.cancelled")) == 1


@pytest.mark.parametrize("unit", ["housing", "transport"])
def test_a_commitment_on_a_cancelled_case_is_refused_naming_who_when_and_why(uow, case_rules, unit):
    number, _ = after_a_meeting(uow, case_rules)
    cases.record_commitment(uow, number, {"actions": "更换路灯", "done_by": "2026-04-01"}, handler("transport"))
    decisions.hear_cancellation(uow, case_cancelled(number))
    sent = len(uow.sent)
    with pytest.raises(Conflict) as refused:
        cases.record_commitment(uow, number, {"actions": "修路", "done_by": "2026-04-01"}, handler(unit))
    message = str(refused.value)
    assert f"case {number} was cancelled by ops.chen on {clock.in_words(clock.now().isoformat())}" in message, message
    assert REASON in message and "commitments are recorded after its meeting" not in message
    # and in details, for the department's system and the console (contracts.cancelled_details)
    assert refused.value.details == {
        "cancelled": {"reason": "process_cancelled", "by": "ops.chen", "at": clock.now().isoformat(), "note": REASON}
    }
    assert len(uow.sent) == sent


def test_a_step_of_a_cancelled_case_is_refused_naming_the_cancellation_before_it_reaches_the_process(uow, case_rules):
    number, _ = taken_by_li(uow, case_rules)
    assert cases.check_open(uow, number, LI) == {"number": number, "status": "taken"}
    decisions.hear_cancellation(uow, case_cancelled(number))
    for principal in (LI, STAFF):
        with pytest.raises(Conflict) as refused:
            cases.check_open(uow, number, principal)
        message = str(refused.value)
        assert (
            f"case {number} was cancelled by ops.chen on {clock.in_words(clock.now().isoformat())} ({REASON})"
            in message
        )
        assert refused.value.details["cancelled"]["note"] == REASON


def test_a_departments_refusal_hides_the_residents_name_in_the_reason(uow, case_rules):
    number, _ = after_a_meeting(uow, case_rules)
    decisions.hear_cancellation(
        uow, {**case_cancelled(number), "payload": {**case_cancelled(number)["payload"], "reason": "王秀英撤回诉求"}}
    )
    with pytest.raises(Conflict) as refused:
        cases.record_commitment(uow, number, {"actions": "修路", "done_by": "2026-04-01"}, handler("housing"))
    assert "王秀英" not in str(refused.value) and "撤回诉求" in str(refused.value)
    assert "王秀英" not in str(refused.value.details)  # the details are masked as the words are
    with pytest.raises(Conflict) as refused:
        cases.check_open(uow, number, handler("housing"))
    assert "王秀英" not in str(refused.value)


def test_a_late_close_job_leaves_a_cancelled_case_cancelled(uow, case_rules):
    number, case_id = taken_by_li(uow, case_rules)
    decisions.hear_cancellation(uow, case_cancelled(number))
    sent = len(uow.sent)
    assert steps.close_case(uow, case_rules, {"case_id": case_id, "reason": "duplicate"}, None)["status"] == "cancelled"
    assert uow.cases.case(case_id).close_reason == "process_cancelled" and len(uow.sent) == sent


def test_a_proposal_cancellation_leaves_a_case_of_the_same_number_alone_and_the_other_way_round(uow, case_rules, rules):
    number, case_id = taken_by_li(uow, case_rules)
    ids = assign(uow, ["transport"], mode="single", number=number)
    decisions.hear_cancellation(uow, cancelled(business_key=number))
    assert uow.cases.case(case_id).status == "taken"
    decisions.hear_cancellation(uow, case_cancelled(number))
    assert uow.cases.case(case_id).status == "cancelled" and status_of(uow, ids["transport"]) == "cancelled"
    assert len(told(uow, "transport")) == 1


@pytest.mark.parametrize("process_id", ["opinion", "smoke"])
def test_another_process_with_the_same_key_as_a_case_and_a_proposal_changes_neither(uow, case_rules, process_id):
    number, case_id = taken_by_li(uow, case_rules)
    ids = assign(uow, ["transport"], mode="single", number=number)
    sent = len(uow.sent)
    assert decisions.hear_cancellation(uow, cancelled(business_key=number, process_id=process_id)) == {
        "assignments": [],
        "case": None,
    }
    assert uow.cases.case(case_id).status == "taken" and status_of(uow, ids["transport"]) == "assigned"
    assert len(uow.sent) == sent


def test_the_follow_up_of_a_round_is_submitted_once(uow, rules):
    """The engine takes the first follow-up of a round and no other: a second is refused here,
    saying when the first was sent, instead of being kept and lost."""
    from shared.errors import Conflict

    assignment_id = b_reply_accepted(uow, rules)
    first = act(uow, rules, "transport", "submit_followup", assignment_id, text="已全部完成")
    assert first["text"] == "已全部完成"
    sent = len(uow.sent)
    with pytest.raises(Conflict) as refused:
        act(uow, rules, "transport", "submit_followup", assignment_id, text="更正：已全部完成二")
    assert "is submitted once" in refused.value.message and refused.value.details["submitted_at"]
    assert len(uow.sent) == sent  # nothing told the engine
    events = [e["action"] for e in queries.get_assignment(uow, assignment_id, handler("transport"))["events"]]
    assert events.count("followup_submitted") == 1
