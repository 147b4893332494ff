"""What ``topology.declare`` (run by ``make run`` before any service starts) sets up: an event
published before its listener first consumes is kept in the listener's queue, not dropped."""

from __future__ import annotations

import pytest

from shared import contracts
from shared.messaging import topology
from tests.support import publish, ready_count

pytestmark = pytest.mark.integration


def test_events_published_before_any_listener_runs_wait_in_the_listeners_queues(settings):
    topology.declare(settings.amqp_uri)
    event = {
        "event_id": "e-1",
        "name": "notify.test",
        "occurred_at": "2027-01-04T09:00:00+08:00",
        "subject": "2027-0001",
        "payload": {"recipients": ["member.li"], "title": "t"},
    }
    publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, "notify.test", event)
    assert ready_count(settings.amqp_uri, contracts.events_queue("gateway")) == 1
    declared = {q.name for q in topology.listened_queues()}
    assert {contracts.events_queue(s) for s in ("gateway", "supervision", "evaluation")} <= declared


def test_without_listeners_only_the_fixed_queues_are_declared(settings):
    topology.declare(settings.amqp_uri, listeners=False)
    publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, "notify.test", {"x": 1})
    from kombu import Connection
    from amqp.exceptions import NotFound

    with Connection(settings.amqp_uri) as conn, pytest.raises(NotFound):
        conn.default_channel.queue_declare(queue=contracts.events_queue("gateway"), passive=True)
