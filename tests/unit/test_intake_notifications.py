"""Intake's notifications are kept as rows and, in the same transaction, published as
``notify.<kind>`` events for the gateway's inbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake import operations
from services.intake.models import Base, Notification, Outbox
from shared import contracts
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
        proposal = operations.submit(s, {**DRAFT, "cosigners": ["张伟", "王芳"]}, LI, directory=lambda users: [])
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
        operations.submit(s, {**DRAFT, "cosigners": ["张伟"]}, LI, directory=lambda users: [])
        s.rollback()
        assert notify_events(s) == [] and list(s.scalars(select(Notification))) == []
