"""办理沟通: a unit records its contact with the proposer; a face-to-face one before the reply
reaches the engine as the handling checklist's fact (见面沟通率)."""

from __future__ import annotations

import pytest
import yaml
from services.assignment import commands, contracts, queries
from services.assignment.models import AssignmentEvent, Contact
from services.assignment.rules import RulebookRules
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.rulebook import load_rulebook
from tests.unit.services.assignment.test_operations import (  # noqa: F401 - fixtures
    act,
    assign,
    engine_messages,
    handler,
    id_of,
    rules,
    signed_by_all,
    uow,
)

MEETING = {"kind": "face_to_face", "held_on": "2026-03-02", "participants": "王处长 met 委员 李明", "note": "On site"}


def contacts_recorded(uow) -> int:
    return len(uow.assignments.rows.of(Contact))


def test_a_unit_records_a_face_to_face_meeting_and_its_assignment_lists_it(uow, rules):
    unit_id = id_of(assign(uow), "transport")
    shown = act(uow, rules, "record_contact", "transport", unit_id, **MEETING)
    assert (shown["kind"], shown["face_to_face"], shown["held_on"], shown["round"]) == (
        "face_to_face",
        True,
        "2026-03-02",
        1,
    )
    assert shown["recorded_by"] == "handler.transport"
    listed = queries.get_assignment(uow, unit_id, handler("transport"))
    assert [c["id"] for c in listed["contacts"]] == [shown["id"]]
    assert listed["events"][-1]["action"] == "contact_recorded"


def test_a_phone_call_is_recorded_but_is_no_face_to_face_meeting(uow, rules):
    unit_id = id_of(assign(uow), "transport")
    shown = act(uow, rules, "record_contact", "transport", unit_id, **{**MEETING, "kind": "phone", "note": None})
    assert (shown["kind"], shown["face_to_face"], shown["note"]) == ("phone", False, None)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "carrier_pigeon"}, "kind"),
        ({"held_on": "2026-03-03"}, "held_on"),  # tomorrow
        ({"held_on": "2026-03-01"}, "held_on"),  # the day before the assignment
        ({"held_on": "not a date"}, "held_on"),
        ({"participants": ""}, "participants"),
    ],
)
def test_a_bad_contact_is_refused_naming_the_field_and_nothing_is_recorded(uow, rules, change, field):
    unit_id = id_of(assign(uow), "transport")
    with pytest.raises(InvalidInput) as refused:
        act(uow, rules, "record_contact", "transport", unit_id, **{**MEETING, **change})
    assert field in refused.value.details
    assert contacts_recorded(uow) == 0
    assert not [e for e in uow.assignments.rows.of(AssignmentEvent) if e.action == "contact_recorded"]


def test_the_kinds_come_from_the_rulebook(uow, tmp_path):
    text = (load_rulebook("proposal").path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["contact_kinds"].append({"code": "video", "zh": "视频会面", "en": "Video meeting", "face_to_face": True})
    (tmp_path / "proposal.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with_video = RulebookRules(load_rulebook("proposal", tmp_path / "proposal.yaml"))
    unit_id = id_of(assign(uow), "transport")
    shown = act(uow, with_video, "record_contact", "transport", unit_id, **{**MEETING, "kind": "video"})
    assert shown["face_to_face"] is True
    with pytest.raises(InvalidInput, match="'video' is not in the rulebook"):
        act(uow, RulebookRules(), "record_contact", "transport", unit_id, **{**MEETING, "kind": "video"})


def test_a_unit_records_contacts_on_its_own_assignments_only(uow, rules):
    result = assign(uow, "several")
    with pytest.raises(Forbidden):
        act(uow, rules, "record_contact", "education", id_of(result, "transport"), **MEETING)
    with pytest.raises(Forbidden):
        commands.run(
            uow,
            rules,
            "record_contact",
            {"assignment_id": id_of(result, "transport"), **MEETING},
            {"user": "staff.wang", "roles": ["staff"], "unit": None},
        )
    assert contacts_recorded(uow) == 0


def test_no_contact_is_recorded_on_a_cancelled_assignment(uow, rules):
    first = id_of(assign(uow), "transport")
    assign(uow, units=["education"])  # staff reassign: the first assignment is cancelled
    with pytest.raises(Conflict, match="cancelled"):
        act(uow, rules, "record_contact", "transport", first, **MEETING)


def test_no_contact_is_recorded_while_the_units_objection_waits_for_staff(uow, rules):
    """docs/unit-integration.md, step 3: while the objection is open, the assignment takes no other
    command until staff decide; once they keep the unit (same assignment id), contacts are recorded."""
    unit_id = id_of(assign(uow), "transport")
    act(uow, rules, "object", "transport", unit_id, reason="Housing's remit")
    with pytest.raises(Conflict, match="staff decide on the objection first"):
        act(uow, rules, "record_contact", "transport", unit_id, **MEETING)
    assert contacts_recorded(uow) == 0
    assert id_of(assign(uow), "transport") == unit_id  # staff keep the unit: the objection is overruled
    act(uow, rules, "record_contact", "transport", unit_id, **MEETING)
    assert contacts_recorded(uow) == 1


def submit(uow, rules, unit_id, unit="transport"):
    act(uow, rules, "draft_reply", unit, unit_id, category="A", text="Done")
    return act(uow, rules, "submit_reply", unit, unit_id)


def test_a_reply_after_a_face_to_face_meeting_tells_the_engine_so(uow, rules):
    result = assign(uow)
    signed_by_all(uow, rules, result)
    unit_id = id_of(result, "transport")
    act(uow, rules, "record_contact", "transport", unit_id, **{**MEETING, "kind": "letter"})
    act(uow, rules, "record_contact", "transport", unit_id, **MEETING)
    submit(uow, rules, unit_id)
    [message] = engine_messages(uow, contracts.REPLY_SUBMITTED)
    assert message["payload"]["face_to_face"] is True
    assert message["payload"]["replies"][0]["face_to_face"] is True


def test_a_reply_without_a_face_to_face_meeting_says_none_took_place(uow, rules):
    result = assign(uow)
    signed_by_all(uow, rules, result)
    unit_id = id_of(result, "transport")
    act(uow, rules, "record_contact", "transport", unit_id, **{**MEETING, "kind": "phone"})
    submit(uow, rules, unit_id)
    [message] = engine_messages(uow, contracts.REPLY_SUBMITTED)
    assert message["payload"]["face_to_face"] is False


def test_several_units_met_face_to_face_only_when_each_of_them_did(uow, rules):
    result = assign(uow, "several")
    signed_by_all(uow, rules, result)
    act(uow, rules, "record_contact", "transport", id_of(result, "transport"), **MEETING)
    submit(uow, rules, id_of(result, "transport"))
    submit(uow, rules, id_of(result, "education"), "education")
    [message] = engine_messages(uow, contracts.REPLY_SUBMITTED)
    met = {r["unit"]: r["face_to_face"] for r in message["payload"]["replies"]}
    assert (met, message["payload"]["face_to_face"]) == ({"transport": True, "education": False}, False)
