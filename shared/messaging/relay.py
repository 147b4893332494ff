"""The outbox relay: publishes committed outbox rows, with confirms, then deletes them.

A crash between commit and publish loses nothing: the rows stay until a publish is confirmed. A
crash between publish and delete publishes a row twice; receivers are idempotent (the workers'
inbox, the engine's check that a task still waits for its job).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from amqp.exceptions import AccessRefused
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from shared import clock
from shared.db import transaction
from shared.direct import Direct

from . import identity
from .topology import connect

if TYPE_CHECKING:
    from kombu.connection import Connection as AmqpConnection
    from sqlalchemy.engine import Connection
    from kombu.messaging import Producer

log = logging.getLogger(__name__)


class PublishRefused(Exception):
    """The broker refused this process's user a row's exchange or routing key (403 ACCESS_REFUSED):
    a permission missing from the broker's users, not a broker that is away. The relay keeps the row
    and every later one, and says which key and what to do."""

    def __init__(self, user: str | None, row: Any, exc: BaseException, sent: list[int] | None = None) -> None:
        who = f"user {user or '(the connection user)'}"
        apply = (
            "Apply the broker's users and permissions of this version (the deployment's migrate "
            "step, or deploy/rabbitmq/definitions.json)"
        )
        if row is None:  # refused at connecting: the user, its password or its vhost access
            text = f"the broker refused {who} a connection to publish the outbox. {apply}; the outbox keeps its rows"
        else:
            text = (
                f"the broker refused {who} publishing to exchange {row.exchange!r}, routing key "
                f"{row.routing_key!r}: its permissions lack it. {apply}; the outbox keeps this row and "
                "the rows after it until then"
            )
        super().__init__(f"{text} ({exc})")
        # the rows of the batch the broker took before it refused one: not to be published again
        self.sent = list(sent or [])


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
        self._connection: AmqpConnection | None = None
        self._producer: Producer | None = None
        self.published = 0
        # A sweep's look: one indexed read on a pooled connection, without the session, the row
        # lock and the commit of a batch. Most sweeps find nothing (every commit of this process
        # wakes the relay itself); a sweep through the batch's query cost an idle service process
        # 1.1-1.3 CPU ms, this look 0.5-0.7.
        table = self.Outbox.__table__
        is_due = table.c.available_at <= bindparam("now")
        self._due = select(table.c.id).where(is_due).limit(1)
        columns = (table.c.id, table.c.exchange, table.c.routing_key, table.c.payload, table.c.headers)
        # SQLite: the due rows are read, published, then deleted and committed at once. Its write
        # lock is the whole database's, and a writer waiting for it blocks its whole process (the
        # driver's busy wait is not cooperative): it must not be held while the broker confirms.
        self._batch = select(*columns).where(is_due).order_by(table.c.id).limit(batch)
        # PostgreSQL: the batch is taken in one statement, the due rows deleted and returned in the
        # relay's transaction, which commits only after the broker confirmed every one of them (a
        # failed publish rolls the delete back; a crash before the commit leaves the rows to be
        # published again). Replicas of one service share its outbox: each takes rows no other
        # holds (SKIP LOCKED), and the other writers of the outbox only insert. One statement
        # instead of a read and a delete: one round trip less, each a wait and a wake-up.
        due = select(table.c.id).where(is_due).order_by(table.c.id).limit(batch)
        self._take = (
            delete(table)
            .where(table.c.id.in_(due.with_for_update(skip_locked=True).scalar_subquery()))
            .returning(*columns)
        )
        # Run on the driver's cursor (shared/direct.py): a relayed message is most often one row,
        # and SQLAlchemy's execution costs more than these statements. SQLite's delete: one
        # statement per row (executemany), not an IN with a list the driver cannot take as is.
        self._batch_direct = Direct(self._batch)
        self._take_direct = Direct(self._take)
        self._delete_direct = Direct(delete(table).where(table.c.id == bindparam("deleted_id")))

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

    def flush(self, sweep: bool = False) -> int:
        """Publish what is due; returns how many rows were published. Raises on broker errors.
        ``sweep``: no commit of this process asked for it (the interval's look for rows another
        process left or that have become due), so it first only looks whether anything is due."""
        total = 0
        with self._lock:
            if sweep and not self._anything_due():
                return 0
            while True:
                n = self._flush_batch()
                total += n
                if n < self.batch:
                    return total

    def _anything_due(self) -> bool:
        bind = self.sessions.kw.get("bind")
        if bind is None:  # not bound to one engine: let the batch's own query say
            return True
        with bind.connect() as conn:
            return conn.execute(self._due, {"now": clock.now()}).first() is not None

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A connection in a transaction of its own, committed at the end of the block."""
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            with bind.begin() as conn:
                yield conn
        else:  # not bound to one engine: the session's connection, in the session's transaction
            with self.sessions.begin() as session:
                yield session.connection()

    def _flush_batch(self) -> int:
        try:
            return self._flush_rows()
        except PublishRefused as refused:
            if refused.sent:
                # Not sent again on every retry while the permission is missing (a duplicate each time).
                with self._begin() as s:
                    self._delete_direct.execute(s, [{"deleted_id": row_id} for row_id in refused.sent])
                self.published += len(refused.sent)
            raise

    def _flush_rows(self) -> int:
        # Core statements built once, on a connection of the engine in a transaction of its own,
        # not in an ORM session: a batch is most often one row, and the session's set-up,
        # execution path and commit cost more than its statements.
        with self._begin() as s:
            taken = s.dialect.name == "postgresql"
            found = (self._take_direct if taken else self._batch_direct).rows(s, {"now": clock.now()})
            rows = sorted(found, key=lambda row: row.id)  # RETURNING keeps no order: as they were written
            if not rows:
                return 0
            row = None
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
            except AccessRefused as exc:
                self.reset()
                # the transaction rolls back: the rows stay in the outbox, and nothing after this one
                # goes out until the permission is there (their order is kept); the rows before it
                # went out, and are deleted once the rollback is done (_flush_batch)
                sent = [r.id for r in rows[: rows.index(row)]] if row is not None else []
                raise PublishRefused(self.user, row, exc, sent) from exc
            except Exception:
                self.reset()
                raise  # the transaction rolls back: the rows stay in the outbox
            if not taken:
                self._delete_direct.execute(s, [{"deleted_id": row.id} for row in rows])
            self.published += len(rows)
            return len(rows)
