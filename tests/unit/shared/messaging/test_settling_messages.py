"""A message whose connection died between the work and its ack: the broker has taken it back and
redelivers it, so the ack is given up quietly — the service must not die of it (it did: nameko
2.14 catches only amqp's ConnectionError, not the socket's ConnectionResetError)."""

from __future__ import annotations

import pytest
from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.message import Message

from shared.messaging.entrypoints import RobustQueueConsumer, ack, requeue


class DeadChannel:
    """A channel whose socket is gone, as after a broker restart."""

    no_ack_consumers = None
    connection = object()  # nameko checks this before it acks

    def __init__(self, error):
        self.error = error
        self.calls = []

    def basic_ack(self, *args, **kwargs):
        self.calls.append("ack")
        raise self.error

    def basic_reject(self, *args, **kwargs):
        self.calls.append("reject")
        raise self.error


@pytest.mark.parametrize(
    "error", [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe"), AmqpConnectionError("closed")]
)
def test_an_ack_or_requeue_on_a_dead_connection_is_given_up_not_raised(error):
    for settle, call in ((ack, "ack"), (requeue, "reject")):
        channel = DeadChannel(error)
        message = Message(body=b"{}", channel=channel, delivery_tag=1)
        assert settle(message) is False
        assert channel.calls == [call]


def test_the_queue_consumer_survives_it_too():
    consumer = RobustQueueConsumer.__new__(RobustQueueConsumer)  # no container needed to settle
    channel = DeadChannel(ConnectionResetError(104, "reset"))
    consumer.ack_message(Message(body=b"{}", channel=channel, delivery_tag=1))
    consumer.requeue_message(Message(body=b"{}", channel=channel, delivery_tag=2))
    assert channel.calls == ["ack", "reject"]


def test_other_failures_still_raise():
    channel = DeadChannel(ValueError("a bug, not a lost connection"))
    with pytest.raises(ValueError):
        ack(Message(body=b"{}", channel=channel, delivery_tag=1))


def test_an_rpc_reply_lost_to_a_broker_restart_does_not_kill_the_service(monkeypatch):
    from types import SimpleNamespace

    from kombu.exceptions import OperationalError
    from nameko import rpc as nameko_rpc

    from shared.messaging.entrypoints import RobustRpcConsumer

    def refused(self, result, exc_info):
        raise OperationalError("[Errno 111] ECONNREFUSED")

    monkeypatch.setattr(nameko_rpc.Responder, "send_response", refused)
    consumer = RobustRpcConsumer.__new__(RobustRpcConsumer)
    consumer.container = SimpleNamespace(config={"AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/"})
    acked = []
    consumer.queue_consumer = SimpleNamespace(ack_message=acked.append)
    message = Message(
        body=b"{}",
        channel=DeadChannel(ConnectionResetError()),
        delivery_tag=1,
        properties={"reply_to": "rpc.reply-x", "correlation_id": "c"},
    )
    assert consumer.handle_result(message, {"ok": 1}, None) == ({"ok": 1}, None)
    assert acked == [message]
