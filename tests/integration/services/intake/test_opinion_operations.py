"""Intake's opinion information (社情民意) on a real database of each kind, migrated to 0003: the
operations the diagram's jobs and the HTTP commands call, their events and notifications; and the
intake service over the real broker (RPC, an AMQP submission, a malformed one dead-lettered)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import operations, opinion_tracking as tracking, opinions, threads
from services.intake.models import OpinionCheck, OpinionItem, Outbox, Proposal
from shared import contracts
from shared.calendar import local_date
from shared.db import dispose_all, migrate
from shared.errors import BusinessError, Conflict, Forbidden, InvalidInput, NotFound

# The operations on a migrated database of each kind (JSON columns, numbering, constraints).
pytestmark = pytest.mark.both_databases

LI = {"user": "member.li", "roles": ["member"], "unit": None}
ZHOU = {"user": "member.zhou", "roles": ["member"], "unit": None}
INFORMANT = {"user": "informant.he", "roles": ["informant"], "unit": None}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
LEADER = {"user": "leader.chen", "roles": ["leader"], "unit": None}
HOUSING = {"user": "handler.gao", "roles": ["unit"], "unit": "housing"}
TRANSPORT = {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"}
ITEM = {
    "title": "关于老旧小区加装电梯的建议",
    "situation": "老旧小区多为六层以下住宅，老年住户上下楼困难。",
    "analysis": "加装电梯需要全体业主同意，费用分摊和低层住户补偿难以协调。",
    "suggestion": "出台费用分摊指引，设立加装电梯协调专班，给予财政补贴。",
}
PASSED = {"political_ok": True, "facts_ok": True, "content_ok": True, "wording_ok": True}


@pytest.fixture
def session(sessions):
    with sessions() as s:
        yield s


def outbox(session, prefix):
    return [
        row.payload for row in session.scalars(select(Outbox).order_by(Outbox.id)) if row.routing_key.startswith(prefix)
    ]


def item_id(session, number):
    return session.scalar(select(OpinionItem.id).where(OpinionItem.number == number))


def listed_by(session, principal, **query):
    """The items of the first page of the caller's list (``query``: as ``GET /api/opinions`` takes it)."""
    return opinions.item_page(SqlIntakeUnitOfWork(session), principal, query)["items"]


def submitted(session, principal=LI, **overrides):
    item = opinions.submit(SqlIntakeUnitOfWork(session), RulebookRules(), {**ITEM, **overrides}, principal)
    session.commit()
    return item


def edit(session, number, decision="report", **checks):
    return tracking.record_editing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"item_id": item_id(session, number), **PASSED, "decision": decision, "edited_by": "staff.wang", **checks},
        None,
    )


def reported(session, principal=LI, channels=("city_party_committee", "provincial_committee")):
    item = submitted(session, principal)
    edit(session, item["number"])
    result = tracking.report(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"item_id": item_id(session, item["number"]), "channels": list(channels), "signed_off_by": "leader.chen"},
        None,
    )
    session.commit()
    return item["number"], result


def test_a_member_submits_an_item_numbered_in_its_own_thread_and_points_hear_of_it(session):
    item = submitted(session, urgent=True)
    assert item["number"].startswith("SQ-") and item["thread"] == item["number"]
    assert item["status"] == "submitted" and item["urgent"] is True
    [event] = outbox(session, "opinion.submitted")
    assert event["thread"] == item["number"] and event["members"] == [{"member": "member.li", "role": "author"}]
    [start] = outbox(session, contracts.START_ROUTING_KEY)
    assert start["process_id"] == "opinion" and start["business_key"] == item["number"]
    [told] = outbox(session, "notify.opinion.received")
    assert told["payload"]["recipients"] == ["member.li"]


def test_an_informant_submits_but_earns_no_points_and_a_saved_item_waits(session):
    item = submitted(session, INFORMANT, submit=False)
    assert item["status"] == "saved" and outbox(session, "opinion.submitted") == []
    item = opinions.submit_saved(SqlIntakeUnitOfWork(session), item["number"], INFORMANT)
    session.commit()
    assert item["status"] == "submitted"
    [event] = outbox(session, "opinion.submitted")
    assert event["members"] == [] and event["payload"]["submitter_role"] == "informant"


