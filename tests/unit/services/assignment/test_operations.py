"""The assignment rules (交 assign, 办 handle) over the service's ports (in-memory fakes), with a skipping clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.assignment import commands, contracts, operations, queries
from services.assignment.models import AssignmentEvent, Base, Reply
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.assignment.rules import RulebookRules
from shared.config import ROOT
from shared.errors import BusinessError, Conflict, Forbidden, InvalidInput, NotFound
from shared.rulebook import load_rulebook
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork
from tests.support import FAR_YEAR

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
MEMBER = {"user": "member.li", "roles": ["member"], "unit": None}
UNITS = {
    "transport": "Transport Bureau",
    "education": "Education Bureau",
    "health": "Health Commission",
    "housing": "Housing Bureau",
}


PLAN = [
    {"what": "Design approved", "due": f"{FAR_YEAR}-03-31"},
    {"what": "Crossings built", "due": f"{FAR_YEAR}-09-30"},
]
PROMISED = [
    {"milestone": 1, "what": "Design approved", "due": f"{FAR_YEAR}-03-31"},
    {"milestone": 2, "what": "Crossings built", "due": f"{FAR_YEAR}-09-30"},
]


def handler(unit: str) -> dict:
    return {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def rules():
    return RulebookRules()


@pytest.fixture
def uow(skipping_clock):
    """The service's unit of work over in-memory rows: the rules run without a database."""
    fake = FakeAssignmentUnitOfWork()
    operations.ensure_units(fake, UNITS)
    return fake


def assign(uow, mode="single", number="2026-0001", **params) -> dict:
    defaults = {
        "single": {"units": ["transport"]},
        "several": {"units": ["transport", "education"]},
        "lead_co": {"lead": "transport", "co_units": ["education", "health"]},
    }[mode]
    return operations.assign(uow, {"proposal_id": 1, "number": number, "mode": mode, **defaults, **params}, STAFF)


def id_of(result: dict, unit: str) -> int:
    return next(a["id"] for a in result["assignments"] if a["unit"] == unit)


def act(uow, rules, command: str, unit: str, assignment_id: int, **params) -> dict:
    return commands.run(uow, rules, command, {"assignment_id": assignment_id, **params}, handler(unit))


def signed_by_all(uow, rules, result) -> None:
    for a in result["assignments"]:
        act(uow, rules, "sign", a["unit"], a["id"])


def engine_messages(uow, name: str | None = None) -> list[dict]:
    """The BPMN messages sent, as the outbox keeps them: name, correlation key, message id, payload."""
    return [{k: v for k, v in m.items() if k != "kind"} for m in uow.messages(name)]


def unit_events(uow, unit: str) -> list[tuple[str, dict]]:
    return uow.unit_events(unit)


def status_of(uow, assignment_id: int) -> str:
    return uow.assignments.assignment(assignment_id).status


# -- 交 assign ----------------------------------------------------------------------------------


def test_single_unit_assignment_goes_to_that_units_queue(uow):
    result = assign(uow, "single")
    assert [(a["unit"], a["role"]) for a in result["assignments"]] == [("transport", "single")]
    assert result["answering_units"] == ["transport"]
    [(key, payload)] = unit_events(uow, "transport")
    assert key == "transport.assignment.created"
    assert payload["assignment"]["id"] == result["assignments"][0]["id"]
    assert payload["assignment"]["number"] == "2026-0001" and payload["mode"] == "single"
    assert unit_events(uow, "education") == []


def test_several_units_each_answer(uow):
    result = assign(uow, "several", units=["transport", "education", "health"])
    assert {a["role"] for a in result["assignments"]} == {"several"}
    assert result["answering_units"] == ["transport", "education", "health"]
    assert all(len(unit_events(uow, u)) == 1 for u in ("transport", "education", "health"))


def test_lead_and_co_units_only_the_lead_answers(uow):
    result = assign(uow, "lead_co", lead="transport", co_units=["education", "health"])
    assert [(a["unit"], a["role"]) for a in result["assignments"]] == [
        ("transport", "lead"),
        ("education", "co"),
        ("health", "co"),
    ]
    assert result["answering_units"] == ["transport"]
    _, created = unit_events(uow, "health")[0]
    assert {(a["unit"], a["role"]) for a in created["assignments"]} >= {("transport", "lead")}


