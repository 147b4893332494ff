"""Staff decisions recorded back on the unit's records: an objection decided by the reassignment
(``assignment.assign`` after the ``reassign`` task), an extension approved (supervision's
``deadline.extended`` event). Who, when, outcome, in the assignment's view and its event log."""

from __future__ import annotations

import uuid

import pytest
from services.assignment import commands, decisions, operations, queries
from services.assignment import contracts as assignment_contracts
from services.assignment.models import AssignmentEvent
from services.assignment.rules import RulebookRules
from shared import clock, contracts
from shared.errors import InvalidInput
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
UNITS = {"transport": "Transport Bureau", "education": "Education Bureau"}


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


def assign(uow, unit, actor=STAFF, number="2026-0001"):
    result = operations.assign(uow, {"proposal_id": 1, "number": number, "mode": "single", "units": [unit]}, actor)
    return result["assignments"][0]["id"]


def objected(uow, rules, unit="education"):
    first = assign(uow, unit)
    commands.run(uow, rules, "object", {"assignment_id": first, "reason": "not ours"}, handler(unit))
    return first


def test_a_reassignment_after_an_objection_records_the_decision_on_the_objection(uow, rules, skipping_clock):
    first = objected(uow, rules)
    skipping_clock.advance(hours=3)
    assign(uow, "transport", actor={"user": "staff.li", "roles": ["staff"]})

    view = queries.get_assignment(uow, first, handler("education"))
    assert view["objection"]["reason"] == "not ours"
    assert view["objection"]["decision"] == {
        "outcome": "reassigned",
        "by": "staff.li",
        "at": clock.now().isoformat(),
        "assigned_to": ["transport"],
    }
    assert "objection_decided" in [e["action"] for e in view["events"]]


def test_staff_keeping_the_unit_is_recorded_as_kept(uow, rules):
    first = objected(uow, rules)
    again = operations.assign(
        uow, {"proposal_id": 1, "number": "2026-0001", "mode": "single", "units": ["education"]}, STAFF
    )
    decision = queries.get_assignment(uow, first, STAFF)["objection"]["decision"]
    assert decision["outcome"] == "kept" and decision["by"] == "staff.wang"
    # The same assignment goes on, and supervision is told to keep its clocks (open_deadlines' kept_units).
    assert [a["id"] for a in again["assignments"]] == [first] and again["kept_units"] == ["education"]
    moved = operations.assign(
        uow, {"proposal_id": 1, "number": "2026-0001", "mode": "single", "units": ["transport"]}, STAFF
    )
    assert moved["kept_units"] == []


def test_an_objection_not_yet_decided_shows_no_decision(uow, rules):
    first = objected(uow, rules)
    assert queries.get_assignment(uow, first, STAFF)["objection"]["decision"] is None


def extended(number="2026-0001", until="2026-08-31", by="staff.li", event_id=None):
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "name": contracts.DEADLINE_EXTENDED,
        "occurred_at": clock.now().isoformat(),
        "subject": number,
        "members": [],
        "payload": {"number": number, "until": until, "previous_due": "2026-06-02", "by": by, "reason": "budget cycle"},
    }


def asked(uow, rules, unit="transport"):
    assignment = assign(uow, unit)
    commands.run(uow, rules, "sign", {"assignment_id": assignment}, handler(unit))
    request = commands.run(
        uow,
        rules,
        "request_extension",
        {"assignment_id": assignment, "until": "2026-09-30", "reason": "budget cycle"},
        handler(unit),
    )
    return assignment, request["id"]


def test_an_approved_extension_is_recorded_on_the_units_request(uow, rules):
    assignment, request_id = asked(uow, rules)
    body = extended()
    assert decisions.hear_extension(uow, body) == {"request_id": request_id, "status": "approved"}

    [request] = queries.get_assignment(uow, assignment, handler("transport"))["extension_requests"]
    assert request["status"] == "approved"
    assert request["decision"] == {
        "outcome": "approved",
        "by": "staff.li",
        "at": body["occurred_at"],
        "until": "2026-08-31",
    }


def test_a_redelivered_extension_event_changes_nothing(uow, rules):
    assignment, _ = asked(uow, rules)
    body = extended()
    decisions.hear_extension(uow, body)
    assert decisions.hear_extension(uow, body) is None
    entries = [e for e in uow.assignments.rows.of(AssignmentEvent) if e.action == "extension_decided"]
    assert len(entries) == 1


def test_a_request_not_yet_decided_shows_no_decision_and_an_extension_nobody_asked_for_changes_nothing(uow, rules):
    assignment, _ = asked(uow, rules)
    [request] = queries.get_assignment(uow, assignment, STAFF)["extension_requests"]
    assert (request["status"], request["decision"]) == ("requested", None)
    assert decisions.hear_extension(uow, extended(number="2026-0099")) is None


def test_a_malformed_extension_event_is_refused(uow, rules):
    asked(uow, rules)
    body = extended()
    del body["payload"]["until"]
    with pytest.raises(InvalidInput) as refused:
        decisions.hear_extension(uow, body)
    assert "until" in refused.value.details