def test_a_saved_draft_is_its_submitters_alone_until_it_is_submitted(session):
    """Staff, leaders and other members neither list nor read an item kept as a draft (``saved``):
    as if there were none. Once submitted, staff read it."""
    draft = submitted(session, INFORMANT, submit=False)
    sent = submitted(session)
    for reader in (STAFF, LEADER):
        listed = opinions.item_page(SqlIntakeUnitOfWork(session), reader, {})
        assert [i["number"] for i in listed["items"]] == [sent["number"]]
        assert opinions.item_page(SqlIntakeUnitOfWork(session), reader, {"status": "saved"})["items"] == []
        with pytest.raises(NotFound):
            opinions.get(SqlIntakeUnitOfWork(session), draft["number"], reader)
    with pytest.raises(NotFound):
        opinions.get(SqlIntakeUnitOfWork(session), draft["number"], LI)
    assert opinions.get(SqlIntakeUnitOfWork(session), draft["number"], INFORMANT)["status"] == "saved"
    mine = opinions.item_page(SqlIntakeUnitOfWork(session), INFORMANT, {"mine": True})
    assert [i["number"] for i in mine["items"]] == [draft["number"]]
    opinions.submit_saved(SqlIntakeUnitOfWork(session), draft["number"], INFORMANT)
    session.commit()
    assert opinions.get(SqlIntakeUnitOfWork(session), draft["number"], STAFF)["status"] == "submitted"


def test_a_draft_too_long_or_incomplete_is_refused_field_by_field_and_nothing_is_kept(session):
    with pytest.raises(InvalidInput) as refused:
        opinions.submit(
            SqlIntakeUnitOfWork(session), RulebookRules(), {**ITEM, "situation": "情" * 1500, "suggestion": ""}, LI
        )
    assert "suggestion" in refused.value.details and "1500" in str(refused.value.details["_schema"])
    with pytest.raises(Forbidden):
        opinions.submit(SqlIntakeUnitOfWork(session), RulebookRules(), ITEM, STAFF)
    session.rollback()
    assert session.scalar(select(OpinionItem.id)) is None


def test_the_four_checks_are_recorded_and_an_item_not_adopted_tells_the_submitter_why(session):
    item = submitted(session)
    result = edit(
        session,
        item["number"],
        decision="not_adopted",
        facts_ok=False,
        facts_note="数据无出处",
        not_adopted_reason="事实有待核实",
    )
    session.commit()
    assert result == {"status": "not_adopted", "round": 1}
    checks = session.scalars(select(OpinionCheck).order_by(OpinionCheck.id)).all()
    assert [(c.check, c.passed, c.note) for c in checks] == [
        ("political", True, ""),
        ("facts", False, "数据无出处"),
        ("content", True, ""),
        ("wording", True, ""),
    ]
    [told] = outbox(session, "notify.opinion.not_adopted")
    assert "事实有待核实" in told["payload"]["text"]
    with pytest.raises(BusinessError) as again:
        edit(session, item["number"])
    assert again.value.code == "not_in_editing"


def test_reporting_numbers_an_issue_per_channel_per_year(session, skipping_clock):
    year = local_date(skipping_clock.now()).year
    first, result = reported(session)
    assert [r["issue"] for r in result["reports"]] == [f"市委-{year}-001", f"省政协-{year}-001"]
    _, result = reported(session, ZHOU, channels=["city_party_committee"])
    assert [r["issue"] for r in result["reports"]] == [f"市委-{year}-002"]
    assert opinions.get(SqlIntakeUnitOfWork(session), first, STAFF)["status"] == "sent"
    with pytest.raises(BusinessError) as unknown:
        item = submitted(session)
        edit(session, item["number"])
        tracking.report(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            {"item_id": item_id(session, item["number"]), "channels": ["city_council"], "signed_off_by": "leader.chen"},
            None,
        )
    assert unknown.value.code == "unknown_channel"