def test_the_handling_event_names_the_units_as_the_directory_does(uow):
    assign(uow, "lead_co", lead="transport", co_units=["education"])
    [event] = uow.events("handling.assigned")
    assert event["payload"]["units"] == ["transport", "education"]
    # intake names them to the proposers with these (not by code)
    assert event["payload"]["unit_names"] == {"transport": "Transport Bureau", "education": "Education Bureau"}


@pytest.mark.parametrize(
    "mode, params, field",
    [
        ("single", {"units": ["transport", "education"]}, "units"),
        ("single", {"units": []}, "units"),
        ("single", {"units": ["transport"], "lead": "transport"}, "lead"),
        ("several", {"units": ["transport"]}, "units"),
        ("several", {"units": ["transport", "transport"]}, "units"),
        ("several", {"units": ["transport", "education"], "co_units": ["health"]}, "co_units"),
        ("lead_co", {"lead": None, "co_units": ["education"]}, "lead"),
        ("lead_co", {"lead": "transport", "co_units": []}, "co_units"),
        ("lead_co", {"lead": "transport", "co_units": ["transport", "education"]}, "co_units"),
        ("lead_co", {"lead": "transport", "co_units": ["education"], "units": ["transport", "health"]}, "units"),
    ],
)
def test_a_mode_that_does_not_fit_its_units_is_refused_as_invalid_input(uow, mode, params, field):
    with pytest.raises(InvalidInput) as refused:
        operations.assign(uow, {"proposal_id": 1, "number": "2026-0001", "mode": mode, **params}, STAFF)
    assert field in refused.value.details
    assert uow.assignments.assignments() == []


def test_an_unknown_unit_is_the_business_error_no_unit_and_nothing_is_assigned(uow):
    with pytest.raises(BusinessError) as refused:
        assign(uow, "lead_co", lead="transport", co_units=["no-such-bureau", "education"])
    assert refused.value.code == "no_unit" and "no-such-bureau" in refused.value.message
    assert uow.assignments.assignments() == []


def test_reassignment_cancels_the_earlier_assignments_and_tells_their_units(uow, rules):
    first = assign(uow, "single", units=["transport"])
    act(uow, rules, "object", "transport", id_of(first, "transport"), reason="Not our remit")
    second = assign(uow, "single", units=["housing"])
    assert status_of(uow, id_of(first, "transport")) == "cancelled"
    assert status_of(uow, id_of(second, "housing")) == "assigned"
    assert [key for key, _ in unit_events(uow, "transport")] == [
        "transport.assignment.created",
        "transport.assignment.cancelled",
    ]
    with pytest.raises(Conflict, match="cancelled"):
        act(uow, rules, "sign", "transport", id_of(first, "transport"))


def test_the_smoke_diagrams_one_unit_assignment_still_works(uow):
    result = operations.assign_unit(uow, {"submission_id": 9, "unit": "transport"}, STAFF, number="SMOKE-1")
    row = uow.assignments.assignment(result["assignment_id"])
    assert (row.number, row.proposal_id, row.unit, row.role) == ("SMOKE-1", 9, "transport", "single")
    with pytest.raises(BusinessError, match="no-such"):
        operations.assign_unit(uow, {"submission_id": 9, "unit": "no-such-bureau"}, STAFF)


# -- who may act --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, params",
    [
        ("sign", {}),
        ("object", {"reason": "x"}),
        ("draft_reply", {"category": "A", "text": "x"}),
        ("submit_reply", {}),
        ("request_extension", {"months": 1, "reason": "x"}),
    ],
)
def test_a_unit_cannot_act_on_another_units_assignment(uow, rules, command, params):
    result = assign(uow, "single", units=["transport"])
    with pytest.raises(Forbidden, match="another unit"):
        act(uow, rules, command, "education", id_of(result, "transport"), **params)
    assert status_of(uow, id_of(result, "transport")) == "assigned"
    assert uow.assignments.rows.of(Reply) == [] and engine_messages(uow) == []


def test_staff_cannot_sign_for_a_unit(uow, rules):
    result = assign(uow)
    with pytest.raises(Forbidden):
        commands.run(uow, rules, "sign", {"assignment_id": id_of(result, "transport")}, STAFF)
    assert status_of(uow, id_of(result, "transport")) == "assigned"


