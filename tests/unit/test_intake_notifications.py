"""Intake's notifications are kept as rows and, in the same transaction, published as
``notify.<kind>`` events for the gateway's inbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake.rules import RulebookRules
from services.intake.sql import SqlIntakeUnitOfWork
from services.intake import operations
from services.intake.models import Base, Notification, Outbox
from shared import clock, contracts
from shared.db import dispose_all, get_engine, session_factory

LI = {"user": "李明", "roles": ["member"]}
DRAFT = {
    "kind": "between_sessions",
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "候车亭遮雨面积小。",
    "analysis": "缺少统一规划。",
    "suggestions": "制定改造计划。",
}


@pytest.fixture
def sessions(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/intake.db"
    Base.metadata.create_all(get_engine(url))
    yield session_factory(url)
    dispose_all()


def notify_events(session):
    return [
        row.payload
        for row in session.scalars(select(Outbox).order_by(Outbox.id))
        if row.routing_key.startswith(contracts.NOTIFY_PREFIX)
    ]


def test_inviting_cosigners_keeps_their_rows_and_publishes_one_notification_for_them(sessions):
    with sessions() as s:
        proposal = operations.submit(
            SqlIntakeUnitOfWork(s),
            RulebookRules(),
            {**DRAFT, "cosigners": ["张伟", "王芳"]},
            LI,
            directory=lambda users: [],
        )
        s.commit()
        rows = list(s.scalars(select(Notification.recipient).order_by(Notification.id)))
        events = notify_events(s)
    assert rows == ["张伟", "王芳"]
    assert len(events) == 1
    event = contracts.EventSchema().load(events[0])
    assert event["name"] == contracts.NOTIFY_PREFIX + "cosign_invited"
    assert event["subject"] == proposal["number"]
    assert event["payload"]["recipients"] == ["张伟", "王芳"]
    assert proposal["number"] in event["payload"]["title"]


def test_a_rolled_back_submission_publishes_nothing(sessions):
    with sessions() as s:
        operations.submit(
            SqlIntakeUnitOfWork(s), RulebookRules(), {**DRAFT, "cosigners": ["张伟"]}, LI, directory=lambda users: []
        )
        s.rollback()
        assert notify_events(s) == [] and list(s.scalars(select(Notification))) == []


def events(session, name):
    return [
        contracts.EventSchema().load(row.payload)
        for row in session.scalars(select(Outbox).order_by(Outbox.id))
        if row.routing_key == name
    ]


def decided(session, decision, **params):
    proposal = operations.submit(SqlIntakeUnitOfWork(session), RulebookRules(), DRAFT, LI, directory=lambda users: [])
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": proposal["id"], "decision": decision, "decided_by": "committee.he", **params},
        None,
    )
    session.commit()
    return proposal


def test_the_filing_notice_rides_on_proposal_filed_instead_of_a_message_of_its_own(sessions):
    with sessions() as s:
        proposal = decided(s, "filed")
        [filed] = events(s, "proposal.filed")
        assert notify_events(s) == []
        [row] = s.scalars(select(Notification).where(Notification.text.contains("已立案")))
    [told] = filed["notices"]
    assert (told["kind"], told["event_id"], told["subject"]) == (
        "filing_decision",
        f"intake.notification:{row.id}",
        proposal["number"],
    )
    assert told["recipients"] == ["李明"] and "已立案" in told["text"]


def test_a_proposal_not_filed_is_told_by_a_notify_event_of_its_own(sessions):
    with sessions() as s:
        decided(s, "not_filed", reason_code="personal_or_family")
        [event] = [contracts.EventSchema().load(e) for e in notify_events(s)]
        assert events(s, "proposal.filed") == []
    assert event["name"] == contracts.NOTIFY_PREFIX + "filing_decision" and event["notices"] == []


def test_reply_accepted_and_rating_opened_go_out_as_one_message(sessions):
    from services.intake import progress

    with sessions() as s:
        proposal = decided(s, "filed")
        progress.hear(
            SqlIntakeUnitOfWork(s),
            {
                "event_id": f"handling.rating_opened:{proposal['number']}:1",
                "name": "handling.rating_opened",
                "occurred_at": clock.now().isoformat(),
                "subject": proposal["number"],
                "payload": {"number": proposal["number"], "round": 1},
            },
        )
        s.commit()
        [event] = [contracts.EventSchema().load(e) for e in notify_events(s)]
    assert event["name"] == contracts.NOTIFY_PREFIX + "reply_accepted"
    [rating] = event["notices"]
    assert rating["kind"] == "rating_opened" and rating["recipients"] == ["李明"] and "评价" in rating["text"]
    assert rating["event_id"] != event["event_id"]