def test_adoption_per_recipient_instruction_forwarding_and_the_answer(session):
    number, _ = reported(session)
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        number,
        {"channel": "city_party_committee", "adopted": False},
        STAFF,
    )
    assert outbox(session, contracts.MESSAGE_ROUTING_KEY) == []  # one recipient still to answer
    item = tracking.record_adoption(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        number,
        {"channel": "provincial_committee", "adopted": True},
        STAFF,
    )
    session.commit()
    assert item["status"] == "adopted"
    [adopted] = outbox(session, "opinion.adopted")
    assert adopted["payload"]["channel"] == "provincial_committee" and adopted["thread"] == number
    [settled] = [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == "adoptions_settled"]
    assert settled["payload"] == {"adopted": ["provincial_committee"]}
    with pytest.raises(Conflict):
        tracking.record_adoption(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            number,
            {"channel": "provincial_committee", "adopted": False},
            STAFF,
        )
    with pytest.raises(Forbidden):
        tracking.record_adoption(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            number,
            {"channel": "city_party_committee", "adopted": True},
            LI,
        )

    with pytest.raises(InvalidInput) as bad_level:
        tracking.record_instruction(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            number,
            {"channel": "provincial_committee", "level": "county", "leader": "某副省长", "text": "请研究"},
            LEADER,
        )
    assert "level" in bad_level.value.details
    with pytest.raises(Conflict):  # not adopted there: nothing to instruct on
        tracking.record_instruction(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            number,
            {"channel": "city_party_committee", "level": "city", "leader": "某书记", "text": "请研究"},
            LEADER,
        )
    tracking.record_instruction(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        number,
        {"channel": "provincial_committee", "level": "province", "leader": "某副省长", "text": "请住建部门研究落实"},
        LEADER,
    )
    session.commit()
    [instructed] = outbox(session, "opinion.instructed")
    assert instructed["payload"]["level"] == "province"
    assert tracking.close_reporting(SqlIntakeUnitOfWork(session), {"item_id": item_id(session, number)}, None)[
        "adopted"
    ] == ["provincial_committee"]

    with pytest.raises(BusinessError) as unknown:
        tracking.forward(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            {"item_id": item_id(session, number), "units": ["nowhere"], "forwarded_by": "staff.wang"},
            None,
        )
    assert unknown.value.code == "unknown_unit"
    tracking.forward(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"item_id": item_id(session, number), "units": ["housing"], "request": "请办理", "forwarded_by": "staff.wang"},
        None,
    )
    session.commit()
    assert listed_by(session, HOUSING) == [opinions.get(SqlIntakeUnitOfWork(session), number, HOUSING)]
    assert listed_by(session, HOUSING)[0]["forward"]["request"] == "请办理"  # its forward, read for the page
    assert listed_by(session, TRANSPORT) == []
    with pytest.raises(Forbidden):
        opinions.get(SqlIntakeUnitOfWork(session), number, TRANSPORT)
    with pytest.raises(Forbidden):
        tracking.answer_forward(SqlIntakeUnitOfWork(session), number, {"text": "不归我们管"}, TRANSPORT)
    tracking.answer_forward(SqlIntakeUnitOfWork(session), number, {"text": "已出台加装电梯补贴办法"}, HOUSING)
    session.commit()
    assert [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == "forwards_answered"]
    assert tracking.close(SqlIntakeUnitOfWork(session), {"item_id": item_id(session, number)}, None) == {
        "status": "handled"
    }
    session.commit()
    steps = [m["name"] for m in outbox(session, "notify.opinion.")]
    assert steps == [
        "notify.opinion.received",
        "notify.opinion.edited",
        "notify.opinion.reported",
        "notify.opinion.not_adopted_by",
        "notify.opinion.adopted",
        "notify.opinion.instructed",
        "notify.opinion.forwarded",
        "notify.opinion.answered",
        "notify.opinion.handled",
    ]
    told = {m["name"]: m["payload"] for m in outbox(session, "notify.opinion.")}
    # the submitter reads the department's name, not its code
    assert told["notify.opinion.forwarded"]["text"].startswith("转办：市住房和城乡建设局，答复期限")
    assert "收到 市住房和城乡建设局 的办理答复" in told["notify.opinion.answered"]["title"]
    assert "housing" not in told["notify.opinion.forwarded"]["text"] + told["notify.opinion.answered"]["title"]


def test_the_public_list_of_adopted_items_holds_only_adoptions_marked_publishable(session):
    from services.intake import reports

    shown, _ = reported(session, channels=["city_government"])
    kept, _ = reported(session, ZHOU, channels=["city_government"])
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        shown,
        {"channel": "city_government", "adopted": True, "publishable": True},
        STAFF,
    )
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session), RulebookRules(), kept, {"channel": "city_government", "adopted": True}, STAFF
    )
    session.commit()
    year, resident = int(shown.split("-")[1]), {"user": "public", "roles": ["public"]}
    assert [
        i["number"]
        for i in reports.adopted_opinions(SqlIntakeUnitOfWork(session), RulebookRules(), year, "public", resident)[
            "items"
        ]
    ] == [shown]
    assert [
        i["number"]
        for i in reports.adopted_opinions(SqlIntakeUnitOfWork(session), RulebookRules(), year, "members", STAFF)[
            "items"
        ]
    ] == [shown, kept]
    with pytest.raises(Forbidden):
        reports.adopted_opinions(SqlIntakeUnitOfWork(session), RulebookRules(), year, "members", resident)


