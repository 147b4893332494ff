"""The gateway's RPC calls wait for a reply at most ZTC_RPC_TIMEOUT_SECONDS: nameko 2.14 waits for
ever, and a reply lost with a connection the broker closed never comes (each such call held one
of the gateway's HTTP workers for good). nameko's own RpcReply and reply events, no broker."""

from __future__ import annotations

import eventlet
import pytest
from eventlet.event import Event
from nameko.exceptions import RpcTimeout
from nameko.rpc import RpcReply

from shared import config
from shared.messaging.entrypoints import ServiceRpc, _SigningMethod


class Listener:
    """What nameko's ReplyListener keeps: an event per correlation id, popped by the reply."""

    def __init__(self):
        self._reply_events = {}

    def reply(self, correlation_id, body):
        event = self._reply_events.pop(correlation_id, None)
        if event is not None:
            event.send(body)
        return event is not None


class Method:
    """A nameko MethodProxy whose request went out; ``answer`` says if and when a reply comes."""

    def __init__(self, listener, answer_after=None):
        self.reply_listener, self.answer_after, self.calls = listener, answer_after, []

    def call_async(self, *args, **kwargs):
        correlation_id = f"c{len(self.calls)}"
        self.calls.append((args, kwargs))
        event = self.reply_listener._reply_events[correlation_id] = Event()
        if self.answer_after is not None:
            eventlet.spawn_after(
                self.answer_after, self.reply_listener.reply, correlation_id, {"result": {"ok": 1}, "error": None}
            )
        return RpcReply(event)

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()


def test_a_reply_that_does_not_come_raises_rpc_timeout_and_is_forgotten():
    listener = Listener()
    method = _SigningMethod(Method(listener), b"k" * 32, 300.0, timeout=0.05)
    with pytest.raises(RpcTimeout, match="no reply within 0.05s"):
        method("2027-0001")
    assert listener._reply_events == {}  # a reply that comes later is dropped, not kept for ever
    assert listener.reply("c0", {"result": None, "error": None}) is False


def test_a_reply_within_the_timeout_is_the_result_and_an_untimed_call_waits():
    listener = Listener()
    assert _SigningMethod(Method(listener, answer_after=0.01), b"k" * 32, 300.0, timeout=5)("x") == {"ok": 1}
    assert _SigningMethod(Method(listener, answer_after=0.2), b"k" * 32, 300.0, timeout=None)("x") == {"ok": 1}
    assert listener._reply_events == {}


def test_an_outer_timeout_is_not_taken_for_the_replys():
    listener = Listener()
    method = _SigningMethod(Method(listener), b"k" * 32, 300.0, timeout=5)
    with pytest.raises(eventlet.Timeout), eventlet.Timeout(0.05):
        method("x")


def test_only_a_timed_proxy_waits_at_most_the_setting():
    assert config.load({}).rpc_timeout_seconds == 60
    assert config.load({"ZTC_RPC_TIMEOUT_SECONDS": "2.5"}).rpc_timeout_seconds == 2.5
    assert ServiceRpc("intake", timed=True).timed and not ServiceRpc("intake").timed
