"""The outbox relay: publishes committed outbox rows, with confirms, then deletes them.

A crash between commit and publish loses nothing: the rows stay until a publish is confirmed. A
crash between publish and delete publishes a row twice; receivers are idempotent (the workers'
inbox, the engine's check that a task still waits for its job).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared import clock
from shared.db import transaction

from . import identity
from .topology import connect

if TYPE_CHECKING:
    from kombu.connection import Connection
    from kombu.messaging import Producer

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self, sessions: sessionmaker[Session], outbox_model: type[Any], amqp_uri: str, batch: int = 200
    ) -> None:
        self.sessions = sessions
        self.Outbox = outbox_model
        self.amqp_uri = amqp_uri
        self.user = identity.user_of(amqp_uri)  # every message names its sender (identity.py)
        self.batch = batch
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self.published = 0

    def _get_producer(self) -> Producer:
        if self._producer is None:
            self._connection = connect(self.amqp_uri)
            self._connection.ensure_connection(max_retries=1)
            self._producer = self._connection.Producer(serializer="json")
        return self._producer

    def reset(self) -> None:
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # the connection is already gone; nothing to release
            pass
        self._connection = self._producer = None

    def pending(self) -> int:
        from sqlalchemy import func

        with transaction(self.sessions) as s:
            return s.scalar(select(func.count()).select_from(self.Outbox)) or 0

    def flush(self) -> int:
        """Publish what is due; returns how many rows were published. Raises on broker errors."""
        total = 0
        with self._lock:
            while True:
                n = self._flush_batch()
                total += n
                if n < self.batch:
                    return total

    def _flush_batch(self) -> int:
        with transaction(self.sessions) as s:
            query = (
                select(self.Outbox)
                .where(self.Outbox.available_at <= clock.now())
                .order_by(self.Outbox.id)
                .limit(self.batch)
            )
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = s.scalars(query).all()
            if not rows:
                return 0
            try:
                producer = self._get_producer()
                for row in rows:
                    producer.publish(
                        row.payload,
                        exchange=row.exchange,
                        routing_key=row.routing_key,
                        headers=row.headers or {},
                        delivery_mode=2,
                        retry=False,
                        user_id=self.user,
                        timestamp=int(time.time()),
                    )  # wall time: operators see a message's age
            except Exception:
                self.reset()
                raise
            for row in rows:
                s.delete(row)
            self.published += len(rows)
            return len(rows)