def test_an_instruction_in_the_public_list_is_masked_in_every_field_staff_typed(session):
    """The leader's name is typed by staff like the instruction's text: a number in it is masked too
    (the public list had shown it as typed)."""
    from services.intake import reports

    number, _ = reported(session, channels=["city_government"])
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        number,
        {"channel": "city_government", "adopted": True, "publishable": True},
        STAFF,
    )
    instruction = {
        "channel": "city_government",
        "level": "city",
        "leader": "张三 13812345678",
        "text": "请联系 13812345678",
    }
    tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, instruction, LEADER)
    session.commit()
    year, resident = int(number.split("-")[1]), {"user": "public", "roles": ["public"]}
    [item] = reports.adopted_opinions(SqlIntakeUnitOfWork(session), RulebookRules(), year, "public", resident)["items"]
    [shown] = item["instructions"]
    assert shown["leader"] == "张三 138****5678" and "13812345678" not in shown["text"]


def test_the_public_list_shows_no_instruction_given_on_an_adoption_not_publishable(session):
    from services.intake import reports

    number, _ = reported(session, channels=["city_party_committee", "city_government"])
    uow = SqlIntakeUnitOfWork(session)
    adopt = {"adopted": True, "publishable": True}
    tracking.record_adoption(uow, RulebookRules(), number, {**adopt, "channel": "city_party_committee"}, STAFF)
    tracking.record_adoption(uow, RulebookRules(), number, {"channel": "city_government", "adopted": True}, STAFF)
    for channel, text in (("city_party_committee", "公开的批示"), ("city_government", "内部批示 不公开")):
        instruction = {"channel": channel, "level": "city", "leader": "张三", "text": text}
        tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, instruction, LEADER)
    session.commit()
    year, resident = int(number.split("-")[1]), {"user": "public", "roles": ["public"]}
    [public] = reports.adopted_opinions(SqlIntakeUnitOfWork(session), RulebookRules(), year, "public", resident)[
        "items"
    ]
    assert [i["text"] for i in public["instructions"]] == ["公开的批示"]
    [members] = reports.adopted_opinions(SqlIntakeUnitOfWork(session), RulebookRules(), year, "members", STAFF)["items"]
    assert sorted(i["text"] for i in members["instructions"]) == ["公开的批示", "内部批示 不公开"]


def test_the_same_instruction_sent_twice_is_recorded_once(session):
    from shared.errors import Conflict

    number, _ = reported(session, channels=["city_government"])
    adoption = {"channel": "city_government", "adopted": True, "publishable": True}
    tracking.record_adoption(SqlIntakeUnitOfWork(session), RulebookRules(), number, adoption, STAFF)
    instruction = {"channel": "city_government", "level": "city", "leader": "张三", "text": "请抓紧办理"}
    tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, instruction, LEADER)
    session.commit()
    with pytest.raises(Conflict) as refused:
        tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, instruction, LEADER)
    assert refused.value.details["instruction_id"] and "recorded already" in refused.value.message
    session.rollback()
    other = {**instruction, "text": "再次批示：月底前办结"}  # another instruction is another
    tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, other, LEADER)
    session.commit()


def test_silent_recipients_count_as_not_adopting_and_late_answers_are_chased(session, skipping_clock):
    number, _ = reported(session, channels=["city_government"])
    result = tracking.close_reporting(SqlIntakeUnitOfWork(session), {"item_id": item_id(session, number)}, None)
    assert result == {"adopted": [], "no_answer": ["city_government"], "status": "not_adopted"}
    number, _ = reported(session, ZHOU, channels=["city_government"])
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session), RulebookRules(), number, {"channel": "city_government", "adopted": True}, STAFF
    )
    tracking.forward(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"item_id": item_id(session, number), "units": ["transport", "housing"], "forwarded_by": "staff.wang"},
        None,
    )
    tracking.answer_forward(SqlIntakeUnitOfWork(session), number, {"text": "已处理"}, TRANSPORT)
    overdue = tracking.mark_overdue(
        SqlIntakeUnitOfWork(session), RulebookRules(), {"item_id": item_id(session, number)}, None
    )
    session.commit()
    assert (
        overdue["overdue"] == ["housing"]
        and opinions.get(SqlIntakeUnitOfWork(session), number, STAFF)["status"] == "not_handled"
    )
    [chased] = outbox(session, "notify.opinion.answers_overdue")
    assert chased["payload"]["recipients"] == ["staff.wang"]


