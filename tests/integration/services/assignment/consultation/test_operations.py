"""Micro-consultation in the assignment service on a real database of each kind, migrated to
0003: the venue directory and its coverage, registering cases, the diagram's jobs, departments'
commitments (each its own), the events and notifications they leave in the outbox; and the
service over the real broker (RPC and a job)."""

from __future__ import annotations

from datetime import timedelta

import json
import uuid

import pytest
import yaml
from nameko.runners import ServiceRunner
from sqlalchemy import select

from services.assignment.consultation import cases, directory, public, steps
from services.assignment.consultation.rules import RulebookConsultationRules
from services.assignment.consultation.models import Case, CaseEvent
from services.assignment.models import Outbox
from services.assignment.operations import ensure_units
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.assignment.service import AssignmentService
from shared import contracts
from shared.config import ROOT
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import BusinessError, Conflict, Forbidden, InvalidInput, NotFound
from shared.messaging import topology
from shared.calendar import local_date
from shared.names import seeded_members
from tests.support import NEXT_YEAR, sealed_job, signing_rpc, get_messages, publish, wait_for, members_directory_lacks

# The operations on a migrated database of each kind (JSON columns, numbering, constraints).
pytestmark = pytest.mark.both_databases

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
LI = {"user": "member.li", "roles": ["member"], "unit": None}
ZHOU = {"user": "member.zhou", "roles": ["member"], "unit": None}
TRANSPORT = {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"}
HOUSING = {"user": "handler.gao", "roles": ["unit"], "unit": "housing"}
EDUCATION = {"user": "handler.ma", "roles": ["unit"], "unit": "education"}
ISSUE = {
    "venue": "cp_jiefang",
    "title": "小区门口路灯不亮",
    "description": "解放街道建设路路段路灯损坏两个月，夜间出行不便。",
    "resident_name": "王秀英",
    "resident_phone": "13800001111",
}
SEED = yaml.safe_load((ROOT / "deploy" / "seed" / "venues.yaml").read_text(encoding="utf-8"))


RULES = RulebookConsultationRules()


def uow(session):
    """The service's unit of work over the test's session: the SQL adapter is what runs here."""
    return SqlAssignmentUnitOfWork(session)


def seed(session):
    ensure_units(uow(session), {"transport": "市交通运输局", "housing": "市住房和城乡建设局", "education": "市教育局"})
    directory.ensure_venues(uow(session), SEED)


@pytest.fixture
def session(database_url_template, skipping_clock):
    url = database_url_template.format(service="assignment")
    migrate("assignment", url)
    with session_factory(url)() as s:
        seed(s)
        s.commit()
        yield s
    dispose_all()


def outbox(session, prefix):
    return [
        row.payload for row in session.scalars(select(Outbox).order_by(Outbox.id)) if row.routing_key.startswith(prefix)
    ]


def listed(session, principal, **query):
    """The cases of the first page of the caller's list (``query``: as ``GET /api/consultations`` takes it)."""
    return cases.case_page(uow(session), principal, query)["items"]


def registered(session, principal=STAFF, **overrides):
    case = cases.register(uow(session), RULES, {**ISSUE, **overrides}, principal)
    session.commit()
    return case


def case_id(session, number):
    return session.scalar(select(Case.id).where(Case.number == number))


def dispatched(session, cid, member="member.li"):
    """Staff give case ``cid`` to ``member`` (the seeded members directory answers who exists)."""
    return steps.dispatch_case(
        uow(session),
        RULES,
        {"case_id": cid, "member": member, "dispatched_by": "staff.wang"},
        None,
        members_directory_lacks,
    )


def taken_by_li(session, number):
    cid = case_id(session, number)
    dispatched(session, cid)
    steps.take_case(uow(session), RULES, {"case_id": cid, "accepted": True, "by": "member.li"}, None)
    session.commit()
    return cid


def test_the_seeded_directory_covers_every_town_with_the_venues_of_the_seed_city(session):
    stats = directory.coverage(uow(session))
    assert stats["venues_by_kind"] == {
        "contact_point": 53,
        "reception_room": 14,
        "consultation_room": 24,
        "sector_studio": 13,
    }
    assert len(stats["towns"]) == 36 and stats["uncovered"] == []
    assert all("contact_point" in t["venues"] for t in stats["towns"])
    assert directory.ensure_venues(uow(session), SEED) == 0, "seeding twice adds nothing"
    rooms = directory.list_venues(uow(session), RULES, {"kind": "consultation_room", "town": "jiefang"})
    assert [v["code"] for v in rooms] == ["cr_jiefang"] and rooms[0]["kind_zh"] == "协商议事室"
    with pytest.raises(InvalidInput) as refused:
        directory.list_venues(uow(session), RULES, {"kind": "pub"})
    assert "kind" in refused.value.details


def test_coverage_names_towns_without_venues_and_counts_cases_per_venue(session):
    directory.ensure_venues(
        uow(session),
        {"towns": [{"code": "xinqu", "name": "新区街道", "kind": "street", "district": "江南区"}], "venues": []},
    )
    registered(session)
    registered(session, venue="cp_jiefang", title="菜市场占道经营")
    stats = directory.coverage(uow(session))
    assert stats["uncovered"] == ["xinqu"]
    assert stats["cases_per_venue"]["cp_jiefang"] == 2 and stats["cases_per_venue"]["cp_renmin"] == 0
    assert next(t for t in stats["towns"] if t["code"] == "jiefang")["cases"] == 2


def test_a_registered_case_is_numbered_as_its_own_thread_and_starts_its_process(session):
    first = registered(session)
    second = registered(session, principal=LI, venue="st_education", town="renmin")
    assert first["number"].startswith("WX-") and first["number"].endswith("-0001")
    assert second["number"].endswith("-0002") and first["thread"] == first["number"]
    assert first["town"] == "jiefang" and second["town"] == "renmin"
    [event] = [e for e in outbox(session, "consultation.case_registered") if e["subject"] == first["number"]]
    assert event["thread"] == first["number"] and event["payload"]["registered_by"] == "staff.wang"
    starts = [r.payload for r in session.scalars(select(Outbox)) if r.routing_key == contracts.START_ROUTING_KEY]
    assert {s["business_key"] for s in starts} == {first["number"], second["number"]}
    assert all(s["process_id"] == "micro_consultation" for s in starts)


def test_a_case_raised_at_a_contact_point_reaches_the_members_who_serve_there(session):
    assert next(
        v for v in directory.list_venues(uow(session), RULES, {"kind": "contact_point"}) if v["code"] == "cp_renmin"
    )["members"] == ["member.zhou"]
    number = registered(session, venue="cp_renmin", title="小区垃圾清运不及时")["number"]
    told = [n for n in outbox(session, "notify.consultation.raised_at_venue") if n["subject"] == number]
    assert [n["payload"]["recipients"] for n in told] == [["member.zhou"]]
    assert cases.get(uow(session), number, ZHOU)["venue_members"] == ["member.zhou"]
    assert [c["number"] for c in listed(session, ZHOU)] == [number]
    with pytest.raises(Forbidden):
        cases.get(uow(session), number, LI)  # li serves another contact point
    assert directory.ensure_venues(uow(session), SEED) == 0 and directory.venue_members(uow(session), "cp_renmin") == [
        "member.zhou"
    ]


def test_a_resident_raises_a_case_through_the_public_api_and_follows_it_by_its_reference(session):
    resident = {"user": "public", "roles": ["public"], "unit": None}
    raised = registered(session, principal=resident)
    assert set(raised) >= {"reference", "status"} and "resident_name" not in raised
    assert public.status(uow(session), raised["reference"], resident)["number"] == raised["number"]
    with pytest.raises(NotFound):
        public.status(uow(session), raised["number"], resident)
    with pytest.raises(Forbidden):
        public.status(uow(session), raised["reference"], STAFF)
    assert cases.get(uow(session), raised["number"], STAFF)["registered_by"] == "public"


def test_the_list_is_read_a_page_at_a_time_newest_first_each_caller_reading_what_they_may(session):
    given = registered(session, venue="st_education", title="校门口交通拥堵")["number"]  # li: given to him
    raised = [registered(session, title=f"第{n}处路灯不亮")["number"] for n in range(3)]  # li serves cp_jiefang
    own = registered(session, principal=ZHOU, venue="st_education", title="公园厕所不足")["number"]  # zhou's own
    elsewhere = registered(session, venue="cp_renmin", title="小区垃圾清运不及时")["number"]  # zhou serves it
    taken_by_li(session, given)
    page = lambda principal, **query: cases.case_page(uow(session), principal, query)  # noqa: E731

    everything = [given, *raised, own, elsewhere][::-1]
    first, second = page(STAFF, per_page=4), page(STAFF, per_page=4, page=2)
    assert (first["total"], first["page"], first["per_page"]) == (6, 1, 4)
    assert [c["number"] for c in first["items"] + second["items"]] == everything
    assert page(STAFF, per_page=4, page=3)["items"] == []  # past the end: empty, the total kept
    assert page(STAFF, mine=True)["total"] == 5  # staff.wang registered all but zhou's
    assert [c["number"] for c in page(LI)["items"]] == [*raised[::-1], given]
    assert [c["number"] for c in page(ZHOU)["items"]] == [elsewhere, own]
    assert [c["number"] for c in page(ZHOU, venue="st_education")["items"]] == [own]
    assert [c["number"] for c in page(LI, status="taken")["items"]] == [given]
    assert page(TRANSPORT)["total"] == 0  # asked to commit on none
    for bad in ({"per_page": 0}, {"per_page": 201}, {"page": 0}, {"mine": "perhaps"}, {"colour": "red"}):
        with pytest.raises(InvalidInput) as refused:
            page(STAFF, **bad)
        assert set(bad) <= set(refused.value.details), bad


def test_registering_refuses_the_wrong_people_and_malformed_input_and_changes_nothing(session):
    with pytest.raises(Forbidden):
        cases.register(uow(session), RULES, ISSUE, TRANSPORT)
    with pytest.raises(InvalidInput) as refused:
        cases.register(
            uow(session),
            RULES,
            {**ISSUE, "title": " ", "venue": "cp_jiefang", "resident_phone": "call me"},
            STAFF,
        )
    assert {"title", "resident_phone"} <= set(refused.value.details)
    with pytest.raises(InvalidInput) as refused:
        cases.register(uow(session), RULES, {**ISSUE, "venue": "nowhere"}, STAFF)
    assert "venue" in refused.value.details
    session.rollback()
    assert session.scalar(select(Case.id)) is None


def test_a_member_sees_the_cases_given_to_them_and_staff_see_all(session):
    number = registered(session)["number"]
    other = registered(session, title="菜市场占道经营", venue="st_education")["number"]  # a venue li does not serve
    taken_by_li(session, number)
    assert [c["number"] for c in listed(session, LI)] == [number]
    assert [c["number"] for c in listed(session, STAFF)] == [other, number]  # newest first
    assert listed(session, ZHOU) == []
    with pytest.raises(Forbidden):
        cases.get(uow(session), number, ZHOU)
    with pytest.raises(Forbidden):
        cases.get(uow(session), number, TRANSPORT)
    with pytest.raises(NotFound):
        cases.get(uow(session), "WX-1999-0001", STAFF)


def test_dispatch_and_take_tell_the_member_and_announce_the_taker(session):
    number = registered(session)["number"]
    cid = case_id(session, number)
    result = dispatched(session, cid)
    assert result["deadline"]["rule"] == "take_case" and result["deadline"]["rulebook"] == "micro_consultation"
    [told] = outbox(session, "notify.consultation.dispatched")
    assert told["payload"]["recipients"] == ["member.li"] and told["thread"] == number
    steps.take_case(uow(session), RULES, {"case_id": cid, "accepted": True, "by": "member.li"}, None)
    steps.take_case(uow(session), RULES, {"case_id": cid, "accepted": True, "by": "member.li"}, None)  # delivered twice
    [taken] = outbox(session, "consultation.case_taken")
    assert taken["members"] == [{"member": "member.li", "role": "taker"}] and taken["thread"] == number


def meeting_held(
    session, number, units=("transport", "housing"), summary="现场协商路灯维修", attendees=("member.zhou",)
):
    cid = taken_by_li(session, number)
    steps.record_decision(uow(session), RULES, {"case_id": cid, "outcome": "meeting", "by": "member.li"}, None)
    result = steps.record_meeting(
        uow(session),
        RULES,
        {
            "case_id": cid,
            "form": "on_site",
            "venue": "cr_jiefang",
            "held_on": "2026-03-05",
            "attendees": list(attendees),
            "units": list(units),
            "summary": summary,
            "by": "member.li",
        },
        None,
        members_directory_lacks,
    )
    session.commit()
    return cid, result


def test_a_department_sees_no_residents_name_or_phone_even_where_a_text_holds_them(session):
    """docs/micro-consultation.md: a unit sees the resident's name masked and no phone. The resident
    wrote both into the title and description, the member into the meeting's summary; staff, who
    call the resident back, see them as written."""
    number = registered(
        session,
        title="王秀英 13812345678 反映路灯",
        description="我叫王秀英，电话13812345678，身份证110101199003071234，邮箱wang.xy@example.cn",
    )["number"]
    meeting_held(session, number, units=("transport",), summary="与王秀英（13812345678）现场协商路灯维修", attendees=())
    seen = cases.get(uow(session), number, TRANSPORT)
    told = [r["payload"]["text"] for r in outbox(session, "notify.consultation.commitment_requested")]
    for text in [seen["title"], seen["description"], seen["meetings"][0]["summary"], *told]:
        assert "13812345678" not in text and "王秀英" not in text, text
    assert "110101199003071234" not in seen["description"] and "wang.xy@" not in seen["description"]
    assert seen["title"] == "王** 138****5678 反映路灯"
    staff = cases.get(uow(session), number, STAFF)
    assert staff["title"] == "王秀英 13812345678 反映路灯" and "13812345678" in staff["meetings"][0]["summary"]


def test_a_meeting_asks_each_department_and_each_sees_and_records_only_its_own_commitment(session):
    number = registered(session)["number"]
    cid, result = meeting_held(session, number)
    assert result["units"] == ["transport", "housing"] and result["deadline"]["rule"] == "commitment"
    [held] = outbox(session, "consultation.meeting_held")
    assert held["payload"]["form"] == "on_site"
    assert {m["member"] for m in held["members"]} == {"member.li", "member.zhou"}
    requested = outbox(session, "notify.consultation.commitment_requested")
    assert sorted(r["payload"]["recipients"][0] for r in requested) == ["unit:housing", "unit:transport"]

    seen = cases.get(uow(session), number, TRANSPORT)
    assert [c["unit"] for c in seen["commitments"]] == ["transport"]
    assert seen["resident_name"] == "王**" and seen["resident_phone"] is None and seen["history"] == []
    with pytest.raises(Forbidden):
        cases.record_commitment(uow(session), number, {"actions": "x", "done_by": f"{NEXT_YEAR}-02-01"}, EDUCATION)
    with pytest.raises(InvalidInput) as refused:
        cases.record_commitment(uow(session), number, {"actions": "", "done_by": "soon"}, TRANSPORT)
    assert {"actions", "done_by"} <= set(refused.value.details)
    with pytest.raises(InvalidInput) as past:  # a department cannot promise a day already gone
        cases.record_commitment(uow(session), number, {"actions": "修灯", "done_by": "2020-01-01"}, TRANSPORT)
    assert "before today" in str(past.value.details["done_by"])

    cases.record_commitment(
        uow(session), number, {"actions": "更换路灯12盏", "done_by": f"{NEXT_YEAR}-02-01"}, TRANSPORT
    )
    session.commit()
    [committed] = outbox(session, "notify.consultation.committed")
    assert committed["payload"]["title"] == f"市交通运输局 已就微协商 {number} 作出承诺"  # its name, not its code
    with pytest.raises(Conflict):
        cases.record_commitment(uow(session), number, {"actions": "again", "done_by": f"{NEXT_YEAR}-02-01"}, TRANSPORT)
    session.rollback()
    messages = [r.payload for r in session.scalars(select(Outbox)) if r.routing_key == contracts.MESSAGE_ROUTING_KEY]
    assert messages == [], "the process hears only when every department has committed"
    cases.record_commitment(uow(session), number, {"actions": "协调物业接电", "done_by": f"{NEXT_YEAR}-01-25"}, HOUSING)
    session.commit()
    [message] = [r.payload for r in session.scalars(select(Outbox)) if r.routing_key == contracts.MESSAGE_ROUTING_KEY]
    assert message["name"] == "commitments_made" and message["correlation_key"] == number
    assert cases.get(uow(session), number, STAFF)["status"] == "committed"


def _selects(session, principal):
    """The page ``principal`` lists, and how many SELECTs reading it took (nothing cached before)."""
    from sqlalchemy import event

    engine, seen = session.get_bind(), []
    record = lambda *args: seen.append(args[2])  # noqa: E731 - the statement
    event.listen(engine, "before_cursor_execute", record)
    try:
        session.expire_all()
        page = cases.case_page(uow(session), principal)["items"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return page, len([s for s in seen if s.lstrip().upper().startswith("SELECT")])


def test_a_page_reads_each_kind_of_detail_once_and_shows_each_case_as_it_is_shown_alone(session):
    def one_of_each(n):
        with_meeting = registered(session, title=f"第{n}处路灯不亮")["number"]
        meeting_held(session, with_meeting)
        cases.record_commitment(
            uow(session), with_meeting, {"actions": "更换路灯", "done_by": f"{NEXT_YEAR}-02-01"}, TRANSPORT
        )
        registered(session, venue="cp_renmin", title=f"第{n}个小区垃圾清运不及时")
        session.commit()

    one_of_each(1)
    _, few = _selects(session, STAFF)
    one_of_each(2)
    one_of_each(3)
    page, many = _selects(session, STAFF)
    assert len(page) == 6 and many == few  # however many cases: the page, then each kind of detail once
    for principal in (STAFF, LI, ZHOU, TRANSPORT):
        listed_here = cases.case_page(uow(session), principal)["items"]
        assert listed_here, principal
        for case in listed_here:
            assert case == cases.get(uow(session), case["number"], principal), (principal, case["number"])
    seen = cases.case_page(uow(session), TRANSPORT)["items"]
    assert {c["unit"] for case in seen for c in case["commitments"]} == {"transport"}  # its own only
    assert all(case["history"] == [] and case["resident_phone"] is None for case in seen)
    assert any(case["meetings"] and case["commitments"][0]["actions"] for case in page)


def test_late_commitments_and_follow_ups_are_reminded_with_deadlines_from_the_rulebook(session, skipping_clock):
    number = registered(session)["number"]
    cid, _ = meeting_held(session, number)
    reminded = steps.remind_commitments(uow(session), RULES, {"case_id": cid}, None)
    assert sorted(reminded["pending"]) == ["housing", "transport"]
    session.flush()
    [overdue] = outbox(session, "notify.consultation.commitment_overdue")
    # the departments by name, as the directory holds them (their codes before)
    assert overdue["payload"]["text"].startswith("尚未承诺：") and "市交通运输局" in overdue["payload"]["text"]
    assert "transport" not in overdue["payload"]["text"]
    for principal in (TRANSPORT, HOUSING):
        cases.record_commitment(uow(session), number, {"actions": "落实", "done_by": f"{NEXT_YEAR}-02-01"}, principal)
    first = steps.schedule_follow_up(uow(session), RULES, {"case_id": cid}, None)
    late = steps.follow_up_overdue(uow(session), RULES, {"case_id": cid}, None)
    assert late["follow_up_due"] < first["follow_up_due"], "a reminder comes sooner than a follow-up (7 < 30 days)"
    check = {"case_id": cid, "by": "member.li"}
    again = steps.record_follow_up(uow(session), RULES, {**check, "actions_done": False, "note": "施工中"}, None)
    assert again["actions_done"] is False and again["follow_up_due"]
    done = steps.record_follow_up(uow(session), RULES, {**check, "actions_done": True, "note": "已修复"}, None)
    assert done["actions_done"] is True
    session.commit()
    case = cases.get(uow(session), number, LI)
    assert case["status"] == "return_visit" and [f["actions_done"] for f in case["follow_ups"]] == [False, True]
    provenance = [e["data"] for e in case["history"] if e["action"] == "follow_up_scheduled"][0]["deadline"]
    assert provenance["rulebook"] == "micro_consultation" and provenance["amount"] == 30


def test_an_unknown_department_at_the_meeting_is_a_bpmn_error_and_records_nothing(session):
    number = registered(session)["number"]
    cid = taken_by_li(session, number)
    with pytest.raises(BusinessError) as error:
        steps.record_meeting(
            uow(session),
            RULES,
            {
                "case_id": cid,
                "form": "online",
                "held_on": "2026-03-05",
                "units": ["nobody"],
                "summary": "s",
                "by": "member.li",
            },
            None,
            members_directory_lacks,
        )
    assert error.value.code == "unknown_meeting_detail"


def test_an_attendee_the_members_directory_lacks_is_a_bpmn_error_and_records_nothing(session):
    number = registered(session)["number"]
    cid = taken_by_li(session, number)
    meeting = {"case_id": cid, "form": "online", "held_on": "2026-03-05", "summary": "s", "by": "member.li"}
    with pytest.raises(BusinessError) as error:
        steps.record_meeting(
            uow(session),
            RULES,
            {**meeting, "attendees": ["member.zhou", "member.nobody"]},
            None,
            members_directory_lacks,
        )
    assert error.value.code == "unknown_meeting_detail" and "member.nobody" in error.value.message
    assert "member.zhou" not in error.value.message
    assert cases.get(uow(session), number, STAFF)["meetings"] == []
    assert outbox(session, "consultation.meeting_held") == []


def test_a_meeting_dated_before_the_case_was_registered_is_a_bpmn_error(session):
    """A mistyped year (2016 for 2026) would book its attendees' points in a term long past, or in
    none (the points event dead-lettered): the member corrects the record."""
    number = registered(session)["number"]
    cid = taken_by_li(session, number)
    registered_on = local_date(session.scalar(select(Case.created_at).where(Case.id == cid)))
    meeting = {"case_id": cid, "form": "online", "summary": "s", "by": "member.li"}
    early = (registered_on - timedelta(days=1)).isoformat()
    with pytest.raises(BusinessError) as error:
        steps.record_meeting(uow(session), RULES, {**meeting, "held_on": early}, None, members_directory_lacks)
    assert error.value.code == "unknown_meeting_detail"
    assert error.value.message == f"held on {early}, before the case was registered ({registered_on.isoformat()})"
    same_day = {**meeting, "held_on": registered_on.isoformat()}
    assert steps.record_meeting(uow(session), RULES, same_day, None, members_directory_lacks)["meeting_id"]


def test_a_member_the_directory_lacks_is_not_dispatched(session):
    """A typo in the dispatch would leave the case with nobody who can see it until the take time
    lapses: it is the BPMN error ``unknown_member`` (back to staff), and the case stays as it was."""
    number = registered(session)["number"]
    cid = case_id(session, number)
    asked = []

    def lacks(users):
        asked.append(users)
        return members_directory_lacks(users)

    dispatch = {"case_id": cid, "member": "member.nobody", "dispatched_by": "staff.wang"}
    with pytest.raises(BusinessError) as error:
        steps.dispatch_case(uow(session), RULES, dispatch, None, lacks)
    assert (error.value.code, error.value.message) == (
        "unknown_member",
        "'member.nobody' is not in the members directory",
    )
    case = cases.get(uow(session), number, STAFF)
    assert case["status"] == "registered" and outbox(session, "notify.consultation.dispatched") == []
    assert (
        steps.dispatch_case(uow(session), RULES, {**dispatch, "member": "member.li"}, None, lacks)["member"]
        == "member.li"
    )
    session.commit()
    # Delivered again: the case already is the member's, and the directory is not asked again.
    steps.dispatch_case(uow(session), RULES, {**dispatch, "member": "member.li"}, None, lacks)
    assert asked == [["member.nobody"], ["member.li"]]


def test_the_return_visit_reopens_an_unsatisfied_case_once_then_closes_with_the_satisfaction(session):
    number = registered(session)["number"]
    cid = taken_by_li(session, number)
    steps.record_decision(
        uow(session),
        RULES,
        {"case_id": cid, "outcome": "answered", "answer": "已答复", "by": "member.li"},
        None,
    )
    visit = {"case_id": cid, "reached": True, "satisfaction": "unsatisfied", "by": "member.li"}
    assert steps.record_return_visit(uow(session), RULES, visit, None)["reopen"] is True
    steps.record_decision(
        uow(session),
        RULES,
        {"case_id": cid, "outcome": "answered", "answer": "再答复", "by": "member.li"},
        None,
    )
    assert steps.record_return_visit(uow(session), RULES, visit, None)["reopen"] is False
    with pytest.raises(BusinessError):
        steps.record_return_visit(uow(session), RULES, {**visit, "satisfaction": "happy"}, None)
    closed = steps.close_case(uow(session), RULES, {"case_id": cid}, None)
    steps.close_case(uow(session), RULES, {"case_id": cid}, None)  # delivered twice
    assert closed == {"status": "closed", "satisfaction": "unsatisfied", "reason": None}
    [event] = outbox(session, "consultation.case_closed")
    assert event["payload"]["satisfaction"] == "unsatisfied" and event["thread"] == number


def test_a_converted_case_waits_for_the_outcome_of_its_item_then_goes_to_the_return_visit(session):
    number = registered(session)["number"]
    cid = taken_by_li(session, number)
    decided = steps.record_decision(
        uow(session),
        RULES,
        {"case_id": cid, "outcome": "opinion", "analysis": "年久失修", "suggestion": "纳入改造计划", "by": "member.li"},
        None,
    )
    assert decided["content"]["situation"].startswith("解放街道") and decided["member"] == "member.li"
    converted = steps.record_conversion(
        uow(session),
        RULES,
        {"case_id": cid, "kind": "opinion", "converted": {"number": "SQ-2027-0009", "thread": number}},
        None,
    )
    steps.record_conversion(
        uow(session),
        RULES,
        {
            "case_id": cid,
            "kind": "opinion",  # delivered twice
            "converted": {"number": "SQ-2027-0009", "thread": number},
        },
        None,
    )
    session.commit()
    assert converted["status"] == "converted" and converted["outcome_due"]
    case = cases.get(uow(session), number, LI)
    assert (case["status"], case["close_reason"], case["converted_number"]) == ("converted", None, "SQ-2027-0009")
    [event] = outbox(session, "consultation.converted")
    assert event["payload"]["to"] == "opinion" and event["payload"]["converted_number"] == "SQ-2027-0009"
    outcome = {"kind": "opinion", "number": "SQ-2027-0009", "outcome": "adopted"}
    assert steps.record_converted_outcome(uow(session), RULES, {"case_id": cid, "outcome": outcome}, None) == {
        "status": "return_visit"
    }
    session.commit()
    seen = cases.get(uow(session), number, LI)
    assert seen["status"] == "return_visit"
    assert seen["converted_outcome"] == {
        "kind": "opinion",
        "number": "SQ-2027-0009",
        "status": "adopted",
        "reason": None,
    }
    entry = cases.thread_entry(uow(session), number, LI)
    assert entry["kind"] == "case" and [e["action"] for e in entry["events"]][-2:] == ["converted", "converted_outcome"]
    assert cases.thread_entry(uow(session), "SQ-2027-0001", LI) is None
    assert cases.thread_entry(uow(session), number, ZHOU) is None  # not theirs: as if no case were on it


def test_a_converted_case_closes_as_converted_and_scores_no_closing_points(session):
    number = registered(session)["number"]
    cid = taken_by_li(session, number)
    decision = {"case_id": cid, "outcome": "opinion", "analysis": "年久失修", "suggestion": "纳入改造计划"}
    steps.record_decision(uow(session), RULES, {**decision, "by": "member.li"}, None)
    steps.record_conversion(
        uow(session), RULES, {"case_id": cid, "kind": "opinion", "converted": {"number": "SQ-2027-0009"}}, None
    )
    outcome = {"kind": "opinion", "number": "SQ-2027-0009", "outcome": "not_adopted"}
    steps.record_converted_outcome(uow(session), RULES, {"case_id": cid, "outcome": outcome}, None)
    visit = {"case_id": cid, "reached": True, "satisfaction": "satisfied", "by": "member.li"}
    steps.record_return_visit(uow(session), RULES, visit, None)
    assert steps.close_case(uow(session), RULES, {"case_id": cid}, None)["reason"] == "converted"
    session.commit()
    [event] = outbox(session, "consultation.case_closed")
    assert event["payload"]["reason"] == "converted"  # the points rulebook: unless {reason: converted}


@pytest.mark.parametrize("how", ["declined", "not_taken", "closed_at_dispatch"])
def test_a_member_who_did_not_take_the_case_is_not_its_taker(session, how):
    """Declined, not taken in time, or closed while still only dispatched: the member is no longer
    on the case (it is not theirs to read) and its closing scores them nothing."""
    number = registered(session)["number"]
    cid = case_id(session, number)
    dispatched(session, cid, "member.zhou")
    if how == "declined":
        steps.take_case(
            uow(session), RULES, {"case_id": cid, "accepted": False, "reason": "不在辖区", "by": "member.zhou"}, None
        )
    elif how == "not_taken":
        steps.case_not_taken(uow(session), RULES, {"case_id": cid}, None)
    session.commit()
    case = cases.get(uow(session), number, STAFF)
    assert case["member"] == (None if how != "closed_at_dispatch" else "member.zhou")
    steps.close_case(uow(session), RULES, {"case_id": cid, "reason": "duplicate"}, None)
    session.commit()
    [event] = outbox(session, "consultation.case_closed")
    assert event["members"] == []


def test_a_case_whose_proposal_is_not_filed_shows_the_status_and_reason_on_the_case_and_in_public(session):
    resident = {"user": "public", "roles": ["public"], "unit": None}
    raised = registered(session, principal=resident)
    cid = taken_by_li(session, raised["number"])
    steps.record_conversion(
        uow(session),
        RULES,
        {"case_id": cid, "kind": "proposal", "converted": {"number": "2027-0042", "thread": raised["number"]}},
        None,
    )
    session.commit()
    assert public.status(uow(session), raised["reference"], resident)["converted_outcome"] is None  # not known yet
    why = "不予立案：没有具体建议的；已转为社情民意信息（SQ-2027-0010），联系电话 13812345678"
    told = {"kind": "proposal", "number": "2027-0042", "outcome": "not_filed", "reason": why, "reason_code": "x"}
    assert steps.record_converted_outcome(uow(session), RULES, {"case_id": cid, "outcome": told}, None) == {
        "status": "return_visit"
    }
    session.commit()
    expected = {"kind": "proposal", "number": "2027-0042", "status": "not_filed"}
    assert cases.get(uow(session), raised["number"], STAFF)["converted_outcome"] == {
        **expected,
        "reason": why,
    }
    shown = public.status(uow(session), raised["reference"], resident)
    assert shown["status"] == "return_visit" and shown["converted_outcome"]["status"] == "not_filed"
    assert shown["converted_outcome"]["reason"].startswith("不予立案：没有具体建议的")
    assert "13812345678" not in str(shown), "the reason is masked like every text the public reads"
    [asked] = [n for n in outbox(session, "notify.") if "return_visit" in json.dumps(n)]
    assert "不予立案：没有具体建议的" in json.dumps(asked, ensure_ascii=False)


def test_the_case_event_log_is_append_only(session):
    number = registered(session)["number"]
    row = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id(session, number)))
    row.action = "forged"
    with pytest.raises(RuntimeError):
        session.flush()


