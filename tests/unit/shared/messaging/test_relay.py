"""The outbox relay's sweep: the interval's look publishes what is due, and only that, as a
flush woken by a commit does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import DeclarativeBase

from shared import clock
from shared.db import get_engine, session_factory, transaction
from shared.messaging.models import messaging_models
from shared.messaging.relay import OutboxRelay


class _Base(DeclarativeBase):
    pass


Outbox, _Inbox = messaging_models(_Base)


class _Producer:
    def __init__(self):
        self.sent = []

    def publish(self, payload, **options):
        self.sent.append((options["routing_key"], payload))


@pytest.fixture
def relay(tmp_path):
    url = f"sqlite:///{tmp_path}/relay.db"
    _Base.metadata.create_all(get_engine(url))
    relay = OutboxRelay(session_factory(url), Outbox, "amqp://guest:guest@127.0.0.1:5672/relay")
    producer = _Producer()
    relay._get_producer = lambda: producer
    relay.producer = producer
    return relay


def _add(relay, key, available_at):
    with transaction(relay.sessions) as s:
        s.add(
            Outbox(
                exchange="ztc.events",
                routing_key=key,
                payload={"key": key},
                headers={},
                available_at=available_at,
                created_at=clock.now(),
            )
        )


def _left(relay):
    with transaction(relay.sessions) as s:
        return sorted(row.routing_key for row in s.query(Outbox))


def test_a_sweep_of_an_empty_outbox_publishes_nothing(relay):
    assert relay.flush(sweep=True) == 0
    assert relay.producer.sent == []


def test_a_sweep_publishes_what_is_due_and_leaves_what_is_not(relay):
    now = clock.now()
    _add(relay, "due", now - timedelta(seconds=1))
    _add(relay, "later", now + timedelta(hours=1))
    assert relay.flush(sweep=True) == 1
    assert relay.producer.sent == [("due", {"key": "due"})]
    assert _left(relay) == ["later"]
    assert relay.flush(sweep=True) == 0  # still not due
    assert _left(relay) == ["later"]


def test_a_sweep_publishes_a_whole_backlog_as_a_woken_flush_does(relay):
    now = clock.now() - timedelta(seconds=1)
    for n in range(5):
        _add(relay, f"k{n}", now)
    relay.batch = 2
    assert relay.flush(sweep=True) == 5
    assert [key for key, _ in relay.producer.sent] == [f"k{n}" for n in range(5)]
    assert _left(relay) == []