def test_who_reads_which_item(session):
    mine = submitted(session)["number"]
    with pytest.raises(Forbidden):
        opinions.get(SqlIntakeUnitOfWork(session), mine, ZHOU)  # another member's, not published
    with pytest.raises(Forbidden):
        opinions.get(SqlIntakeUnitOfWork(session), mine, INFORMANT)
    with pytest.raises(NotFound):
        opinions.get(SqlIntakeUnitOfWork(session), "SQ-1999-9999", ZHOU)
    assert opinions.get(SqlIntakeUnitOfWork(session), mine, STAFF)["history"][0]["action"] == "saved"
    assert [i["number"] for i in listed_by(session, ZHOU)] == []
    number, _ = reported(session, channels=["city_government"])
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session), RulebookRules(), number, {"channel": "city_government", "adopted": True}, STAFF
    )
    published = opinions.get(SqlIntakeUnitOfWork(session), number, ZHOU)
    assert published["submitter"] == "m***" and published["adopted_by"] == ["city_government"]
    assert "situation" not in published


def _selects_listing(session, principal):
    from sqlalchemy import event

    engine, seen = session.get_bind(), []
    record = lambda *args: seen.append(args[2])  # noqa: E731 - the statement
    event.listen(engine, "before_cursor_execute", record)
    try:
        session.expire_all()  # nothing from an earlier load: every item's details read afresh
        listed = listed_by(session, principal)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return listed, len([s for s in seen if s.lstrip().upper().startswith("SELECT")])


def test_the_list_shows_each_item_as_one_item_is_shown_reading_each_kind_of_detail_once(session):
    def one_of_each():
        number, _ = reported(session)
        tracking.record_adoption(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            number,
            {"channel": "provincial_committee", "adopted": True},
            STAFF,
        )
        instruction = {"channel": "provincial_committee", "level": "city", "leader": "某市长", "text": "请研究"}
        tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, instruction, LEADER)
        submitted(session, ZHOU)
        session.commit()

    one_of_each()
    _, few = _selects_listing(session, STAFF)
    one_of_each()
    one_of_each()
    listed, many = _selects_listing(session, STAFF)
    assert many == few  # however many items: the items, then each kind of detail for all of them
    assert len(listed) == 6
    for item in listed:
        alone = opinions.get(SqlIntakeUnitOfWork(session), item["number"], STAFF)
        alone.pop("history")
        assert item == alone
    adopted = listed[-1]  # newest first: the first one_of_each's adopted item is last
    assert [r["issue"] for r in adopted["reports"]] and adopted["instructions"][0]["leader"] == "某市长"
    # A member: their own in full, the others' adopted ones as published, as each is shown alone.
    for item in listed_by(session, ZHOU):
        alone = opinions.get(SqlIntakeUnitOfWork(session), item["number"], ZHOU)
        alone.pop("history", None)
        assert item == alone


def test_the_list_is_read_a_page_at_a_time_newest_first_each_caller_reading_what_they_may(session):
    own = [submitted(session, ZHOU, title=f"关于第{n}条背街小巷照明的建议")["number"] for n in range(5)]
    adopted, _ = reported(session, LI, channels=["city_government"])
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session), RulebookRules(), adopted, {"channel": "city_government", "adopted": True}, STAFF
    )
    others = [submitted(session, LI)["number"] for _ in range(2)]  # not adopted: not ZHOU's to read
    session.commit()
    page = lambda principal, **query: opinions.item_page(SqlIntakeUnitOfWork(session), principal, query)  # noqa: E731

    everything = [*own, adopted, *others][::-1]
    first, second = page(STAFF, per_page=3), page(STAFF, per_page=3, page=2)
    assert (first["total"], first["page"], first["per_page"]) == (8, 1, 3)
    assert [i["number"] for i in first["items"] + second["items"]] == everything[:6]
    assert page(STAFF, per_page=3, page=4)["items"] == []  # past the end: an empty page, the total kept
    assert page(STAFF, mine=True)["total"] == 0  # staff submit none

    visible = page(ZHOU, per_page=4)
    assert visible["total"] == 6 and [i["number"] for i in visible["items"]] == [adopted, own[4], own[3], own[2]]
    assert visible["items"][0]["submitter"] == "m***" and "situation" not in visible["items"][0]  # as published
    assert visible["items"][1]["submitter"] == "member.zhou" and "situation" in visible["items"][1]  # their own
    assert [i["number"] for i in page(ZHOU, per_page=4, page=2)["items"]] == [own[1], own[0]]
    assert page(ZHOU, mine=True)["total"] == 5
    assert page(ZHOU, status="adopted")["total"] == 1 and page(LI, status="submitted")["total"] == 2
    assert page(INFORMANT)["total"] == 0  # informants read only their own, never the published ones

    for bad in ({"status": "lost"}, {"per_page": 0}, {"per_page": 201}, {"page": 0}, {"mine": "perhaps"}):
        with pytest.raises(InvalidInput) as refused:
            page(STAFF, **bad)
        assert set(bad) <= set(refused.value.details), bad