def test_a_refused_extension_is_recorded_with_who_when_and_why(uow, rules):
    assignment, request_id = asked(uow, rules)
    params = {"number": "2026-0001", "request_id": request_id, "comment": "the budget cycle is no reason"}
    assert decisions.record_extension_refusal(uow, params, {"user": "staff.li", "roles": ["staff"]}) == {
        "request_id": request_id,
        "status": "refused",
    }
    assert decisions.record_extension_refusal(uow, params, STAFF)["status"] == "refused"  # again: no change

    [request] = queries.get_assignment(uow, assignment, handler("transport"))["extension_requests"]
    assert request["status"] == "refused"
    assert request["decision"] == {
        "outcome": "refused",
        "by": "staff.li",
        "at": clock.now().isoformat(),
        "comment": "the budget cycle is no reason",
    }


def test_refusing_another_proposals_request_is_a_business_error(uow, rules):
    from shared.errors import BusinessError

    _, request_id = asked(uow, rules)
    with pytest.raises(BusinessError) as refused:
        decisions.record_extension_refusal(uow, {"number": "2026-0099", "request_id": request_id}, STAFF)
    assert refused.value.code == "no_extension_request"


def test_each_units_request_gets_its_own_decision_when_two_units_asked_before_staff_decided(uow, rules):
    """Two answering units (mode several) both ask before staff decide the first: the approval
    carries the first request's id, so the first is approved and told to its unit, and the second
    still waits for its own decision (it was approved in the first one's place before)."""
    result = operations.assign(
        uow, {"proposal_id": 1, "number": "2026-0001", "mode": "several", "units": ["transport", "education"]}, STAFF
    )
    ids = {a["unit"]: a["id"] for a in result["assignments"]}
    requests = {}
    for unit, until in (("transport", "2026-09-30"), ("education", "2026-10-31")):
        commands.run(uow, rules, "sign", {"assignment_id": ids[unit]}, handler(unit))
        requests[unit] = commands.run(
            uow,
            rules,
            "request_extension",
            {"assignment_id": ids[unit], "until": until, "reason": "budget cycle"},
            handler(unit),
        )["id"]

    body = extended(until="2026-09-30")
    body["payload"]["request_id"] = requests["transport"]
    assert decisions.hear_extension(uow, body) == {"request_id": requests["transport"], "status": "approved"}

    def status(unit):
        [request] = queries.get_assignment(uow, ids[unit], STAFF)["extension_requests"]
        return request["status"]

    assert (status("transport"), status("education")) == ("approved", "requested")

    def approvals(unit):
        return [key for key, _ in uow.unit_events(unit) if key == f"{unit}.{assignment_contracts.EXTENSION_APPROVED}"]

    assert (len(approvals("transport")), len(approvals("education"))) == (1, 0)

    refusal = {"number": "2026-0001", "request_id": requests["education"], "comment": "no"}
    assert decisions.record_extension_refusal(uow, refusal, STAFF)["status"] == "refused"
    assert (status("transport"), status("education")) == ("approved", "refused")


def test_an_approval_naming_a_decided_or_foreign_request_changes_nothing(uow, rules):
    assignment, request_id = asked(uow, rules)
    decisions.record_extension_refusal(uow, {"number": "2026-0001", "request_id": request_id}, STAFF)
    body = extended()
    body["payload"]["request_id"] = request_id
    assert decisions.hear_extension(uow, body) is None  # refused already: an approval does not overturn it

    other = extended(number="2026-0099")
    other["payload"]["request_id"] = request_id  # the request is 2026-0001's
    assert decisions.hear_extension(uow, other) is None
    [request] = queries.get_assignment(uow, assignment, STAFF)["extension_requests"]
    assert request["status"] == "refused"


def test_two_objections_before_staff_decide_ask_staff_once_and_both_are_decided(uow, rules):
    """The second objection rides on the first: staff's one reassignment decides both, and the
    instance is not asked to open a second reassign task for an objection already decided."""
    result = operations.assign(
        uow, {"proposal_id": 1, "number": "2026-0001", "mode": "several", "units": ["transport", "education"]}, STAFF
    )
    ids = {a["unit"]: a["id"] for a in result["assignments"]}
    told = len([m for m in uow.sent if m.get("message") == "objection_raised" or m.get("name") == "objection_raised"])
    for unit in ("transport", "education"):
        commands.run(uow, rules, "object", {"assignment_id": ids[unit], "reason": "not ours"}, handler(unit))
    raised = [m for m in uow.sent if m.get("message") == "objection_raised" or m.get("name") == "objection_raised"]
    assert len(raised) - told == 1
    operations.assign(
        uow, {"proposal_id": 1, "number": "2026-0001", "mode": "several", "units": ["transport", "education"]}, STAFF
    )
    for unit in ("transport", "education"):
        decision = queries.get_assignment(uow, ids[unit], STAFF)["objection"]["decision"]
        assert decision["outcome"] == "kept"
    # Objected again after that decision: staff are asked again.
    commands.run(
        uow, rules, "object", {"assignment_id": ids["education"], "reason": "still not ours"}, handler("education")
    )
    again = [m for m in uow.sent if m.get("message") == "objection_raised" or m.get("name") == "objection_raised"]
    assert len(again) - told == 2