def test_a_unit_lists_and_reads_only_its_own_assignments_while_staff_see_all(uow):
    assign(uow, "several", number="2026-0001", units=["transport", "education"])
    other = assign(uow, "single", number="2026-0002", units=["education"])
    assert [a["number"] for a in queries.list_assignments(uow, handler("transport"))] == ["2026-0001"]
    assert len(queries.list_assignments(uow, STAFF)) == 3
    assert [a["unit"] for a in queries.list_assignments(uow, STAFF, "2026-0002")] == ["education"]
    with pytest.raises(Forbidden):
        queries.get_assignment(uow, id_of(other, "education"), handler("transport"))
    assert queries.get_assignment(uow, id_of(other, "education"), STAFF)["unit"] == "education"
    with pytest.raises(Forbidden):
        queries.list_assignments(uow, MEMBER)
    with pytest.raises(NotFound):
        queries.get_assignment(uow, 999, STAFF)


def test_the_assignments_list_is_a_page_newest_first_with_its_total(uow):
    for n in range(1, 8):  # seven proposals to transport, one of them to education as well
        assign(
            uow,
            "several" if n == 3 else "single",
            number=f"2026-{n:04d}",
            units=["transport", "education"][: 2 if n == 3 else 1],
        )
    page = queries.assignment_page(uow, handler("transport"), {"per_page": "3"})
    assert (page["page"], page["per_page"], page["total"]) == (1, 3, 7)
    assert [a["number"] for a in page["items"]] == ["2026-0007", "2026-0006", "2026-0005"]
    last = queries.assignment_page(uow, handler("transport"), {"per_page": "3", "page": "3"})
    assert [a["number"] for a in last["items"]] == ["2026-0001"]
    assert queries.assignment_page(uow, handler("transport"), {"page": "4", "per_page": "3"})["items"] == []
    # staff see every unit's; the filters narrow it
    assert queries.assignment_page(uow, STAFF)["total"] == 8
    assert [a["unit"] for a in queries.assignment_page(uow, STAFF, {"number": "2026-0003"})["items"]] == [
        "education",
        "transport",
    ]
    assert queries.assignment_page(uow, handler("education"), {"status": "assigned"})["total"] == 1
    assert queries.assignment_page(uow, handler("education"), {"status": "signed"})["total"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "201"}, "per_page"),
        ({"page": "0"}, "page"),
        ({"page": "one"}, "page"),
        ({"status": "finished"}, "status"),
    ],
)
def test_a_nonsense_page_of_assignments_is_refused_with_the_field_named(uow, query, field):
    with pytest.raises(InvalidInput) as refused:
        queries.assignment_page(uow, STAFF, query)
    assert field in refused.value.details


def test_only_staff_and_units_see_a_page_of_assignments(uow):
    assign(uow)
    with pytest.raises(Forbidden):
        queries.assignment_page(uow, MEMBER)


# -- 签收 sign, 异议 object -------------------------------------------------------------------------


def test_signing_records_when_the_unit_signed_and_signing_again_changes_nothing(uow, rules, skipping_clock):
    result = assign(uow)
    first = act(uow, rules, "sign", "transport", id_of(result, "transport"))
    skipping_clock.advance(days=1)
    again = act(uow, rules, "sign", "transport", id_of(result, "transport"))
    assert first["status"] == "signed" and first["signed_at"] == "2026-03-02T09:00:00+00:00"
    assert again["signed_at"] == first["signed_at"]
    actions = [e.action for e in uow.assignments.rows.of(AssignmentEvent)]
    assert actions == ["assigned", "signed"]


def test_an_objection_inside_the_window_counts_working_days_and_tells_the_engine(uow, rules, skipping_clock):
    # Assigned Wednesday 29 April 2026 (10:00 in Beijing). Five working days skip the Labour Day
    # holiday (1-5 May) and end on Saturday 9 May, a make-up working day.
    skipping_clock.set(utc(2026, 4, 29, 2, 0))
    result = assign(uow)
    skipping_clock.set(utc(2026, 5, 9, 15, 30))  # 23:30 on 9 May in Beijing: the last day
    answer = act(uow, rules, "object", "transport", id_of(result, "transport"), reason="Housing's remit")
    assert answer["status"] == "objected" and answer["objection"]["reason"] == "Housing's remit"
    [message] = engine_messages(uow, "objection_raised")
    assert message["correlation_key"] == "2026-0001"
    assert message["payload"] == {
        "unit": "transport",
        "reason": "Housing's remit",
        "assignment_id": id_of(result, "transport"),
    }