def test_the_leaders_list_holds_only_items_with_an_adoption_no_instruction_answers_yet(session):
    def adopted(*channels, instructed=()):
        number, _ = reported(session, channels=channels)
        for channel in channels:
            tracking.record_adoption(
                SqlIntakeUnitOfWork(session), RulebookRules(), number, {"channel": channel, "adopted": True}, STAFF
            )
        for channel in instructed:
            instruction = {"channel": channel, "level": "city", "leader": "某市长", "text": "请研究"}
            tracking.record_instruction(SqlIntakeUnitOfWork(session), RulebookRules(), number, instruction, LEADER)
        session.commit()
        return number

    half = adopted("city_party_committee", "provincial_committee", instructed=["provincial_committee"])
    waiting = adopted("city_government")
    adopted("city_government", instructed=["city_government"])  # answered: not waiting
    refused, _ = reported(session, channels=["city_government"])
    tracking.record_adoption(
        SqlIntakeUnitOfWork(session), RulebookRules(), refused, {"channel": "city_government", "adopted": False}, STAFF
    )
    submitted(session, ZHOU)
    session.commit()
    listed = listed_by(session, LEADER, awaiting="instruction")
    assert [i["number"] for i in listed] == [waiting, half]  # newest first
    assert listed == [i for i in listed_by(session, LEADER) if i["number"] in (half, waiting)]
    with pytest.raises(InvalidInput) as unknown:
        listed_by(session, LEADER, awaiting="adoption")
    assert "awaiting" in unknown.value.details


def test_a_case_becomes_an_opinion_item_then_a_proposal_in_one_thread(session):
    opened = threads.open_opinion_from_case(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"thread": "WX-2026-0001", "member": "member.li", "content": ITEM, "case_number": "WX-2026-0001"},
        None,
    )
    again = threads.open_opinion_from_case(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"thread": "WX-2026-0001", "member": "member.li", "content": ITEM, "case_number": "WX-2026-0001"},
        None,
    )
    session.commit()
    assert again["number"] == opened["number"] and opened["thread"] == "WX-2026-0001"
    with pytest.raises(Forbidden):
        threads.to_proposal(
            SqlIntakeUnitOfWork(session), RulebookRules(), opened["number"], {"publish_consent": True}, ZHOU
        )
    result = threads.to_proposal(
        SqlIntakeUnitOfWork(session), RulebookRules(), opened["number"], {"publish_consent": True}, LI
    )
    session.commit()
    assert result["proposal"]["thread"] == "WX-2026-0001" and result["opinion"]["status"] == "converted"
    assert [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == "converted_to_proposal"]
    with pytest.raises(Conflict):
        threads.to_proposal(
            SqlIntakeUnitOfWork(session), RulebookRules(), opened["number"], {"publish_consent": True}, LI
        )
    view = threads.thread(SqlIntakeUnitOfWork(session), "WX-2026-0001", LI)
    assert [(e["kind"], e["number"]) for e in view["entries"]] == [
        ("opinion", opened["number"]),
        ("proposal", result["proposal"]["number"]),
    ]
    assert [h["action"] for h in view["history"]][:2] == ["saved", "submitted"]
    assert "converted_to_proposal" in [h["action"] for h in view["history"]]
    # Another member sees what a thread with nothing in it shows: not that this one exists.
    hidden = threads.thread(SqlIntakeUnitOfWork(session), "WX-2026-0001", ZHOU)
    missing = threads.thread(SqlIntakeUnitOfWork(session), "WX-2026-0999", ZHOU)
    assert {**hidden, "thread": "?"} == {**missing, "thread": "?"}
    assert hidden["entries"] == [] and hidden["history"] == []
    assert threads.thread(SqlIntakeUnitOfWork(session), "WX-2026-0001", STAFF)["entries"]


