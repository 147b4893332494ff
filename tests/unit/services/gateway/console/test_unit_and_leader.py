"""The unit handler's and the leader's console pages without a browser: the committee's decisions
picked from an assignment's event log, the forms an assignment's state calls for, the API bodies of
the unit's forms, and the adopted reports still awaiting a leader's instruction."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from services.gateway.console import decisions, leader, unit

from .test_pages import B_ASSIGNMENT


def test_the_committees_decisions_come_from_the_assignments_event_log_newest_first():
    events = [
        {"at": "2026-11-01T08:00:00", "actor": "handler.zhao", "action": "objected", "data": {"reason": "不归我们"}},
        {
            "at": "2026-11-02T08:00:00",
            "actor": "staff.wang",
            "action": "objection_decided",
            "data": {"outcome": "kept", "decided_by": "staff.wang", "decided_at": "2026-11-02T08:00:00+00:00"}
            | {"assigned_to": ["transport"]},
        },
        {"at": "2026-11-03T08:00:00", "actor": "handler.zhao", "action": "extension_requested", "data": {"id": 1}},
        {
            "at": "2026-11-04T08:00:00",
            "actor": "staff.wang",
            "action": "extension_decided",
            "data": {"request_id": 1, "outcome": "refused", "decided_by": "staff.wang", "comment": "理由不足"}
            | {"decided_at": "2026-11-04T08:00:00+00:00"},
        },
        {
            "at": "2026-11-05T08:00:00",
            "actor": "staff.wang",
            "action": "sent_back",
            "data": {"comment": "请补充", "round": 1},
        },
        {"at": "2026-11-06T08:00:00", "actor": "system", "action": "appeal_decided", "data": {"decision": "rehandle"}},
    ]
    found = decisions.of({"events": events})
    assert [d["kind"] for d in found] == ["appeal_rehandle", "sent_back", "extension_refused", "objection_kept"]
    refused = found[2]
    assert (refused["by"], refused["comment"], refused["at"]) == ("staff.wang", "理由不足", "2026-11-04T08:00:00+00:00")
    assert found[3]["units"] == ["transport"] and found[1]["round"] == 1
    assert decisions.of({"events": None}) == [] and decisions.of({}) == []


def test_an_accepted_b_reply_offers_its_open_milestones_and_the_follow_up_and_no_extension():
    offered = unit.offers(B_ASSIGNMENT)
    assert [m["milestone"] for m in offered["milestones"]] == [2] and offered["followup"]
    assert not offered["extension"] and not offered["object"]
    followup = {"action": "followup_submitted", "data": {"text": "已完工"}}
    sent = dict(B_ASSIGNMENT, events=[*B_ASSIGNMENT["events"], followup])
    assert not unit.offers(sent)["followup"] and unit.offers(sent)["followup_sent"] == "已完工"
    not_yet = dict(B_ASSIGNMENT, events=[e for e in B_ASSIGNMENT["events"] if e["action"] != "reply_accepted"])
    assert unit.offers(not_yet) == {
        "object": False,
        "extension": False,
        "milestones": [],
        "followup": False,
        "followup_sent": "",
        "contact": True,
        "work": True,
    }


def test_a_signed_assignment_offers_an_extension_unless_one_waits_and_a_co_unit_never():
    signed = {"role": "single", "status": "signed", "objection": None, "replies": [], "extension_requests": []}
    assert unit.offers(signed)["extension"] and unit.offers(signed)["object"]
    waiting = dict(signed, extension_requests=[{"status": "requested"}])
    assert not unit.offers(waiting)["extension"]
    assert not unit.offers(dict(signed, role="co"))["extension"]
    assert not unit.offers(dict(signed, objection={"reason": "x"}))["object"]


def test_the_units_forms_become_the_api_bodies_months_or_a_date_as_chosen():
    form = MultiDict({"by": "months", "months": " 2 ", "until": "2027-05-01", "reason": "预算"})
    assert unit.body_of("extension", form) == {"reason": "预算", "months": 2}
    assert unit.body_of("extension", MultiDict({**form, "by": "until"})) == {"reason": "预算", "until": "2027-05-01"}
    assert unit.body_of("extension", MultiDict({"reason": "预算"})) == {"reason": "预算"}  # the API asks for one
    assert unit.body_of("extension", MultiDict({"by": "months", "months": "two"}))["months"] == "two"
    assert unit.body_of("milestone", MultiDict({"milestone": "1", "note": "完成"})) == {"milestone": 1, "note": "完成"}
    assert unit.body_of("object", MultiDict({"reason": "不归本单位"})) == {"reason": "不归本单位"}
    assert unit.body_of("followup", MultiDict({"text": "已解决"})) == {"text": "已解决"}
    met = MultiDict({"kind": "face_to_face", "held_on": "2026-11-28", "participants": " 王处长与李委员 ", "note": ""})
    assert unit.body_of("contact", met) == {
        "kind": "face_to_face",
        "held_on": "2026-11-28",
        "participants": "王处长与李委员",
        "note": None,  # nothing typed: no note
    }


def test_a_contact_is_offered_on_every_assignment_but_a_cancelled_one():
    assert unit.offers(B_ASSIGNMENT)["contact"]
    assert not unit.offers(dict(B_ASSIGNMENT, status="cancelled"))["contact"]


def test_each_adopted_report_without_an_instruction_on_its_channel_awaits_one():
    items = [
        {
            "number": "2026-S-2",
            "title": "b",
            "reports": [
                {"channel": "city_government", "adoption": "adopted", "adoption_at": "2026-11-02", "issue": "3"},
                {"channel": "provincial_committee", "adoption": "adopted", "adoption_at": "2026-11-03"},
                {"channel": "city_party_committee", "adoption": "not_adopted"},
            ],
            "instructions": [{"channel": "provincial_committee"}],
        },
        {"number": "2026-S-1", "title": "a", "reports": [{"channel": "city_government", "adoption": "adopted"}]},
        {"number": "2026-S-3", "title": "c", "status": "sent"},  # another member's, as published: no reports
    ]
    waiting = leader.awaiting_instruction(items)
    assert [(w["number"], w["channel"]) for w in waiting] == [  # in the items' order (the API's)
        ("2026-S-2", "city_government"),
        ("2026-S-1", "city_government"),
    ]
    assert waiting[0]["issue"] == "3"


def test_the_instruction_forms_choices_are_the_opinion_rulebooks():
    labels = leader.opinion_labels()
    assert [level["code"] for level in labels["instruction_levels"]] == ["city", "province", "national"]
    assert "city_government" in {c["code"] for c in labels["channels"]}


def test_only_the_unit_handler_sees_the_contact_form_and_everyone_sees_the_contacts():
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from services.gateway.console.views import Visit
    from shared.rulebook import current_rulebook

    request = Request(EnvironBuilder(path="/console/assignments/3").get_environ())
    kinds = current_rulebook("proposal").contact_kinds()
    for roles, form in ((["unit"], True), (["staff"], False)):
        html = (
            Visit(None, request, "token", {"user": "x", "roles": roles, "unit": "transport"}, "en")
            .render(
                "assignment.html",
                a=B_ASSIGNMENT,
                deadlines=[],
                categories=[],
                contact_kinds=kinds,
                offers=unit.offers(B_ASSIGNMENT),
            )
            .get_data(as_text=True)
        )
        assert ('id="contact-form"' in html) is form
        assert "Face-to-face meeting" in html and "王处长与李委员" in html  # the rulebook's label, the record
