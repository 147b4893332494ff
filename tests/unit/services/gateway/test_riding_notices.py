"""Notices that ride on an event of the same change (``contracts.NoticeSchema``): the gateway keeps
each as the ``notify.<kind>`` event it stands for, and refuses a message that brings none."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.gateway import notifications
from services.gateway.models import Base
from shared import clock
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import InvalidInput

LI = {"user": "member.li", "roles": ["member"], "unit": None}


@pytest.fixture
def session(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/gateway.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


def rider(kind, event_id, text="请查看。"):
    return {
        "event_id": event_id,
        "kind": kind,
        "subject": "2026-0001",
        "thread": "T-1",
        "recipients": ["member.li"],
        "title": "提案 2026-0001《关于公交候车亭的建议》",
        "text": text,
    }


def event(name, payload=None, notices=()):
    return {
        "event_id": f"{name}:2026-0001",
        "name": name,
        "occurred_at": clock.now().isoformat(),
        "subject": "2026-0001",
        "thread": "T-1",
        "members": [],
        "payload": payload or {},
        **({"notices": list(notices)} if notices else {}),
    }


def keep(session, body):
    for brought in notifications.unpack(body):
        notifications.store(session, brought)
    session.commit()


def inbox(session):
    return [(n["kind"], n["event_id"], n["subject"], n["thread"], n["text"]) for n in notifications.inbox(session, LI)]


def test_a_domain_event_with_a_notice_riding_on_it_fills_the_inbox_as_its_notify_event_would(session):
    keep(
        session,
        event("proposal.filed", {"number": "2026-0001"}, [rider("filing_decision", "intake.notification:7", "已立案")]),
    )
    assert inbox(session) == [("filing_decision", "intake.notification:7", "2026-0001", "T-1", "已立案")]


def test_a_notify_event_brings_itself_and_the_notices_riding_on_it_once_each(session):
    body = event(
        "notify.reply_accepted",
        {"recipients": ["member.li"], "title": "提案 2026-0001", "text": "答复已审核通过"},
        [rider("rating_opened", "intake.notification:9", "请评价")],
    )
    keep(session, body)
    keep(session, body)  # a redelivery adds nothing
    assert sorted(inbox(session)) == [
        ("rating_opened", "intake.notification:9", "2026-0001", "T-1", "请评价"),
        ("reply_accepted", "notify.reply_accepted:2026-0001", "2026-0001", "T-1", "答复已审核通过"),
    ]


def test_a_domain_event_that_brings_no_notice_is_refused(session):
    with pytest.raises(InvalidInput) as refused:
        notifications.unpack(event("proposal.filed", {"number": "2026-0001"}))
    assert set(refused.value.details) == {"name", "notices"}


def test_a_malformed_notice_refuses_the_whole_event_and_keeps_nothing(session):
    bad = {**rider("filing_decision", "intake.notification:7"), "recipients": []}
    with pytest.raises(InvalidInput):
        keep(session, event("proposal.filed", {}, [bad]))
    session.rollback()
    assert session.scalars(select(notifications.Notification)).all() == []
