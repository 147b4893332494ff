"""Intake's notifications are kept as rows and, in the same unit of work, published as
``notify.<kind>`` events for the gateway's inbox. Run on the in-memory fakes of intake's ports
(``tests/unit/services/intake/fakes.py``); that a rolled back transaction sends nothing is the SQL adapter's, on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake import operations, progress
from services.intake.models import Base, Notification, Outbox
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from shared import clock, contracts
from shared.db import dispose_all, get_engine, session_factory

from .fakes import FakeIntakeUnitOfWork

LI = {"user": "李明", "roles": ["member"]}
DRAFT = {
    "kind": "between_sessions",
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "候车亭遮雨面积小。",
    "analysis": "缺少统一规划。",
    "suggestions": "制定改造计划。",
}
RULES = RulebookRules()


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


def notify_events(uow):
    return [e for e in uow.events() if e["name"].startswith(contracts.NOTIFY_PREFIX)]


def test_inviting_cosigners_keeps_their_rows_and_publishes_one_notification_for_them(uow):
    proposal = operations.submit(uow, RULES, {**DRAFT, "cosigners": ["张伟", "王芳"]}, LI, directory=lambda users: [])
    rows = [row.recipient for row in uow.rows.of(Notification)]
    [event] = notify_events(uow)
    assert rows == ["张伟", "王芳"]
    assert event["name"] == contracts.NOTIFY_PREFIX + "cosign_invited"
    assert event["subject"] == proposal["number"]
    assert event["payload"]["recipients"] == ["张伟", "王芳"]
    assert proposal["number"] in event["payload"]["title"]
    # The invited read who invited them by name (the members directory's seed), not a login id.
    operations.submit(
        uow,
        RULES,
        {**DRAFT, "cosigners": ["王芳"]},
        {"user": "member.li", "roles": ["member"]},
        directory=lambda users: [],
    )
    assert notify_events(uow)[-1]["payload"]["text"].startswith("李明华委员 邀请您联名提案")


def test_the_invitation_names_the_initiator_as_the_members_directory_does_and_the_seed_when_it_cannot(uow):
    """A member renamed or added since the seed is named as the directory holds them; a directory
    that does not answer leaves the seed's name, and the submission goes through."""
    member = {"user": "member.li", "roles": ["member"]}
    draft = {**DRAFT, "cosigners": ["王芳"]}
    operations.submit(uow, RULES, draft, member, directory=lambda users: [], names=lambda users: {"member.li": "李明"})
    assert notify_events(uow)[-1]["payload"]["text"].startswith("李明委员 邀请您联名提案")

    def away(users):
        raise TimeoutError("evaluation did not answer")

    operations.submit(uow, RULES, draft, member, directory=lambda users: [], names=away)
    assert notify_events(uow)[-1]["payload"]["text"].startswith("李明华委员 邀请您联名提案")


def test_a_member_the_directory_does_not_know_is_named_by_their_user_id():
    from shared.names import member_called

    assert member_called("member.li") == "李明华委员"
    assert member_called("visitor.x") == "visitor.x"


def test_a_rolled_back_submission_publishes_nothing(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/intake.db"
    Base.metadata.create_all(get_engine(url))
    try:
        with session_factory(url)() as s:
            operations.submit(
                SqlIntakeUnitOfWork(s), RULES, {**DRAFT, "cosigners": ["张伟"]}, LI, directory=lambda users: []
            )
            assert list(s.scalars(select(Outbox))) and list(s.scalars(select(Notification)))
            s.rollback()
            assert list(s.scalars(select(Outbox))) == [] and list(s.scalars(select(Notification))) == []
    finally:
        dispose_all()


def decided(uow, decision, **params):
    proposal = operations.submit(uow, RULES, DRAFT, LI, directory=lambda users: [])
    operations.record_filing(
        uow,
        RULES,
        {"proposal_id": proposal["id"], "decision": decision, "decided_by": "committee.he", **params},
        None,
    )
    return proposal


def test_the_filing_notice_rides_on_proposal_filed_instead_of_a_message_of_its_own(uow):
    proposal = decided(uow, "filed")
    [filed] = uow.events("proposal.filed")
    assert notify_events(uow) == []
    [row] = [n for n in uow.rows.of(Notification) if "已立案" in n.text]
    [told] = filed["notices"]
    assert (told["kind"], told["event_id"], told["subject"]) == (
        "filing_decision",
        f"intake.notification:{row.id}",
        proposal["number"],
    )
    assert told["recipients"] == ["李明"] and "已立案" in told["text"]
    assert filed["members"] == [{"member": "李明", "role": "lead"}]


def test_a_proposal_not_filed_is_told_by_a_notify_event_of_its_own(uow):
    decided(uow, "not_filed", reason_code="personal_or_family")
    [event] = notify_events(uow)
    assert uow.events("proposal.filed") == []
    assert event["name"] == contracts.NOTIFY_PREFIX + "filing_decision" and event["notices"] == []


def test_reply_accepted_and_rating_opened_go_out_as_one_message(uow):
    proposal = decided(uow, "filed")
    progress.hear(
        uow,
        {
            "event_id": f"handling.rating_opened:{proposal['number']}:1",
            "name": "handling.rating_opened",
            "occurred_at": clock.now().isoformat(),
            "subject": proposal["number"],
            "payload": {"number": proposal["number"], "round": 1},
        },
    )
    [event] = notify_events(uow)
    assert event["name"] == contracts.NOTIFY_PREFIX + "reply_accepted"
    [rating] = event["notices"]
    assert rating["kind"] == "rating_opened" and rating["recipients"] == ["李明"] and "评价" in rating["text"]
    assert rating["event_id"] != event["event_id"]
    assert uow.proposals.by_number(proposal["number"]).status == "rating"
