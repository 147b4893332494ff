"""Count the messages published on a vhost by kind: exchange and routing key.

A counting consumer: one exclusive queue bound with ``#`` to every topic exchange of the vhost (and
with no key to every fanout exchange) receives a copy of each message published to them; the
other queues get theirs as before. The copies are counted by exchange and routing key when the
load is over. RPC replies go to a reply queue whose name is random, so every routing key that is
a uuid is counted as ``<reply queue>``; a key that ends in a unit's queue id or a number is kept
as it is. What is published to the default exchange or a direct exchange is not copied: the
difference between the vhost's publish count (management API) and the copies counted says how
much that was.

Binding a queue changes one thing for publishers: a message published with ``mandatory`` that no
other queue would take is now taken (by the tap) instead of being returned. A proposal lifecycle
publishes none such; do not use the tap to measure a run that relies on returns.
"""

from __future__ import annotations

import collections
import re
import uuid

import requests
from kombu import Connection, Exchange, Queue, binding

from tests import support

UUID_KEY = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)


def exchanges(vhost: str) -> list[dict]:
    resp = requests.get(
        f"{support.RABBIT_API}/exchanges/{requests.utils.quote(vhost, safe='')}", auth=support.RABBIT_AUTH, timeout=10
    )
    resp.raise_for_status()
    return [x for x in resp.json() if x["name"] and not x["name"].startswith("amq.")]


class MessageTap:
    def __init__(self, vhost: str):
        self.vhost = vhost
        self.queue_name = f"bench.tap.{uuid.uuid4().hex[:8]}"
        self.connection = None
        self.tapped: list[str] = []

    def __enter__(self):
        bindings = []
        for x in exchanges(self.vhost):
            if x["type"] in ("topic", "fanout"):
                exchange = Exchange(x["name"], x["type"], durable=x["durable"], passive=True)
                bindings.append(binding(exchange, routing_key="#" if x["type"] == "topic" else ""))
                self.tapped.append(x["name"])
        self.connection = Connection(f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}", connect_timeout=5)
        self.queue = Queue(self.queue_name, bindings=bindings, exclusive=True, auto_delete=True)
        self.queue(self.connection.default_channel).declare()
        return self

    def __exit__(self, *exc):
        self.connection.release()

    def counts(self) -> collections.Counter:
        """Take every copy received so far; counts by ``(exchange, routing key)``."""
        counted = collections.Counter()
        queue = self.queue(self.connection.default_channel)
        while True:
            message = queue.get(no_ack=True)
            if message is None:
                return counted
            info = message.delivery_info
            key = info.get("routing_key") or ""
            counted[(info.get("exchange") or "", "<reply queue>" if UUID_KEY.match(key) else key)] += 1