# -- the service over the real broker -----------------------------------------------------------------
@pytest.fixture
def assignment_service(settings, skipping_clock):
    """The assignment service, and the evaluation service it asks whether a member is in the members
    directory (seeded as ``make run`` seeds it)."""
    from services.evaluation.points.directory import ensure_members
    from services.evaluation.points.rules import RulebookPointsRules
    from services.evaluation.service import EvaluationService
    from services.evaluation.unit_of_work import SqlEvaluationUnitOfWork

    migrate("assignment", settings.database_url("assignment"))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        seed(s)
    migrate("evaluation", settings.database_url("evaluation"))
    members = [{"user": user, "name": name, "sector": "教育界"} for user, name in seeded_members().items()]
    with transaction(session_factory(settings.database_url("evaluation"))) as s:
        ensure_members(SqlEvaluationUnitOfWork(s), RulebookPointsRules(), members)
    topology.declare(settings.amqp_uri)
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(AssignmentService)
    runner.add_service(EvaluationService)
    runner.start()
    yield settings
    runner.stop()
    dispose_all()


def test_the_service_registers_over_rpc_and_runs_a_job_of_the_diagram(assignment_service):
    settings = assignment_service
    with signing_rpc(settings) as rpc:
        case = rpc.assignment.register_case(ISSUE, principal=STAFF)
        assert rpc.assignment.get_case(case["number"], principal=STAFF)["status"] == "registered"
        assert len(rpc.assignment.list_venues({"kind": "sector_studio"}, principal=LI)) == 13
        with pytest.raises(InvalidInput) as refused:
            rpc.assignment.register_case({**ISSUE, "title": ""}, principal=STAFF)
        assert "title" in refused.value.details
    vhost = settings.amqp_uri.rsplit("/", 1)[1]
    job_id = uuid.uuid4().hex
    publish(
        settings.amqp_uri,
        contracts.JOBS_EXCHANGE,
        "assignment.dispatch_case",
        sealed_job(
            {
                "job_id": job_id,
                "instance_id": "instance-1",
                "task_id": "task-1",
                "operation": "assignment.dispatch_case",
                "params": {"case_id": 1, "member": "member.li", "dispatched_by": "staff.wang"},
                "attempt": 1,
                "business_key": case["number"],
                "principal": STAFF,
            },
            settings,
        ),
    )
    got = []

    def answered():
        got.extend(get_messages(vhost, contracts.ENGINE_RESULTS_QUEUE))
        return got

    wait_for(answered, message="the job's result")
    result = json.loads(got[0]["payload"])
    assert result["status"] == "ok" and result["result"]["member"] == "member.li"
    with signing_rpc(settings) as rpc:
        assert rpc.assignment.get_case(case["number"], principal=LI)["status"] == "dispatched"
