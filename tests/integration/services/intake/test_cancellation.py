"""``process.cancelled`` over the real broker: intake's events queue takes it, the proposal is
cancelled once and its proposer told in the same transaction; a payload not as the contract says
is dead-lettered with the reason and changes nothing."""

from __future__ import annotations

import time

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import select

from services.intake.models import Notification, Proposal, ProposalEvent
from services.intake.service import IntakeService
from shared import clock, contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
from tests.support import SigningRpc, get_messages, publish, ready_count, wait_for

LI = {"user": "李明", "roles": ["member"]}
DRAFT = {
    "kind": "between_sessions",
    "session_year": 2027,
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "老城区现有公交候车亭多建于十年前，遮雨面积小，夜间照明不足。",
    "analysis": "候车亭改造分属多个部门，缺少统一规划和维护资金。",
    "suggestions": "由交通局牵头制定改造计划，增设夜间照明和实时到站信息屏。",
}


@pytest.fixture
def intake(settings):
    migrate("intake", settings.database_url("intake"))
    topology.declare(settings.amqp_uri)
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(IntakeService)
    runner.start()
    proxy = ClusterRpcProxy(settings.nameko_config())
    try:
        yield SigningRpc(proxy.start(), settings).intake
    finally:
        proxy.stop()
        runner.stop()
        dispose_all()


def cancelled(number, instance="inst-7", **payload):
    return {
        "event_id": f"cancelled:{instance}",
        "name": contracts.PROCESS_CANCELLED,
        "occurred_at": clock.now().isoformat(),
        "subject": number,
        "payload": {
            "instance_id": instance,
            "process_id": "proposal",
            "business_key": number,
            "reason": "流程卡住，重新发起",
            "by": "ops.wang",
            **payload,
        },
    }


def test_a_cancelled_proposal_is_closed_once_and_a_malformed_cancellation_is_dead_lettered(intake, settings, vhost):
    number = intake.submit(DRAFT, LI)["number"]
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
