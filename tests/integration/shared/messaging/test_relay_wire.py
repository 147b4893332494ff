"""What the outbox relay puts on the wire, on both databases and the real broker: each row, in its
own transaction on a connection of the engine, decodes at a consumer to the message that was
written (text in any script, nested values, a datetime as its str), with its headers, its sender
and in order, and a published row is deleted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
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
