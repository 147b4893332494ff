"""Dead letters with reasons.

RabbitMQ's own dead-lettering records where a message died, not why. We publish a copy to the
dead-letter exchange ourselves, with the reason in a header, and ack the original only after the
broker confirmed the copy: a message is never dropped without a trace.
"""
from __future__ import annotations

import logging
import threading

from nameko.extensions import SharedExtension

from shared import clock, contracts

from .topology import DEAD, connect

log = logging.getLogger(__name__)


def publish_dead_letter(producer, message, reason: str, source_queue: str) -> None:
    delivery = message.delivery_info or {}
    headers = dict(message.headers or {})
    headers.update({
        contracts.REASON_HEADER: reason[:2000],
        "x-ztc-original-exchange": delivery.get("exchange", ""),
        "x-ztc-original-routing-key": delivery.get("routing_key", ""),
        "x-ztc-original-queue": source_queue,
        "x-ztc-dead-at": clock.now().isoformat(),
    })
    producer.publish(message.body, exchange=DEAD, routing_key=delivery.get("routing_key") or "unknown",
                     headers=headers, content_type=message.content_type,
                     content_encoding=message.content_encoding, delivery_mode=2, retry=False)


class DeadLetters(SharedExtension):
    """Publishes dead letters for every consumer of a container, on a connection of its own."""

    def setup(self):
        self.amqp_uri = self.container.config["AMQP_URI"]
        self._lock = threading.Lock()
        self._connection = None
        self._producer = None

    def _get_producer(self):
        if self._producer is None:
            self._connection = connect(self.amqp_uri)
            self._producer = self._connection.Producer()
        return self._producer

    def _reset(self):
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # already gone
            pass
        self._connection = self._producer = None

    def stop(self):
        self._reset()

    kill = stop

    def dead_letter(self, message, reason: str, source_queue: str) -> bool:
        """Dead-letter ``message`` and ack it. False (message left unacked) if the copy failed."""
        with self._lock:
            try:
                publish_dead_letter(self._get_producer(), message, reason, source_queue)
            except Exception as exc:
                log.error("could not dead-letter a message from %s (%s): %s", source_queue, reason, exc)
                self._reset()
                return False
        log.warning("dead-lettered a message from %s: %s", source_queue, reason)
        try:
            message.ack()
        except Exception:  # the channel closed: the broker redelivers and we dead-letter again
            pass
        return True