def test_a_case_becomes_a_proposal_through_normal_submission_and_filing_tells_points(session):
    made = threads.open_proposal_from_case(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "thread": "WX-2026-0002",
            "member": "member.li",
            "content": {
                "title": "关于社区食堂的建议",
                "situation": "老人吃饭难",
                "analysis": "缺少场地",
                "suggestion": "利用闲置用房",
            },
            "case_number": "WX-2026-0002",
        },
        None,
    )
    session.commit()
    proposal = session.scalar(select(Proposal).where(Proposal.number == made["number"]))
    assert proposal.thread == "WX-2026-0002" and proposal.status == "submitted"
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": proposal.id, "decision": "filed", "decided_by": "committee.liu"},
        None,
    )
    session.commit()
    [filed] = outbox(session, "proposal.filed")
    assert filed["thread"] == "WX-2026-0002" and filed["members"] == [{"member": "member.li", "role": "lead"}]
    fresh = operations.submit(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "kind": "plenary",
            "publish_consent": True,
            "title": "t",
            "situation": "s",
            "analysis": "a",
            "suggestions": "x",
        },
        ZHOU,
    )
    assert fresh["thread"] == fresh["number"]
    operations.publish(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": proposal.id, "units": ["transport"], "reply_category": "A", "reply_summary": "已办"},
        None,
    )
    session.commit()
    [told] = [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == "converted_outcome"]
    assert told["correlation_key"] == "WX-2026-0002", "the case waits for its proposal's outcome"
    assert told["payload"] == {
        "kind": "proposal",
        "number": made["number"],
        "outcome": "published",
        "reason": None,
        "reply_category": "A",
    }


def test_an_opinion_item_opened_from_a_case_tells_the_case_when_it_is_not_adopted(session):
    opened = threads.open_opinion_from_case(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"thread": "WX-2026-0003", "member": "member.li", "content": ITEM, "case_number": "WX-2026-0003"},
        None,
    )
    session.commit()
    edit(session, opened["number"], decision="not_adopted", not_adopted_reason="已有部门在办")
    session.commit()
    [told] = [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == "converted_outcome"]
    assert told["correlation_key"] == "WX-2026-0003"
    # The editors' reason goes with it: the member tells the resident why at the return visit.
    assert told["payload"] == {
        "kind": "opinion",
        "number": opened["number"],
        "outcome": "not_adopted",
        "reason": "已有部门在办",
    }


def _proposal_from_case(session, case_number, title):
    made = threads.open_proposal_from_case(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "thread": case_number,
            "member": "member.li",
            "content": {
                "title": title,
                "situation": "老人吃饭难",
                "analysis": "缺少场地",
                "suggestion": "利用闲置用房",
            },
            "case_number": case_number,
        },
        None,
    )
    session.commit()
    return session.scalar(select(Proposal).where(Proposal.number == made["number"]))


