"""The intake service over the real broker: a submission and its start command leave together."""

from __future__ import annotations

import json

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select

from services.intake.models import Outbox, Proposal, ProposalCounter
from services.intake.service import IntakeService
from shared import contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import Forbidden, InvalidInput
from shared.messaging import topology
from tests.support import NEXT_YEAR, SigningRpc, get_messages, wait_for

LI = {"user": "李明", "roles": ["member"]}
STAFF = {"user": "staff.zhao", "roles": ["staff"]}
DRAFT = {
    "kind": "between_sessions",
    "session_year": NEXT_YEAR,
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "老城区现有公交候车亭多建于十年前，遮雨面积小，夜间照明不足。",
    "analysis": "候车亭改造分属多个部门，缺少统一规划和维护资金。",
    "suggestions": "由交通局牵头制定改造计划，增设夜间照明和实时到站信息屏。",
}


@pytest.fixture
def intake(settings):
    """IntakeService running in this process on a throwaway vhost, and an RPC proxy to it."""
    migrate("intake", settings.database_url("intake"))
    topology.declare(settings.amqp_uri)
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(IntakeService)
    runner.start()
    proxy = ClusterRpcProxy(settings.nameko_config())
    try:
        yield SigningRpc(proxy.start(), settings)
    finally:
        proxy.stop()
        runner.stop()
        dispose_all()


def intake_db(settings):
    return transaction(session_factory(settings.database_url("intake")))


class StartCommands:
    """The start commands taken off ``ztc.engine.starts`` so far (taking them removes them)."""

    def __init__(self, vhost):
        self.vhost, self.seen = vhost, []

    def wait_for(self, count):
        def enough():
            self.seen += get_messages(self.vhost, contracts.ENGINE_STARTS_QUEUE)
            return len(self.seen) >= count

        wait_for(enough, message=f"{count} start command(s) on {contracts.ENGINE_STARTS_QUEUE}")
        return self.seen


def body(message):
    return json.loads(message["payload"])


@pytest.mark.both_databases
def test_submit_commits_the_proposal_and_publishes_one_start_command_per_submission(intake, settings, vhost):
    commands = StartCommands(vhost)
    first = intake.intake.submit(DRAFT, LI)
    assert (first["number"], first["status"], first["initiator"]) == (f"{NEXT_YEAR}-0001", "submitted", "李明")
    with intake_db(settings) as s:
        assert s.scalar(select(Proposal.title).where(Proposal.number == f"{NEXT_YEAR}-0001")) == DRAFT["title"]
    [message] = commands.wait_for(1)
    assert (message["exchange"], message["routing_key"]) == (contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY)
    start = body(message)
    assert (start["command_id"], start["process_id"], start["business_key"]) == (
        f"proposal-{NEXT_YEAR}-0001",
        "proposal",
        f"{NEXT_YEAR}-0001",
    )
    assert start["data"]["proposal_id"] == first["id"] and start["data"]["proposer"] == "李明"

    intake.intake.submit({**DRAFT, "title": "关于增加普惠性幼儿园学位的建议"}, LI)
    commands.wait_for(2)
    assert [body(m)["business_key"] for m in commands.seen] == [f"{NEXT_YEAR}-0001", f"{NEXT_YEAR}-0002"]
    assert get_messages(vhost, contracts.ENGINE_STARTS_QUEUE) == []  # one each, no more
    assert [p["number"] for p in intake.intake.list(LI)] == [f"{NEXT_YEAR}-0001", f"{NEXT_YEAR}-0002"]


def test_an_invalid_draft_is_refused_field_by_field_and_publishes_nothing(intake, settings, vhost):
    with pytest.raises(InvalidInput) as refused:
        intake.intake.submit({**DRAFT, "analysis": " ", "title": "候" * 201}, LI)
    assert set(refused.value.details) == {"analysis", "title"}
    assert refused.value.details["analysis"] == ["must not be empty"]
    with pytest.raises(Forbidden):
        intake.intake.submit(DRAFT, STAFF)
    with intake_db(settings) as s:
        assert s.scalar(select(func.count()).select_from(Proposal)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
    # The next valid submission gets the first number and is the only command on the queue.
    assert intake.intake.submit(DRAFT, LI)["number"] == f"{NEXT_YEAR}-0001"
    assert [body(m)["business_key"] for m in StartCommands(vhost).wait_for(1)] == [f"{NEXT_YEAR}-0001"]


@pytest.mark.both_databases
def test_concurrent_submissions_are_numbered_without_gaps(intake, settings, vhost):
    replies = [intake.intake.submit.call_async({**DRAFT, "title": f"建议 {i}"}, LI) for i in range(12)]
    numbers = sorted(reply.result()["number"] for reply in replies)
    assert numbers == [f"{NEXT_YEAR}-{n:04d}" for n in range(1, 13)]
    with intake_db(settings) as s:
        assert s.get(ProposalCounter, NEXT_YEAR).last == 12
    commands = StartCommands(vhost).wait_for(12)
    assert sorted(body(m)["business_key"] for m in commands) == numbers


@pytest.mark.both_databases
def test_a_redelivered_submit_with_the_same_key_answers_the_first_proposal_and_starts_once(intake, settings, vhost):
    """The broker redelivers an RPC request whose worker died after committing: same key, same call."""
    first = intake.intake.submit(DRAFT, LI, key="retry-1")
    again = intake.intake.submit(DRAFT, LI, key="retry-1")
    assert again == first
    with intake_db(settings) as s:
        assert s.scalar(select(func.count()).select_from(Proposal)) == 1
    assert [body(m)["command_id"] for m in StartCommands(vhost).wait_for(1)] == [f"proposal-{NEXT_YEAR}-0001"]
    assert intake.intake.submit(DRAFT, LI, key="retry-2")["number"] == f"{NEXT_YEAR}-0002"
