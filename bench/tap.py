"""Count every message published on a vhost, by exchange and routing key, and say whose it is.

The tap turns on the broker's firehose for the vhost (the management API's ``tracing`` flag) and
binds one exclusive queue to ``amq.rabbitmq.trace`` with ``publish.#``: the broker copies there
every message published on the vhost, to any exchange, the default exchange included, with the
exchange and routing keys in its headers. So every message of the vhost's publish count is named;
nothing is left over as "not copied". The copies are counted when the load is over. The firehose
costs the broker a copy of each message: a run with the tap is not a throughput measurement.

Each message is counted by exchange and routing key. An RPC reply goes to a reply queue whose
name is random, so every routing key that is a uuid is counted as ``<reply queue>``; a key that
ends in a unit's queue id or a number is kept as it is. Each message is also given a **party**:

* ``people``: an RPC request the gateway makes while answering an HTTP call (the first entry of
  its ``nameko.call_id_stack`` is a gateway entrypoint that is not an event handler), and the reply
  to it (matched by ``correlation_id``) - what the simulated people's clicks and looks cost;
* ``system``: everything else - jobs, results, events, BPMN messages, the unit's queue, and the
  RPC calls services make to each other while handling a job or an event.
"""

from __future__ import annotations

import collections
import re
import uuid

import requests
from kombu import Connection, Exchange, Queue

from tests import support

UUID_KEY = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
TRACE = Exchange("amq.rabbitmq.trace", "topic", durable=True, internal=True, passive=True)
RPC_EXCHANGE = "nameko-rpc"
# Gateway entrypoints that are not an HTTP call (an event handler, a timer): their RPC calls are
# the system's.
GATEWAY_BUS_ENTRYPOINTS = ("gateway.deliver_notification.", "gateway.deliver_notifications.")


def set_tracing(vhost: str, on: bool) -> None:
    resp = requests.put(
        f"{support.RABBIT_API}/vhosts/{requests.utils.quote(vhost, safe='')}",
        json={"tracing": on},
        auth=support.RABBIT_AUTH,
        timeout=10,
    )
    resp.raise_for_status()


def party_of_request(headers: dict) -> str:
    stack = headers.get("nameko.call_id_stack") or []
    first = stack[0] if stack and isinstance(stack[0], str) else ""
    if first.startswith("gateway.") and not first.startswith(GATEWAY_BUS_ENTRYPOINTS):
        return "people"
    return "system"


class MessageTap:
    def __init__(self, vhost: str):
        self.vhost = vhost
        self.queue_name = f"bench.tap.{uuid.uuid4().hex[:8]}"
        self.connection = None
        self.callers: dict[str, str] = {}  # correlation_id of a request -> party

    def __enter__(self):
        set_tracing(self.vhost, True)
        self.connection = Connection(f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}", connect_timeout=5)
        self.queue = Queue(self.queue_name, TRACE, routing_key="publish.#", exclusive=True, auto_delete=True)
        self.queue(self.connection.default_channel).declare()
        return self

    def __exit__(self, *exc):
        try:
            set_tracing(self.vhost, False)
        finally:
            self.connection.release()

    def counts(self) -> collections.Counter:
        """Take every copy received so far; counts by ``(party, exchange, routing key)``."""
        counted = collections.Counter()
        queue = self.queue(self.connection.default_channel)
        replies = []
        while True:
            message = queue.get(no_ack=True)
            if message is None:
                break
            headers = message.headers or {}
            exchange = headers.get("exchange_name") or ""
            keys = headers.get("routing_keys") or [""]
            key = keys[0] if isinstance(keys[0], str) else keys[0].decode()
            properties = headers.get("properties") or {}
            shown = "<reply queue>" if UUID_KEY.match(key) else key
            if exchange == RPC_EXCHANGE and shown == "<reply queue>":
                replies.append((properties.get("correlation_id"), shown))
                continue
            party = "system"
            if exchange == RPC_EXCHANGE:
                party = party_of_request(properties.get("headers") or {})
                self.callers[properties.get("correlation_id")] = party
            counted[(party, exchange or "(default)", shown)] += 1
        for correlation_id, shown in replies:
            counted[(self.callers.get(correlation_id, "system"), RPC_EXCHANGE, shown)] += 1
        return counted
