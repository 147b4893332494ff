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


class _Refusing(_Producer):
    """A broker that refuses the user one routing key (a topic permission it lacks)."""

    refuses = True

    def allowing(self):
        self.refuses = False
        return self

    def publish(self, payload, **options):
        from amqp.exceptions import AccessRefused

        if self.refuses and options["routing_key"] == "notify.new_kind":
            raise AccessRefused("ACCESS_REFUSED - access to topic 'notify.new_kind' refused")
        super().publish(payload, **options)


def test_a_key_the_broker_refuses_is_named_with_what_to_do_and_the_rows_stay_in_order(relay):
    """A permission missing from the broker (a new event, definitions not applied): the relay says
    which exchange and key, and that the users and permissions must be applied; the refused row and
    those after it stay in the outbox, and go out in order once the broker takes them."""
    from shared.messaging.relay import PublishRefused

    refusing = _Refusing()
    relay._get_producer = lambda: refusing
    now = clock.now()
    for key in ("first", "notify.new_kind", "third"):
        _add(relay, key, now)
    with pytest.raises(PublishRefused) as refused:
        relay.flush()
    message = str(refused.value)
    assert "'ztc.events'" in message and "'notify.new_kind'" in message and "migrate step" in message
    # the refused row and the one after it are kept; the one the broker took is not sent again
    assert _left(relay) == ["notify.new_kind", "third"]
    with pytest.raises(PublishRefused):  # a retry while the permission is still missing
        relay.flush()
    assert [key for key, _ in refusing.sent] == ["first"]

    relay._get_producer = lambda: refusing.allowing()  # the permission applied
    relay.flush()
    assert [key for key, _ in refusing.sent] == ["first", "notify.new_kind", "third"]  # each once, in order
    assert _left(relay) == []


def test_a_connection_the_broker_refuses_keeps_every_row_and_says_so(relay):
    from amqp.exceptions import AccessRefused

    from shared.messaging.relay import PublishRefused

    def refused():
        raise AccessRefused("ACCESS_REFUSED - Login was refused")

    relay._get_producer = refused
    _add(relay, "k", clock.now())
    with pytest.raises(PublishRefused, match="refused user .* a connection"):
        relay.flush()
    assert _left(relay) == ["k"]