def test_an_objection_after_the_window_is_a_conflict_and_tells_no_one(uow, rules, skipping_clock):
    skipping_clock.set(utc(2026, 4, 29, 2, 0))
    result = assign(uow)
    skipping_clock.set(utc(2026, 5, 9, 16, 30))  # 00:30 on 10 May in Beijing: one day late
    with pytest.raises(Conflict, match="closed at the end of 2026-05-09") as refused:
        act(uow, rules, "object", "transport", id_of(result, "transport"), reason="Too late")
    assert refused.value.details["objection_window"]["amount"] == 5
    assert status_of(uow, id_of(result, "transport")) == "assigned"
    assert engine_messages(uow) == []


def test_no_objection_once_the_reply_is_submitted(uow, rules):
    result = assign(uow)
    unit_id = id_of(result, "transport")
    act(uow, rules, "sign", "transport", unit_id)
    act(uow, rules, "draft_reply", "transport", unit_id, category="A", text="Done")
    act(uow, rules, "submit_reply", "transport", unit_id)
    with pytest.raises(Conflict, match="too late to object"):
        act(uow, rules, "object", "transport", unit_id, reason="Second thoughts")
    assert engine_messages(uow, "objection_raised") == []


def test_an_objecting_unit_waits_for_staff_before_handling(uow, rules):
    result = assign(uow)
    act(uow, rules, "object", "transport", id_of(result, "transport"), reason="Not ours")
    with pytest.raises(Conflict, match="staff decide"):
        act(uow, rules, "sign", "transport", id_of(result, "transport"))


# -- 办 handle ----------------------------------------------------------------------------------


def test_handling_starts_with_signing_for_the_assignment(uow, rules):
    result = assign(uow)
    with pytest.raises(Conflict, match="签收"):
        act(uow, rules, "draft_reply", "transport", id_of(result, "transport"), category="A", text="x")
    assert uow.assignments.rows.of(Reply) == []


def test_a_co_units_input_reaches_the_lead(uow, rules):
    result = assign(uow, "lead_co", lead="transport", co_units=["education"])
    signed_by_all(uow, rules, result)
    sent = act(uow, rules, "send_input", "education", id_of(result, "education"), text="Bus lanes near schools")
    assert sent["to"] == "transport"
    key, payload = unit_events(uow, "transport")[-1]
    assert key == "transport.assignment.input_received"
    assert payload["input"]["from_unit"] == "education" and payload["input"]["text"] == "Bus lanes near schools"
    lead_view = queries.get_assignment(uow, id_of(result, "transport"), handler("transport"))
    assert [i["text"] for i in lead_view["inputs"]] == ["Bus lanes near schools"]
    with pytest.raises(Conflict, match="only a co-unit"):
        act(uow, rules, "send_input", "transport", id_of(result, "transport"), text="to myself")


def test_a_reply_category_must_be_one_the_rulebook_enables(uow, rules, tmp_path):
    result = assign(uow)
    unit_id = id_of(result, "transport")
    act(uow, rules, "sign", "transport", unit_id)
    with pytest.raises(InvalidInput) as refused:
        act(uow, rules, "draft_reply", "transport", unit_id, category="D", text="Explained")
    assert refused.value.details == {"category": ["must be one of: A, B, C"]}
    with_d = tmp_path / "proposal.yaml"
    with_d.write_text(
        (ROOT / "bpmn" / "rules" / "proposal.yaml")
        .read_text(encoding="utf-8")
        .replace("enabled: false", "enabled: true"),
        encoding="utf-8",
    )
    committee_with_d = RulebookRules(load_rulebook("proposal", with_d))
    draft = act(uow, committee_with_d, "draft_reply", "transport", unit_id, category="D", text="Explained")
    assert draft["category"] == "D" and draft["status"] == "draft"