def test_a_proposal_from_a_case_not_filed_or_merged_tells_the_case_why_at_the_decision(session):
    refused = _proposal_from_case(session, "WX-2026-0004", "关于社区食堂的建议")
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "proposal_id": refused.id,
            "decision": "not_filed",
            "reason_code": "no_concrete_suggestion",
            "convert_to": "opinion",
            "decided_by": "committee.liu",
        },
        None,
    )
    session.commit()
    main = _proposal_from_case(session, "WX-2026-0005", "关于社区养老助餐点的建议")
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": main.id, "decision": "filed", "decided_by": "committee.liu"},
        None,
    )
    merged = _proposal_from_case(session, "WX-2026-0006", "关于社区老年助餐的建议")
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": merged.id, "decision": "merged", "merge_into": main.number, "decided_by": "committee.liu"},
        None,
    )
    session.commit()
    told = {
        m["correlation_key"]: m
        for m in outbox(session, contracts.MESSAGE_ROUTING_KEY)
        if m["name"] == "converted_outcome"
    }
    assert set(told) == {"WX-2026-0004", "WX-2026-0006"}, "a filed proposal tells its case when it is answered"
    not_filed = told["WX-2026-0004"]["payload"]
    converted = not_filed["converted_to"]
    assert (not_filed["number"], not_filed["outcome"], not_filed["reason_code"]) == (
        refused.number,
        "not_filed",
        "no_concrete_suggestion",
    )
    assert converted["kind"] == "opinion" and not_filed["reason"].startswith("不予立案：")
    assert f"已转为社情民意信息（{converted['reference']}）" in not_filed["reason"]
    assert told["WX-2026-0006"]["payload"] == {
        "kind": "proposal",
        "number": merged.number,
        "outcome": "merged",
        "reason": f"与提案 {main.number} 并案办理，随其答复",
        "merged_into": main.number,
    }
    message_id = told["WX-2026-0006"]["message_id"]
    operations.publish(  # answered later with the one it was merged into: the case heard its outcome already
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": merged.id, "units": ["transport"], "reply_category": "A", "reply_summary": "已办"},
        None,
    )
    session.commit()
    again = [
        m
        for m in outbox(session, contracts.MESSAGE_ROUTING_KEY)
        if m["name"] == "converted_outcome" and m["correlation_key"] == "WX-2026-0006"
    ]
    assert {m["message_id"] for m in again} == {message_id}, "one outcome per proposal: a repeat is the same message"


# -- the service on the real broker --------------------------------------------------------------


@pytest.fixture
def intake(settings):
    from nameko.runners import ServiceRunner
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.intake.service import IntakeService
    from shared.messaging import topology

    migrate("intake", settings.database_url("intake"))
    topology.declare(settings.amqp_uri)
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(IntakeService)
    runner.start()
    from tests.support import SigningRpc

    proxy = ClusterRpcProxy(settings.nameko_config())
    try:
        yield SigningRpc(proxy.start(), settings).intake
    finally:
        proxy.stop()
        runner.stop()
        dispose_all()


def test_the_service_takes_items_over_rpc_and_amqp_and_dead_letters_refusals(intake, settings, vhost):
    from tests.support import get_messages, publish, wait_for  # noqa: F401

    made = intake.submit_opinion(ITEM, INFORMANT)
    assert made["status"] == "submitted" and made["submitter_role"] == "informant"
    with pytest.raises(Forbidden):
        intake.get_opinion(made["number"], ZHOU)
    with pytest.raises(InvalidInput) as refused:
        intake.submit_opinion({**ITEM, "title": " "}, LI)
    assert set(refused.value.details) == {"title"}

    # Member Li's app on its own broker user: the submitter is that user (its user_id), not the body.
    from shared.messaging import access
    from tests.support import broker_users

    app = access.submitter_grant(settings, "member", "member.li")
    with broker_users(settings, [app]) as uris:
        command = {"reference": "app-1", "item": {**ITEM, "title": "关于夜市管理的建议"}}
        for body in (
            command,
            {**command, "principal": LI},  # twice: one item
            {"reference": "app-2", "item": {**ITEM, "suggestion": ""}},
            {"reference": "app-3", "principal": STAFF, "item": ITEM},
        ):  # in someone else's name
            publish(
                uris[app.user],
                contracts.MESSAGES_EXCHANGE,
                contracts.OPINION_SUBMIT_ROUTING_KEY,
                body,
                user_id=app.user,
            )
        # Not from an app's user (here the services' own): refused whatever the body says.
        publish(
            settings.amqp_uri,
            contracts.MESSAGES_EXCHANGE,
            contracts.OPINION_SUBMIT_ROUTING_KEY,
            {"reference": "app-4", "principal": LI, "item": ITEM},
        )
        dead = []

        def three_dead_letters():
            dead.extend(get_messages(vhost, contracts.DEAD_QUEUE))
            return len(dead) >= 3

        wait_for(three_dead_letters, timeout=30, message="three dead letters")
    reasons = sorted(m["properties"]["headers"][contracts.REASON_HEADER] for m in dead)
    assert [r.split(":")[0] for r in reasons] == ["forbidden", "forbidden", "invalid_input"], reasons
    assert "suggestion" in reasons[2]
    assert any("the body names staff.wang" in r for r in reasons), reasons
    assert any("broker user 'guest'" in r for r in reasons)
    mine = {"mine": True}
    wait_for(lambda: intake.opinion_page(LI, mine)["total"] == 1, message="the item submitted over AMQP")
    [item] = intake.opinion_page(LI, mine)["items"]
    assert item["title"] == "关于夜市管理的建议"
