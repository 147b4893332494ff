"""``process.cancelled`` over the real broker: intake's events queue takes it, the proposal is
cancelled once and its proposer told in the same transaction; a payload not as the contract says
is dead-lettered with the reason and changes nothing. On a real database of each kind: what a
cancelled opinion item, a proposal merged into a cancelled one and an open co-signing invitation
become (the refusals, the lists, the notices in the outbox)."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from services.intake import operations, opinions, progress, reports
from services.intake import opinion_tracking as tracking
from services.intake.models import Cosigner, Notification, OpinionForward, OpinionItem, Outbox, Proposal, ProposalEvent
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from shared import contracts
from shared.db import session_factory, transaction
from shared.errors import Conflict
from tests.integration.services.intake.test_service import DRAFT, intake  # noqa: F401 - the fixture
from tests.support import get_messages, process_cancelled, publish, ready_count, wait_for

LI = {"user": "李明", "roles": ["member"]}


def cancelled(number, instance="inst-7", **payload):
    return process_cancelled(number, "流程卡住，重新发起", "ops.wang", instance_id=instance, payload=payload)


def test_a_cancelled_proposal_is_closed_once_and_a_malformed_cancellation_is_dead_lettered(intake, settings, vhost):
    number = intake.intake.submit(DRAFT, LI)["number"]
    db = session_factory(settings.database_url("intake"))

    def status():
        with transaction(db) as s:
            return s.scalar(select(Proposal.status).where(Proposal.number == number))

    # Malformed first (no reason): refused with its reason, the proposal as it was.
    bad = cancelled(number, instance="inst-bad")
    del bad["payload"]["reason"]
    publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, contracts.PROCESS_CANCELLED, bad)
    dead = wait_for(lambda: get_messages(vhost, contracts.DEAD_QUEUE), timeout=30, message="the dead letter")
    [letter] = dead
    reason = letter["properties"]["headers"][contracts.REASON_HEADER]
    assert reason.startswith("invalid_input") and "reason" in reason, reason
    assert status() == "submitted"

    for _ in range(2):  # heard twice: acts once
        publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, contracts.PROCESS_CANCELLED, cancelled(number))
    wait_for(lambda: status() == "cancelled", timeout=30, message="the proposal cancelled")

    def settled():
        with transaction(db) as s:
            lines = [
                e.data
                for e in s.scalars(select(ProposalEvent).where(ProposalEvent.action == "handling"))
                if (e.data or {}).get("event") == contracts.PROCESS_CANCELLED
            ]
            told = [n.text for n in s.scalars(select(Notification)) if "撤销" in n.text]
        return lines, told

    wait_for(lambda: all(settled()), timeout=30, message="the history line and the notice")
    # The second delivery taken off the queue and given time to be handled: still one of each.
    wait_for(lambda: ready_count(settings.amqp_uri, contracts.events_queue("intake")) == 0, message="both taken")
    time.sleep(1)
    lines, told = settled()
    assert len(lines) == 1 and lines[0]["reason"] == "流程卡住，重新发起" and lines[0]["by"] == "ops.wang"
    assert len(told) == 1 and "流程卡住，重新发起" in told[0]
    assert get_messages(vhost, contracts.DEAD_QUEUE) == []


# -- on a real database of each kind ---------------------------------------------------------------

RULES = RulebookRules()
ZHANG = {"user": "张伟", "roles": ["member"]}
WANG = {"user": "王芳", "roles": ["member"]}
STAFF = {"user": "staff.zhao", "roles": ["staff"]}
LEADER = {"user": "leader.sun", "roles": ["leader"]}
HOUSING = {"user": "handler.gao", "roles": ["unit"], "unit": "housing"}
REASON = "流程卡住，重新发起"
ITEM = {
    "title": "关于老旧小区加装电梯的建议",
    "situation": "老旧小区多为六层以下住宅，老年住户上下楼困难。",
    "analysis": "加装电梯需要全体业主同意，费用分摊难以协调。",
    "suggestion": "出台费用分摊指引，设立加装电梯协调专班。",
}
PASSED = {"political_ok": True, "facts_ok": True, "content_ok": True, "wording_ok": True}


def outbox(session, prefix):
    rows = session.scalars(select(Outbox).order_by(Outbox.id))
    return [row.payload for row in rows if row.routing_key.startswith(prefix)]


def forwarded(session, units=("housing", "transport")):
    uow = SqlIntakeUnitOfWork(session)
    number = opinions.submit(uow, RULES, ITEM, LI)["number"]
    item_id = session.scalar(select(OpinionItem.id).where(OpinionItem.number == number))
    tracking.record_editing(uow, RULES, {"item_id": item_id, **PASSED, "decision": "report", "edited_by": "s"}, None)
    tracking.report(uow, RULES, {"item_id": item_id, "channels": ["provincial_committee"], "signed_off_by": "l"}, None)
    tracking.record_adoption(uow, RULES, number, {"channel": "provincial_committee", "adopted": True}, STAFF)
    tracking.forward(
        uow, RULES, {"item_id": item_id, "units": list(units), "request": "请研究", "forwarded_by": "staff.zhao"}, None
    )
    session.commit()
    return number


def cancel(session, number, process):
    answer = progress.hear(SqlIntakeUnitOfWork(session), cancelled(number, process_id=process))
    session.commit()
    return answer


@pytest.mark.both_databases
def test_a_cancelled_forwarded_item_closes_its_forwards_tells_the_departments_and_takes_nothing_more(sessions):
    with sessions() as session:
        number, kept = forwarded(session), forwarded(session)
        uow = SqlIntakeUnitOfWork(session)
        awaiting = opinions.item_page(uow, LEADER, {"awaiting": "instruction"})
        assert [i["number"] for i in awaiting["items"]] == [kept, number]
        assert cancel(session, number, "opinion")["applied"] is True
        item = uow.opinions.by_number(number)
        forwards = session.scalars(select(OpinionForward).where(OpinionForward.item_id == item.id))
        assert {f.unit: f.status for f in forwards} == {"housing": "cancelled", "transport": "cancelled"}
        told = {tuple(n["payload"]["recipients"]) for n in outbox(session, "notify.opinion.cancelled")}
        assert told == {(LI["user"],), ("unit:housing",), ("unit:transport",)}
        # The leaders' list (the database's query) leaves it out; the adopted report marks it.
        awaiting = opinions.item_page(uow, LEADER, {"awaiting": "instruction"})
        assert ([i["number"] for i in awaiting["items"]], awaiting["total"]) == ([kept], 1)
        report = reports.adopted_opinions(uow, RULES, item.year, "members", STAFF)
        assert {row["number"]: row["status"] for row in report["items"]} == {number: "cancelled", kept: "forwarded"}
        assert report["cancelled"] == 1
        before = len(outbox(session, ""))
        instruction = {"channel": "provincial_committee", "level": "city", "leader": "孙市长", "text": "请落实"}
        for refused in (
            lambda: tracking.record_instruction(uow, RULES, number, instruction, LEADER),
            lambda: tracking.record_adoption(
                uow, RULES, number, {"channel": "provincial_committee", "adopted": True}, STAFF
            ),
            lambda: tracking.answer_forward(uow, number, {"text": "已落实"}, HOUSING),
        ):
            with pytest.raises(Conflict, match=re.escape(f"by ops.wang ({REASON})")):
                refused()
            session.rollback()
        assert len(outbox(session, "")) == before


@pytest.mark.both_databases
def test_merged_proposals_go_back_to_the_filing_decision_and_open_invitations_close_with_a_cancelled_proposal(sessions):
    with sessions() as session:
        uow = SqlIntakeUnitOfWork(session)
        nobody_unknown = lambda users: []  # noqa: E731 - the members directory knows every co-signer
        main = operations.submit(uow, RULES, DRAFT, LI, directory=nobody_unknown)
        operations.record_filing(uow, RULES, {"proposal_id": main["id"], "decision": "filed", "decided_by": "c"}, None)
        merged = operations.submit(uow, RULES, DRAFT, ZHANG, directory=nobody_unknown)
        merge = {"proposal_id": merged["id"], "decision": "merged", "merge_into": main["number"], "decided_by": "c"}
        operations.record_filing(uow, RULES, merge, None)
        joint = operations.submit(uow, RULES, {**DRAFT, "cosigners": ["王芳"]}, LI, directory=nobody_unknown)
        session.commit()
        assert cancel(session, main["number"], "proposal")["applied"] is True
        assert cancel(session, joint["number"], "proposal")["applied"] is True
        unmerged = session.scalar(select(Proposal).where(Proposal.number == merged["number"]))
        assert (unmerged.status, unmerged.merged_into, unmerged.decision) == ("pre_review", None, None)
        # its process hears it, in the same transaction's outbox
        [back] = [m for m in outbox(session, contracts.MESSAGE_ROUTING_KEY) if m["name"] == "merge_main_cancelled"]
        assert back["correlation_key"] == merged["number"] and back["payload"]["main"] == main["number"]
        assert session.scalar(select(Cosigner.status).where(Cosigner.user == "王芳")) == "cancelled"
        rows = {n.recipient: n.text for n in session.scalars(select(Notification)) if "撤销" in n.text}
        assert merged["number"] in rows["role:committee"] and REASON in rows["role:committee"]
        assert rows["role:staff"] == rows["role:committee"]
        assert "重新交提案委员会作出立案决定" in rows["张伟"] and "联名邀请随之关闭" in rows["王芳"]
        # One message for the change: the merged proposers' notice, the staff's riding on it.
        told = [
            (m["name"].removeprefix("notify."), m["payload"]["recipients"])
            for m in outbox(session, "notify.merged_main_cancelled")
        ] + [
            (n["kind"], n["recipients"])
            for m in outbox(session, "notify.merged_main_cancelled")
            for n in m.get("notices") or []
        ]
        assert sorted(told) == [
            ("merged_main_cancelled", ["role:committee", "role:staff"]),
            ("merged_main_cancelled", ["张伟"]),
        ]
        with pytest.raises(Conflict, match=re.escape(f"by ops.wang ({REASON})")):
            operations.cosign(uow, joint["number"], WANG)
        session.rollback()
