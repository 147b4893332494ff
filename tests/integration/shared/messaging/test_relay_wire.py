"""What the outbox relay puts on the wire, on both databases and the real broker: each row, in its
own transaction on a connection of the engine, decodes at a consumer to the message that was
written (text in any script, nested values, a datetime as its str), with its headers, its sender
and in order, and a published row is deleted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import eventlet
from kombu import Connection, Queue
from sqlalchemy.orm import DeclarativeBase

from shared.db import dispose_all, ensure_postgres_database, get_engine, session_factory, transaction
from shared.messaging import outbox
from shared.messaging.models import messaging_models
from shared.messaging.relay import OutboxRelay

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]


class _Base(DeclarativeBase):
    pass


Outbox, _Inbox = messaging_models(_Base)

PAYLOADS = [
    {
        "name": "proposal.filed",
        "subject": "2027-0001",
        "payload": {"title": "关于加强老旧小区加装电梯的建议", "units": ["交通局", "住建局"], "score": 92.5},
    },
    {"nested": {"deep": [[1, 2], {"k": None}], "flag": True, "zero": 0, "big": 2**62}, "empty": {}, "list": []},
    {"at": datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc), "quote": 'a "quoted" \\ back\nslash', "emoji": "✓"},
]


@pytest.fixture
def relay(settings, database_url_template):
    url = database_url_template.format(service="relaywire")
    if url.startswith("postgresql"):
        ensure_postgres_database(url)  # dropped with the others after the test
    _Base.metadata.create_all(get_engine(url))
    relay = OutboxRelay(session_factory(url), Outbox, settings.amqp_uri)
    yield relay
    relay.reset()
    dispose_all()


def test_a_relayed_message_decodes_to_what_the_outbox_was_given(relay, settings):
    queue = Queue("relay-wire", durable=False, auto_delete=False)
    with Connection(settings.amqp_uri) as conn:
        queue(conn.default_channel).declare()
        with transaction(relay.sessions) as s:
            for n, payload in enumerate(PAYLOADS):
                outbox.add(s, Outbox, "", queue.name, payload, headers={"ztc-n": n})
        assert relay.flush() == len(PAYLOADS)
        got = []
        bound = queue(conn.default_channel)
        for _ in PAYLOADS:
            message = bound.get(no_ack=True)
            assert message is not None, "a relayed message did not arrive"
            got.append(message)
        assert bound.get(no_ack=True) is None
        bound.delete()
    for n, (message, payload) in enumerate(zip(got, PAYLOADS, strict=True)):
        assert message.content_type == "application/json"
        assert message.headers["ztc-n"] == n  # in the order written, headers kept
        assert message.properties["user_id"] == "guest"  # the sender, as before
        decoded = message.decode()
        # what a consumer decoded before: the column's value read back (datetimes as their str)
        expected = dict(payload)
        if "at" in expected:
            expected["at"] = str(payload["at"])
        assert decoded == expected
    with transaction(relay.sessions) as s:
        assert s.query(Outbox).count() == 0  # published rows are deleted


@pytest.mark.postgresql_only
def test_two_relays_on_one_outbox_publish_every_row_once(relay, settings):
    """Replicas of a service share its outbox on PostgreSQL (on SQLite, one process per service
    holds it): two relays flushing at once, in small batches so that they take turns many times,
    publish each row exactly once."""
    other = OutboxRelay(relay.sessions, Outbox, settings.amqp_uri, batch=3)
    relay.batch = 3
    rows = 60
    queue = Queue("relay-twice", durable=False, auto_delete=False)
    with Connection(settings.amqp_uri) as conn:
        queue(conn.default_channel).declare()
        with transaction(relay.sessions) as s:
            for n in range(rows):
                outbox.add(s, Outbox, "", queue.name, {"n": n})
        flushes = [eventlet.spawn(r.flush) for r in (relay, other)]
        published = [f.wait() for f in flushes]
        other.reset()
        bound = queue(conn.default_channel)
        got = []
        while (message := bound.get(no_ack=True)) is not None:
            got.append(message.decode()["n"])
        bound.delete()
    assert sum(published) == rows
    assert sorted(got) == list(range(rows))  # each row once: none lost, none twice
    with transaction(relay.sessions) as s:
        assert s.query(Outbox).count() == 0