def test_a_co_unit_neither_drafts_nor_submits_and_a_lead_does_not_cosign(uow, rules):
    result = assign(uow, "lead_co", lead="transport", co_units=["education"])
    signed_by_all(uow, rules, result)
    with pytest.raises(Conflict, match="co-unit does not reply"):
        act(uow, rules, "draft_reply", "education", id_of(result, "education"), category="A", text="x")
    with pytest.raises(Conflict, match="only a co-unit co-signs"):
        act(uow, rules, "cosign_reply", "transport", id_of(result, "transport"))


def test_submitting_is_refused_until_every_co_unit_cosigned(uow, rules):
    result = assign(uow, "lead_co", lead="transport", co_units=["education", "health"])
    signed_by_all(uow, rules, result)
    lead = id_of(result, "transport")
    act(uow, rules, "draft_reply", "transport", lead, category="B", text="Planned for 2027", milestones=PLAN)
    with pytest.raises(Conflict) as refused:
        act(uow, rules, "submit_reply", "transport", lead)
    assert refused.value.details == {"missing_cosignatures": ["education", "health"]}
    act(uow, rules, "cosign_reply", "education", id_of(result, "education"))
    with pytest.raises(Conflict, match="not yet: health"):
        act(uow, rules, "submit_reply", "transport", lead)
    assert engine_messages(uow) == []
    act(uow, rules, "cosign_reply", "health", id_of(result, "health"))
    submitted = act(uow, rules, "submit_reply", "transport", lead)
    assert submitted["status"] == "submitted" and submitted["all_units_replied"] is True
    [message] = engine_messages(uow, "reply_submitted")
    assert message["correlation_key"] == "2026-0001"
    submitted_at = message["payload"].pop("submitted_at")  # supervision judges on time at it
    assert datetime.fromisoformat(submitted_at).tzinfo is not None
    assert message["payload"]["replies"][0].pop("submitted_at") == submitted_at  # the lead's own, the last
    assert message["payload"] == {
        "round": 1,
        "category": "B",
        "replies": [
            {
                "unit": "transport",
                "category": "B",
                "text": "Planned for 2027",
                "milestones": PROMISED,
                "face_to_face": False,
            }
        ],
        "face_to_face": False,  # no contact recorded (test_contacts.py records some)
    }
    assert {status_of(uow, a["id"]) for a in result["assignments"]} == {"replied"}


def test_a_redrafted_reply_needs_new_cosignatures(uow, rules):
    result = assign(uow, "lead_co", lead="transport", co_units=["education"])
    signed_by_all(uow, rules, result)
    lead = id_of(result, "transport")
    act(uow, rules, "draft_reply", "transport", lead, category="B", text="First draft", milestones=PLAN)
    act(uow, rules, "cosign_reply", "education", id_of(result, "education"))
    act(uow, rules, "draft_reply", "transport", lead, category="A", text="Second draft")
    with pytest.raises(Conflict, match="not yet: education"):
        act(uow, rules, "submit_reply", "transport", lead)
    [(_, drafted)] = [e for e in unit_events(uow, "education") if e[0].endswith("reply_drafted")][-1:]
    assert drafted["reply"]["text"] == "Second draft" and drafted["reply"]["revision"] == 2


def test_several_units_reply_reaches_the_engine_only_when_all_submitted(uow, rules):
    result = assign(uow, "several", units=["transport", "education"])
    signed_by_all(uow, rules, result)
    act(uow, rules, "draft_reply", "transport", id_of(result, "transport"), category="A", text="Solved")
    first = act(uow, rules, "submit_reply", "transport", id_of(result, "transport"))
    assert first["all_units_replied"] is False and engine_messages(uow) == []
    act(uow, rules, "draft_reply", "education", id_of(result, "education"), category="C", text="Later")
    last = act(uow, rules, "submit_reply", "education", id_of(result, "education"))
    assert last["all_units_replied"] is True
    [message] = engine_messages(uow, "reply_submitted")
    assert message["payload"]["category"] == "C"  # the least favourable of A and C
    # each unit's own submission, for supervision to judge each on time (分办)
    submitted = {r["unit"]: r.pop("submitted_at") for r in message["payload"]["replies"]}
    assert submitted == {"transport": first["submitted_at"], "education": last["submitted_at"]}
    assert message["payload"]["replies"] == [
        {"unit": "transport", "category": "A", "text": "Solved", "milestones": [], "face_to_face": False},
        {"unit": "education", "category": "C", "text": "Later", "milestones": [], "face_to_face": False},
    ]


