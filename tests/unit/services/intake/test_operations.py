"""Intake's proposal rules (提 submit, 立 register, 公开 publish) on a real SQLite session."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake.public import get_published
from services.intake import operations
from services.intake.models import (
    Base,
    Notification,
    Outbox,
    Proposal,
    ProposalCounter,
    ProposalEvent,
    Publication,
    Submission,
)
from shared.masking import mask_name, mask_text
from shared import contracts
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import BusinessError, Forbidden, InvalidInput, NotFound, Unauthenticated
from shared.rulebook import load_rulebook

DUPLICATE_THRESHOLD = load_rulebook("proposal").duplicate_threshold()

LI = {"user": "李明", "roles": ["member"]}
ZHANG = {"user": "张伟", "roles": ["member"]}
WANG = {"user": "王芳", "roles": ["member"]}
SMITH = {"user": "smith", "roles": ["member"]}
STAFF = {"user": "staff.zhao", "roles": ["staff"]}
LEADER = {"user": "leader.sun", "roles": ["leader"]}
HANDLER = {"user": "handler.chen", "roles": ["unit"], "unit": "transport"}
PUBLIC = {"user": "resident", "roles": ["public"]}

BUS_SHELTERS = {
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "老城区现有公交候车亭多建于十年前，遮雨面积小，夜间照明不足。",
    "analysis": "候车亭改造分属多个部门，缺少统一规划和维护资金。",
    "suggestions": "一、由交通局牵头制定老城区公交候车亭改造计划；二、增设夜间照明和实时到站信息屏；三、落实维护资金。",
}
BUS_SHELTERS_REWORDED = {
    "title": "关于加快老城区公交候车亭改造的提案",
    "situation": "老城区的公交候车亭年久失修。",
    "analysis": "改造缺少统一规划。",
    "suggestions": "一、由交通局牵头制定老城区公交候车亭改造计划；二、增设夜间照明和实时到站信息屏；三、保障维护资金。",
}
PRESCHOOLS = {
    "title": "关于增加普惠性幼儿园学位的建议",
    "situation": "新建小区配套幼儿园不足，入园难问题突出。",
    "analysis": "配套园移交滞后，民办园收费偏高。",
    "suggestions": "督促开发商按期移交配套园，财政对普惠园给予生均补助。",
}


def draft(text=BUS_SHELTERS, **overrides):
    return {"kind": "between_sessions", "publish_consent": True, **text, **overrides}


@pytest.fixture
def sessions(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/intake.db"
    Base.metadata.create_all(get_engine(url))
    yield session_factory(url)
    dispose_all()


@pytest.fixture
def session(sessions):
    with sessions() as s:
        yield s


def members_only(*members):
    """A members directory knowing ``members`` (everyone if none are named): users -> unknown ones."""
    return lambda users: [u for u in users if members and u not in members]


def submitted(session, principal=LI, **overrides):
    proposal = operations.submit(
        SqlIntakeUnitOfWork(session), RulebookRules(), draft(**overrides), principal, directory=members_only()
    )
    session.commit()
    return proposal


def outbox(session, routing_key):
    return [
        row.payload
        for row in session.scalars(select(Outbox).where(Outbox.routing_key == routing_key).order_by(Outbox.id))
    ]


def messages(session, name):
    return [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == name]


def notifications(session, recipient):
    return list(
        session.scalars(select(Notification.text).where(Notification.recipient == recipient).order_by(Notification.id))
    )


def actions(session, number):
    proposal = session.scalar(select(Proposal).where(Proposal.number == number))
    return list(
        session.scalars(
            select(ProposalEvent.action).where(ProposalEvent.proposal_id == proposal.id).order_by(ProposalEvent.id)
        )
    )


def filed(session, text=BUS_SHELTERS, principal=LI, **overrides):
    proposal = submitted(session, principal, text=text, **overrides)
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": proposal["id"], "decision": "filed", "decided_by": "committee.he"},
        None,
    )
    session.commit()
    return proposal


# -- numbering ---------------------------------------------------------------------------------


def test_proposals_are_numbered_in_order_within_their_session_year(session):
    numbers = [submitted(session, text=text)["number"] for text in (BUS_SHELTERS, PRESCHOOLS, BUS_SHELTERS_REWORDED)]
    assert numbers == ["2026-0001", "2026-0002", "2026-0003"]


def test_each_session_year_has_its_own_sequence(session):
    assert submitted(session)["number"] == "2026-0001"
    assert submitted(session, session_year=2027)["number"] == "2027-0001"
    assert submitted(session, session_year=2027)["number"] == "2027-0002"
    assert submitted(session)["number"] == "2026-0002"
    assert session.scalar(select(Proposal.year).where(Proposal.number == "2027-0002")) == 2027


@pytest.mark.parametrize("year", [2000, 2024, 2028, 2999])
def test_a_session_year_far_from_this_one_is_refused_before_a_number_is_taken(session, year):
    with pytest.raises(InvalidInput) as refused:
        submitted(session, session_year=year)
    assert "2025 to 2027" in str(refused.value.details["session_year"])
    assert session.scalar(select(func.count()).select_from(ProposalCounter)) == 0
    assert submitted(session, session_year=2025)["number"] == "2025-0001"  # the session just closed


def test_session_year_defaults_to_the_year_in_china_not_in_utc(session, skipping_clock):
    skipping_clock.set(datetime(2026, 12, 31, 17, 0, tzinfo=timezone.utc))  # 01:00 on 1 January in Beijing
    assert submitted(session)["number"] == "2027-0001"


def test_a_rolled_back_submission_gives_its_number_back(sessions):
    with sessions() as first:
        assert submitted(first)["number"] == "2026-0001"
    with sessions() as abandoned:
        assert operations.submit(SqlIntakeUnitOfWork(abandoned), RulebookRules(), draft(), LI)["number"] == "2026-0002"
        abandoned.rollback()
    with sessions() as next_one:
        assert submitted(next_one)["number"] == "2026-0002"
        assert next_one.scalar(select(ProposalCounter.last).where(ProposalCounter.year == 2026)) == 2


def test_the_first_proposal_of_a_year_rolled_back_leaves_no_counter_behind(sessions):
    with sessions() as abandoned:
        operations.submit(SqlIntakeUnitOfWork(abandoned), RulebookRules(), draft(session_year=2027), LI)
        abandoned.rollback()
    with sessions() as s:
        assert s.get(ProposalCounter, 2027) is None
        assert submitted(s, session_year=2027)["number"] == "2027-0001"


# -- submit --------------------------------------------------------------------------------------


def test_submission_starts_the_proposal_process_in_the_same_transaction(session):
    proposal = submitted(session, cosigners=["张伟", "王芳"], publish_consent=False, no_publish_reason="涉及个人经历")
    [start] = outbox(session, contracts.START_ROUTING_KEY)
    assert start["command_id"] == "proposal-2026-0001"
    assert start["process_id"] == "proposal" and start["business_key"] == "2026-0001"
    assert start["principal"]["user"] == "李明"
    assert start["data"] == {
        "proposal_id": proposal["id"],
        "number": "2026-0001",
        "title": BUS_SHELTERS["title"],
        "kind": "between_sessions",
        "proposer": "李明",
        "cosigners": ["张伟", "王芳"],
        "publish_consent": False,
        "cosign_due": "2026-03-05T16:00:00+00:00",
    }


def test_rolled_back_submission_sends_no_start_command(sessions):
    with sessions() as s:
        operations.submit(SqlIntakeUnitOfWork(s), RulebookRules(), draft(), LI)
        s.rollback()
    with sessions() as s:
        assert outbox(s, contracts.START_ROUTING_KEY) == []


def test_joint_proposal_waits_for_cosigners_until_the_cosign_window_ends(session):
    # Submitted on 2 March 2026, 17:00 in Beijing; the rulebook's window is 3 calendar days.
    assert load_rulebook("proposal").duration("cosign_window").amount == 3
    proposal = submitted(session, cosigners=["张伟", "王芳"])
    assert proposal["status"] == "cosigning"
    assert proposal["cosign_due"] == "2026-03-05T16:00:00+00:00"  # the end of 5 March in Beijing
    assert [(c["user"], c["order"], c["status"]) for c in proposal["cosigners"]] == [
        ("张伟", 1, "invited"),
        ("王芳", 2, "invited"),
    ]
    assert "2026-03-05" in notifications(session, "张伟")[0]
    submitted_event = session.scalar(select(ProposalEvent).where(ProposalEvent.action == "submitted"))
    assert submitted_event.data["cosign_deadline"]["rule"] == "cosign_window"


def test_proposal_without_cosigners_goes_straight_to_register(session):
    proposal = submitted(session)
    assert proposal["status"] == "submitted" and proposal["cosign_due"] is None
    assert outbox(session, contracts.START_ROUTING_KEY)[0]["data"]["cosign_due"] is None
    assert actions(session, "2026-0001") == ["submitted"]


def test_a_draft_missing_its_three_parts_is_refused_part_by_part(session):
    bad = draft(situation="   ", analysis="")
    del bad["suggestions"]
    with pytest.raises(InvalidInput) as refused:
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), bad, LI)
    assert refused.value.details == {
        "situation": ["must not be empty"],
        "analysis": ["must not be empty"],
        "suggestions": ["Missing data for required field."],
    }
    assert session.scalar(select(func.count()).select_from(Proposal)) == 0
    assert session.scalar(select(func.count()).select_from(Outbox)) == 0
    assert session.get(ProposalCounter, 2026) is None


def test_a_title_over_200_characters_is_refused(session):
    with pytest.raises(InvalidInput) as refused:
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(title="候" * 201), LI)
    assert list(refused.value.details) == ["title"]
    assert "200" in refused.value.details["title"][0]
    assert (
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(title="候" * 200), LI)["number"]
        == "2026-0001"
    )


def test_one_matter_is_at_most_5000_characters_in_all(session):
    with pytest.raises(InvalidInput) as refused:
        operations.submit(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            draft(situation="情" * 1700, analysis="析" * 1700, suggestions="议" * 1700),
            LI,
        )
    assert "5000" in refused.value.details["_schema"][0]
    fits = 5000 - len(BUS_SHELTERS["title"]) - 2
    assert operations.submit(
        SqlIntakeUnitOfWork(session), RulebookRules(), draft(situation="情" * fits, analysis="析", suggestions="议"), LI
    )


def test_refusing_publication_needs_a_reason(session):
    with pytest.raises(InvalidInput) as refused:
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(publish_consent=False), LI)
    assert list(refused.value.details) == ["no_publish_reason"]


def test_cosigners_are_distinct_and_never_the_initiator(session):
    with pytest.raises(InvalidInput) as repeated:
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(cosigners=["张伟", "王芳", "张伟"]), LI)
    assert "张伟" in repeated.value.details["cosigners"][0]
    with pytest.raises(InvalidInput) as initiator:
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(cosigners=["李明"]), LI)
    assert "initiator" in initiator.value.details["cosigners"][0]


def test_cosigners_are_members_and_no_more_than_the_rulebook_allows(session):
    from shared.rulebook import load_rulebook

    cap = load_rulebook("proposal").max_cosigners()
    many = [f"member.{i}" for i in range(cap + 1)]
    with pytest.raises(InvalidInput) as too_many:
        operations.submit(
            SqlIntakeUnitOfWork(session), RulebookRules(), draft(cosigners=many), LI, directory=members_only()
        )
    assert f"at most {cap}" in too_many.value.details["cosigners"][0]
    with pytest.raises(InvalidInput) as strangers:
        operations.submit(
            SqlIntakeUnitOfWork(session),
            RulebookRules(),
            draft(cosigners=["张伟", "stranger"]),
            LI,
            directory=members_only("张伟"),
        )
    assert "stranger" in strangers.value.details["cosigners"][0]
    with pytest.raises(InvalidInput):  # co-signers nobody can check are not taken
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(cosigners=["张伟"]), LI)
    assert operations.submit(
        SqlIntakeUnitOfWork(session), RulebookRules(), draft(cosigners=many[:cap]), LI, directory=members_only()
    )["cosigners"]


def test_a_proposal_is_plenary_or_between_sessions(session):
    with pytest.raises(InvalidInput) as refused:
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(kind="urgent"), LI)
    assert list(refused.value.details) == ["kind"]
    assert (
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(kind="plenary"), LI)["kind"] == "plenary"
    )


def test_only_members_submit(session):
    with pytest.raises(Forbidden):
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(), STAFF)
    with pytest.raises(Unauthenticated):
        operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), draft(), None)
    assert session.scalar(select(func.count()).select_from(Proposal)) == 0


# -- reading -------------------------------------------------------------------------------------


def test_a_member_cannot_read_another_members_unpublished_proposal(session):
    submitted(session)
    with pytest.raises(NotFound) as hidden:
        operations.get(SqlIntakeUnitOfWork(session), "2026-0001", ZHANG)
    with pytest.raises(NotFound) as missing:
        operations.get(SqlIntakeUnitOfWork(session), "2026-0099", ZHANG)
    assert hidden.value.message.replace("0001", "0099") == missing.value.message
    assert operations.get(SqlIntakeUnitOfWork(session), "2026-0001", LI)["title"] == BUS_SHELTERS["title"]


def test_an_invited_cosigner_reads_the_proposal(session):
    submitted(session, cosigners=["张伟"])
    assert operations.get(SqlIntakeUnitOfWork(session), "2026-0001", ZHANG)["initiator"] == "李明"


def test_staff_committee_and_leaders_read_every_proposal(session):
    submitted(session)
    submitted(session, ZHANG, text=PRESCHOOLS)
    assert operations.get(SqlIntakeUnitOfWork(session), "2026-0002", LEADER)["initiator"] == "张伟"
    assert [p["number"] for p in operations.list_proposals(SqlIntakeUnitOfWork(session), STAFF, mine=False)] == [
        "2026-0001",
        "2026-0002",
    ]


def test_the_list_reads_every_proposals_cosigners_in_one_query_however_many_proposals(session):
    from sqlalchemy import event

    def selects_for_list():
        engine, seen = session.get_bind(), []
        record = lambda *args: seen.append(args[2])  # noqa: E731 - the statement
        event.listen(engine, "before_cursor_execute", record)
        try:
            session.expire_all()  # nothing from an earlier load: each proposal's co-signers read afresh
            listed = operations.list_proposals(SqlIntakeUnitOfWork(session), STAFF, mine=False)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return listed, len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    submitted(session, cosigners=["张伟"])
    _, few = selects_for_list()
    for text in (PRESCHOOLS, BUS_SHELTERS_REWORDED, PRESCHOOLS, BUS_SHELTERS_REWORDED):
        submitted(session, WANG, text=text, cosigners=["张伟"])
    listed, many = selects_for_list()
    assert len(listed) == 5 and all(p["cosigners"][0]["user"] == "张伟" for p in listed)
    assert many == few == 2  # the proposals, then all their co-signers: not one query a proposal


def test_a_unit_handler_does_not_read_proposals_here(session):
    submitted(session)
    with pytest.raises(Forbidden):
        operations.get(SqlIntakeUnitOfWork(session), "2026-0001", HANDLER)
    with pytest.raises(Forbidden):
        operations.list_proposals(SqlIntakeUnitOfWork(session), HANDLER, mine=False)


def test_a_members_list_holds_their_own_and_the_published_ones(session):
    submitted(session, cosigners=["张伟"])
    submitted(session, ZHANG, text=PRESCHOOLS)
    submitted(session, WANG, text=BUS_SHELTERS_REWORDED)
    published = filed(session, text=PRESCHOOLS, principal=SMITH)
    operations.publish(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": published["id"], "units": ["education"], "reply_category": "A", "reply_summary": "已列入计划"},
        None,
    )
    session.commit()
    assert [p["number"] for p in operations.list_proposals(SqlIntakeUnitOfWork(session), ZHANG)] == [
        "2026-0001",
        "2026-0002",
    ]
    everything = operations.list_proposals(SqlIntakeUnitOfWork(session), ZHANG, mine=False)
    assert [p["number"] for p in everything] == ["2026-0001", "2026-0002", "2026-0004"]
    assert everything[-1]["proposers"] == ["s***"] and "initiator" not in everything[-1]

    # GET /api/proposals: the same, a page at a time, newest first, with the total
    def page(principal, **query):
        return operations.proposal_page(SqlIntakeUnitOfWork(session), principal, query)

    def numbers(answer):
        return [p["number"] for p in answer["items"]]

    assert page(ZHANG, mine="true")["items"] == operations.list_proposals(SqlIntakeUnitOfWork(session), ZHANG)[::-1]
    assert page(ZHANG)["items"] == everything[::-1]
    first, second = page(ZHANG, per_page="2"), page(ZHANG, per_page="2", page="2")
    assert (numbers(first), numbers(second), first["total"], second["total"]) == (
        ["2026-0004", "2026-0002"],
        ["2026-0001"],
        3,
        3,
    )
    assert numbers(page(STAFF)) == ["2026-0004", "2026-0003", "2026-0002", "2026-0001"]
    assert numbers(page(STAFF, mine="true")) == [] and page(STAFF, mine="true")["total"] == 0
    public = page(PUBLIC)
    assert numbers(public) == ["2026-0004"] and public["items"][0]["proposers"] == ["s***"]
    for nonsense in ({"per_page": "0"}, {"per_page": "201"}, {"page": "0"}, {"mine": "perhaps"}):
        with pytest.raises(InvalidInput) as refused:
            page(ZHANG, **nonsense)
        assert set(nonsense) <= set(refused.value.details)
    with pytest.raises(Forbidden):
        page(HANDLER)


# -- duplicates ----------------------------------------------------------------------------------


def test_a_reworded_copy_is_found_as_a_near_duplicate(session):
    submitted(session)
    submitted(session, ZHANG, text=PRESCHOOLS)
    copy = submitted(session, WANG, text=BUS_SHELTERS_REWORDED)
    found = operations.find_duplicates(SqlIntakeUnitOfWork(session), RulebookRules(), {"proposal_id": copy["id"]}, None)
    assert [c["number"] for c in found["candidates"]] == ["2026-0001"]
    assert found["candidates"][0]["title"] == BUS_SHELTERS["title"]
    assert DUPLICATE_THRESHOLD <= found["candidates"][0]["score"] < 1


def test_an_unrelated_proposal_has_no_duplicates(session):
    submitted(session)
    unrelated = submitted(session, ZHANG, text=PRESCHOOLS)
    assert operations.find_duplicates(
        SqlIntakeUnitOfWork(session), RulebookRules(), {"proposal_id": unrelated["id"]}, None
    ) == {"candidates": []}


def test_duplicates_are_sorted_best_first(session):
    submitted(session, text=BUS_SHELTERS_REWORDED)
    submitted(session, ZHANG)
    exact = submitted(session, WANG)
    found = operations.find_duplicates(
        SqlIntakeUnitOfWork(session), RulebookRules(), {"proposal_id": exact["id"]}, None
    )["candidates"]
    assert [c["number"] for c in found] == ["2026-0002", "2026-0001"]
    assert found[0]["score"] == 1.0 > found[1]["score"]


def test_duplicates_come_from_the_same_year_and_not_from_merged_or_not_filed_ones(session):
    submitted(session, session_year=2025)
    rejected = submitted(session, ZHANG)
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "proposal_id": rejected["id"],
            "decision": "not_filed",
            "reason_code": "no_concrete_suggestion",
            "decided_by": "committee.he",
        },
        None,
    )
    copy = submitted(session, WANG)
    assert operations.find_duplicates(
        SqlIntakeUnitOfWork(session), RulebookRules(), {"proposal_id": copy["id"]}, None
    ) == {"candidates": []}


def test_finding_duplicates_opens_the_pre_review(session):
    proposal = submitted(session)
    operations.find_duplicates(SqlIntakeUnitOfWork(session), RulebookRules(), {"proposal_id": proposal["id"]}, None)
    assert operations.get(SqlIntakeUnitOfWork(session), "2026-0001", STAFF)["status"] == "pre_review"
    assert actions(session, "2026-0001") == ["submitted", "pre_review_opened"]


def decide(session, proposal, decision, **params):
    result = operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": proposal["id"], "decision": decision, "decided_by": "committee.he", **params},
        None,
    )
    session.commit()
    return result


# -- publication (公开) --------------------------------------------------------------------------


def publish(session, proposal, **params):
    result = operations.publish(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "proposal_id": proposal["id"],
            "units": ["transport"],
            "reply_category": "B",
            "reply_summary": "已列入明年改造计划",
            **params,
        },
        None,
    )
    session.commit()
    return result


def test_publication_masks_names_phone_and_identity_numbers(session):
    proposal = submitted(
        session,
        cosigners=["张伟", "smith"],
        situation=("市民李明反映（电话 13812345678，身份证 110101199003071234）候车亭漏雨；smith 也到现场看过。"),
    )
    operations.cosign(SqlIntakeUnitOfWork(session), "2026-0001", ZHANG)
    operations.cosign(SqlIntakeUnitOfWork(session), "2026-0001", SMITH)
    operations.settle_cosigners(SqlIntakeUnitOfWork(session), {"proposal_id": proposal["id"]}, None)
    decide(session, proposal, "filed")
    assert publish(session, proposal) == {"published": True, "reason": None}
    row = session.scalar(select(Publication))
    assert row.proposers == ["李*", "张*", "s***"]
    assert row.situation == "市民李*反映（电话 138****5678，身份证 110***********1234）候车亭漏雨；s*** 也到现场看过。"
    assert (row.units, row.reply_category) == (["transport"], "B")
    seen = operations.get(SqlIntakeUnitOfWork(session), "2026-0001", WANG)
    assert seen["status"] == "published" and "13812345678" not in str(seen) and "李明" not in str(seen)


def test_the_directory_names_of_proposers_who_did_not_consent_are_masked_in_what_is_published(session):
    """A unit's reply opens "尊敬的李明华委员", a situation says "本人李明华…": the members
    directory's name of a proposer who did not consent to being named is masked in every published
    text when it is read (publishing asks the directory nothing: the stored texts are masked of
    personal data and user ids), as their user id was; the name of one who consented stays."""
    member = {"user": "member.li", "roles": ["member"]}
    cosigner = {"user": "member.zhou", "roles": ["member"]}
    directory = {"member.li": "李明华", "member.zhou": "周雅琴"}
    asked = []

    def names(users):
        asked.append(list(users))
        return {user: directory[user] for user in users if user in directory}

    proposal = submitted(
        session,
        member,
        cosigners=["member.zhou"],
        publish_name=False,
        situation="本人李明华与周雅琴委员走访了老城区的公交候车亭。",
    )
    operations.cosign(SqlIntakeUnitOfWork(session), "2026-0001", cosigner, publish_name=True)
    operations.settle_cosigners(SqlIntakeUnitOfWork(session), {"proposal_id": proposal["id"]}, None)
    decide(session, proposal, "filed")
    operations.publish(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {
            "proposal_id": proposal["id"],
            "units": ["transport"],
            "reply_category": "A",
            "reply_summary": "尊敬的李明华委员、周雅琴委员：您好！候车亭已改造。",
        },
        None,
    )
    session.commit()
    assert asked == []  # publishing asks the directory nothing
    seen = get_published(SqlIntakeUnitOfWork(session), "2026-0001", PUBLIC, names)
    assert seen["situation"] == "本人李**与周雅琴委员走访了老城区的公交候车亭。"
    assert seen["reply_summary"] == "尊敬的李**委员、周雅琴委员：您好！候车亭已改造。"
    assert asked == [["member.li", "member.zhou"]]
    row = session.scalar(select(Publication))
    row.situation = "本人李明华走访。"
    session.commit()
    seen = get_published(SqlIntakeUnitOfWork(session), "2026-0001", PUBLIC, names)
    assert seen["situation"] == "本人李**走访。" and "李明华" not in str(seen)
    assert [p["name"] for p in seen["proposers"]] == ["m***", "周雅琴"]
    # So is it when another member reads it, one at a time, in the whole list or a page at a time.
    other = {"user": "member.wu", "roles": ["member"]}
    uow = SqlIntakeUnitOfWork(session)
    assert operations.get(uow, "2026-0001", other, names)["situation"] == "本人李**走访。"
    [listed] = [p for p in operations.list_proposals(uow, other, False, names) if p["number"] == "2026-0001"]
    [paged] = [p for p in operations.proposal_page(uow, other, {}, names)["items"] if p["number"] == "2026-0001"]
    assert listed["situation"] == paged["situation"] == "本人李**走访。"
    assert "本人李明华" in operations.get(uow, "2026-0001", member, names)["situation"]  # the proposer's own, whole


@pytest.mark.parametrize(
    "text, masked",
    [
        ("座机 0571-87654321", "座机 057*****4321"),
        ("手机+8613912345678", "手机+861******5678"),
        ("旧身份证 110101900307123", "旧身份证 110********7123"),
        ("卡号 6222 0212 3456 7890 123", "卡号 622************0123"),  # 19 digits: a bank card
        ("手机 138 1234 5678，", "手机 138****5678，"),
        ("手机１３８－１２３４－５６７８。", "手机138****5678。"),
        ("身份证 110101 19900307 123X 号", "身份证 110***********123X 号"),
        ("邮箱 li.ming@example.com.cn 联系", "邮箱 l***@example.com.cn 联系"),
        ("2026-05-01 至 2026-06-30，1,000 人参加", "2026-05-01 至 2026-06-30，1,000 人参加"),
        ("座机(010)12345678", "座机(010****5678"),
        ("座机（0755）88889999", "座机（075*****9999"),
        ("手机 139/1111/2222 或 139_1111_2222 或 139～1111～2222", "手机 139****2222 或 139****2222 或 139****2222"),
        ("手机 139\u200b1111\u200b2222，139\u00ad1111\u00ad2222", "手机 139****2222，139****2222"),
        ("手机 ¹³⁹¹¹¹¹²²²² 或 ①③⑨①①①①②②②②", "手机 139****2222 或 139****2222"),
        ("手机13911112222x号", "手机139****2222x号"),
        ("2026/12/03 第(3)条 1/2", "2026/12/03 第(3)条 1/2"),
        ("电话 一三九一一一一二二二二 或 幺三九 一一一一 二二二二", "电话 139****2222 或 139****2222"),
        ("电话 壹叁玖壹壹壹壹贰贰贰贰", "电话 139****2222"),
        ("二〇二六年十二月三日，一二九运动，两个人", "二〇二六年十二月三日，一二九运动，两个人"),
        ("联系人张三 13812345678，王五13912345678", "联系人张三 138****5678，王五139****5678"),
    ],
)
def test_phone_and_identity_numbers_are_masked_in_any_form(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize("name, masked", [("李明", "李*"), ("欧阳娜娜", "欧***"), ("Smith", "S***")])
def test_names_keep_their_first_character(name, masked):
    assert mask_name(name) == masked


def test_a_chinese_name_is_masked_with_spaces_dots_or_dashes_between_its_characters():
    said = "赵 六、赵\u3000六、赵·六、赵-六 与赵六都来了，赵大六不是"
    assert mask_text(said, ["赵六"]) == "赵*、赵*、赵*、赵* 与赵*都来了，赵大六不是"


def test_a_latin_name_is_masked_only_as_a_whole_word():
    assert mask_text("public transport for li and Li Lei", ["li"]) == "public transport for l*** and Li Lei"


def test_a_proposal_whose_proposer_declined_is_not_published_and_the_reason_is_kept(session):
    proposal = filed(session, publish_consent=False, no_publish_reason="涉及单位内部情况")
    assert publish(session, proposal) == {"published": False, "reason": "涉及单位内部情况"}
    assert operations.get(SqlIntakeUnitOfWork(session), "2026-0001", STAFF)["status"] == "filed"
    assert session.scalar(select(func.count()).select_from(Publication)) == 0
    assert actions(session, "2026-0001")[-1] == "publication_declined"
    with pytest.raises(NotFound):
        operations.get(SqlIntakeUnitOfWork(session), "2026-0001", WANG)


def test_only_an_answered_proposal_with_a_known_reply_category_is_published(session):
    waiting = submitted(session)
    with pytest.raises(BusinessError) as unanswered:
        publish(session, waiting)
    assert unanswered.value.code == "not_publishable"
    answered = filed(session, text=PRESCHOOLS, principal=ZHANG)
    with pytest.raises(BusinessError) as disabled:
        publish(session, answered, reply_category="D")  # disabled in the rulebook
    assert disabled.value.code == "unknown_reply_category"


# -- the smoke diagram's operation ---------------------------------------------------------------


def test_record_submission_still_records_a_bare_submission(session):
    result = operations.record_submission(
        SqlIntakeUnitOfWork(session),
        {"title": "Repair the bus shelter", "business_key": "S-1"},
        {"user": "member.li", "roles": ["member"]},
    )
    assert result == {"id": 1, "title": "Repair the bus shelter"}
    assert session.get(Submission, 1).submitted_by == "member.li"


# -- a filing decision the diagram could not record ------------------------------------------


def test_a_refused_filing_decision_is_kept_and_its_decider_told_why_the_proposal_is_unchanged(session):
    proposal = submitted(session)
    before = session.scalar(select(Proposal.status).where(Proposal.number == proposal["number"]))
    message = f"cannot merge {proposal['number']} into 2026-0404: that proposal does not exist"
    told = operations.record_filing_refused(
        SqlIntakeUnitOfWork(session),
        {
            "proposal_id": proposal["id"],
            "code": "merge_target_invalid",
            "message": message,
            "decided_by": "committee.he",
        },
        None,
    )
    session.commit()
    assert told == {"recorded": True, "code": "merge_target_invalid"}
    assert session.scalar(select(Proposal.status).where(Proposal.number == proposal["number"])) == before
    assert actions(session, proposal["number"])[-1] == "filing_refused"
    [text] = notifications(session, "committee.he")
    assert message in text and "重新作出决定" in text
    [event] = outbox(session, "notify.filing_refused")
    assert event["payload"]["recipients"] == ["committee.he"]


def test_a_refused_merge_is_said_to_the_committee_in_its_language_from_the_proposal_it_chose(session):
    proposal = submitted(session)
    message = f"cannot merge {proposal['number']} into 2026-0404: that proposal does not exist"
    operations.record_filing_refused(
        SqlIntakeUnitOfWork(session),
        {
            "proposal_id": proposal["id"],
            "code": "merge_target_invalid",
            "message": message,
            "decided_by": "committee.he",
            "merge_into": "2026-0404",
        },
        None,
    )
    session.commit()
    [text] = notifications(session, "committee.he")
    assert "立案决定未能记录：提案 2026-0404 不存在。" in text and "cannot merge" not in text


def test_a_refused_filing_decision_without_its_decider_tells_the_committee(session):
    proposal = submitted(session)
    operations.record_filing_refused(
        SqlIntakeUnitOfWork(session), {"proposal_id": proposal["id"], "code": "merge_target_invalid"}, None
    )
    session.commit()
    [text] = notifications(session, "role:committee")
    assert "merge_target_invalid" in text  # no message given: the code says what went wrong