def test_an_extension_request_tells_the_engine_and_comes_before_the_reply(uow, rules):
    result = assign(uow)
    unit_id = id_of(result, "transport")
    act(uow, rules, "sign", "transport", unit_id)
    with pytest.raises(InvalidInput) as refused:
        act(uow, rules, "request_extension", "transport", unit_id, until="2026-03-01", reason="x")
    assert "until" in refused.value.details
    with pytest.raises(InvalidInput) as mistyped:  # a year no plan reaches: refused when given
        act(uow, rules, "request_extension", "transport", unit_id, until="2999-12-31", reason="x")
    assert "must be by" in str(mistyped.value.details["until"])
    with pytest.raises(InvalidInput) as far:
        act(
            uow,
            rules,
            "draft_reply",
            "transport",
            unit_id,
            category="B",
            text="Planned",
            milestones=[PLAN[0], {"what": "Someday", "due": "2999-12-31"}],
        )
    assert list(far.value.details["milestones"]) == ["1"] and "years from today" in str(far.value.details)
    with pytest.raises(InvalidInput):
        act(uow, rules, "request_extension", "transport", unit_id, until="2026-07-01", months=2, reason="x")
    asked = act(
        uow, rules, "request_extension", "transport", unit_id, until="2026-07-31", reason="Needs a budget decision"
    )
    assert asked["until"] == "2026-07-31" and asked["status"] == "requested"
    [message] = engine_messages(uow, "extension_requested")
    assert message["payload"]["unit"] == "transport" and message["payload"]["until"] == "2026-07-31"
    assert message["payload"]["reason"] == "Needs a budget decision"
    act(uow, rules, "draft_reply", "transport", unit_id, category="A", text="Done")
    act(uow, rules, "submit_reply", "transport", unit_id)
    with pytest.raises(Conflict, match="is submitted"):
        act(uow, rules, "request_extension", "transport", unit_id, months=1, reason="late")


# -- staff send back, the proposer asks for re-handling ----------------------------------------


def reply_and_submit(uow, rules, result, unit, category="A", text="Done"):
    act(uow, rules, "draft_reply", unit, id_of(result, unit), category=category, text=text)
    return act(uow, rules, "submit_reply", unit, id_of(result, unit))


def test_a_reply_sent_back_must_be_submitted_again(uow, rules):
    result = assign(uow)
    signed_by_all(uow, rules, result)
    reply_and_submit(uow, rules, result, "transport")
    back = operations.send_back(uow, {"number": "2026-0001", "comment": "Name the budget line"}, STAFF)
    assert back["sent_back"] == ["transport"]
    assert status_of(uow, id_of(result, "transport")) == "signed"
    key, payload = unit_events(uow, "transport")[-1]
    assert key == "transport.assignment.sent_back" and payload["comment"] == "Name the budget line"
    reply_and_submit(uow, rules, result, "transport", text="Budget line 2026-17")
    messages = engine_messages(uow, "reply_submitted")
    assert [m["payload"]["replies"][0]["text"] for m in messages] == ["Done", "Budget line 2026-17"]
    assert messages[0]["message_id"] != messages[1]["message_id"]


def test_nothing_submitted_cannot_be_sent_back(uow):
    assign(uow)
    with pytest.raises(BusinessError) as refused:
        operations.send_back(uow, {"number": "2026-0001", "comment": "?"}, STAFF)
    assert refused.value.code == "no_submitted_reply"


def test_a_rehandling_round_reopens_the_answering_units_and_keeps_the_first_reply(uow, rules):
    result = assign(uow, "lead_co", lead="transport", co_units=["education"])
    signed_by_all(uow, rules, result)
    lead, co = id_of(result, "transport"), id_of(result, "education")
    act(uow, rules, "draft_reply", "transport", lead, category="C", text="Not now")
    act(uow, rules, "cosign_reply", "education", co)
    act(uow, rules, "submit_reply", "transport", lead)
    assert operations.request_rehandling(uow, {"number": "2026-0001", "round": 2}, STAFF)["round"] == 2
    assert (status_of(uow, lead), uow.assignments.assignment(lead).round) == ("signed", 2)
    assert unit_events(uow, "transport")[-1][0] == "transport.assignment.rehandling"
    act(uow, rules, "draft_reply", "transport", lead, category="B", text="Planned after all", milestones=PLAN)
    with pytest.raises(Conflict, match="not yet: education"):  # round 2 needs its own co-signature
        act(uow, rules, "submit_reply", "transport", lead)
    act(uow, rules, "cosign_reply", "education", co)
    act(uow, rules, "submit_reply", "transport", lead)
    second = engine_messages(uow, "reply_submitted")[-1]["payload"]
    assert (second["round"], second["category"]) == (2, "B")
    history = queries.get_assignment(uow, lead, handler("transport"))["replies"]
    assert [(r["round"], r["text"]) for r in history] == [(1, "Not now"), (2, "Planned after all")]
    with pytest.raises(InvalidInput):
        operations.request_rehandling(uow, {"number": "2026-0001", "round": 2}, STAFF)


# -- a department's system over AMQP ----------------------------------------------------------


def test_a_unit_system_acts_as_the_unit_whose_broker_user_sent_the_command(uow, rules):
    from shared.messaging.identity import Sender

    transport = Sender("ztc-unit-transport", "unit", "transport")  # as the broker vouches (user_id)
    education = Sender("ztc-unit-education", "unit", "education")
    result = assign(uow, "single", units=["transport"])
    unit_id = id_of(result, "transport")
    with pytest.raises(Forbidden):  # education's own command, on transport's assignment
        commands.from_unit_system(uow, rules, "education.sign", {"assignment_id": unit_id}, education)
    with pytest.raises(Forbidden) as other:  # a key naming transport, from education's user
        commands.from_unit_system(uow, rules, "transport.sign", {"assignment_id": unit_id}, education)
    assert "acts for itself only" in other.value.message
    for nobody in (Sender(None, "nobody"), Sender("guest", "unknown"), Sender("ztc-intake", "service", "intake"), None):
        with pytest.raises(Forbidden):
            commands.from_unit_system(uow, rules, "transport.sign", {"assignment_id": unit_id}, nobody)
    with pytest.raises(InvalidInput) as forged:
        commands.from_unit_system(
            uow, rules, "transport.sign", {"assignment_id": unit_id, "unit": "education"}, transport
        )
    assert "unit" in forged.value.details
    with pytest.raises(InvalidInput):
        commands.from_unit_system(uow, rules, "transport.delete_everything", {"assignment_id": unit_id}, transport)
    with pytest.raises(Forbidden):
        commands.from_unit_system(
            uow, rules, "nobody.sign", {"assignment_id": unit_id}, Sender("ztc-unit-nobody", "unit", "nobody")
        )
    assert status_of(uow, unit_id) == "assigned"
    signed = commands.from_unit_system(uow, rules, "transport.sign", {"assignment_id": unit_id}, transport)
    assert signed["status"] == "signed"
    assert uow.assignments.assignment(unit_id).signed_by == "system:transport"


def test_the_event_log_is_append_only(tmp_path, skipping_clock):
    engine = create_engine(f"sqlite:///{tmp_path}/assignment.db")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        uow = SqlAssignmentUnitOfWork(session)
        operations.ensure_units(uow, UNITS)
        assign(uow)
        [entry] = uow.assignments.history(1)
        entry.action = "rewritten"
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
    engine.dispose()


def test_the_asyncapi_document_describes_every_command_and_event_as_the_service_checks_them():
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    channels, components = doc["channels"], doc["components"]
    published = {key.split(".", 1)[1]: c["publish"] for key, c in channels.items() if "publish" in c}
    heard = {key.split(".", 1)[1] for key, c in channels.items() if key.startswith("{unit}.") and "subscribe" in c}
    assert set(published) == set(contracts.COMMAND_SCHEMAS)
    assert heard == set(contracts.UNIT_EVENTS)
    for command, schema in contracts.COMMAND_SCHEMAS.items():
        message = components["messages"][published[command]["message"]["$ref"].rsplit("/", 1)[1]]
        documented = components["schemas"][message["payload"]["$ref"].rsplit("/", 1)[1]]
        fields = schema().fields
        assert set(documented["properties"]) == set(fields), command
        assert set(documented["required"]) == {name for name, field in fields.items() if field.required}, command
        for example in message.get("examples", []):
            schema().load(example["payload"])  # every documented example is a command the service takes
