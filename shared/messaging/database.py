"""The ``Database`` dependency: a unit of work per worker, and the outbox relay of the service.

A service declares ``db = Database("intake", Outbox, Inbox)``. Within a worker ``self.db.session`` is one
session for the whole worker; ``self.db.commit()`` commits it and, if it wrote an outbox row, wakes
the relay, which publishes the rows just committed (and, every ``relay_interval_seconds``, any
left behind).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider

from shared import clock, contracts
from shared.db import read_pooled, session_factory

if TYPE_CHECKING:
    from nameko.containers import WorkerContext
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session, sessionmaker

from . import outbox
from .relay import OutboxRelay, PublishRefused

log = logging.getLogger(__name__)


def cancelled_key(instance_id: str) -> str:
    """The inbox key that says this service heard ``instance_id``'s cancellation (64 characters at
    most, as a job id: an instance id longer than 54 is kept by its hash)."""
    key = f"cancelled:{instance_id}"
    return key if len(key) <= 64 else "cancelled:" + hashlib.sha256(instance_id.encode()).hexdigest()[:54]


class WorkerSession:
    """A worker's database session, opened when first asked for and committed by the entrypoint
    (with the inbox row and the result); the commit wakes the outbox relay. What a service's domain
    code works through is the unit of work over this session (``shared.unit_of_work``)."""

    def __init__(
        self, sessions: sessionmaker[Session], relay_wakeup: Callable[[], None], inbox: type[Any] | None = None
    ) -> None:
        self._sessions = sessions
        self._wakeup = relay_wakeup
        self._inbox = inbox
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    def reading(self) -> AbstractContextManager[Connection]:
        """A pooled connection of its own for one read statement that needs nothing of this unit
        of work's transaction (the gateway's token check on every request). No session is made for
        it, so a worker that reads nothing else from its database ends with no session to roll
        back; on PostgreSQL the statement is its own transaction (``shared.db.read_pooled``)."""
        return read_pooled(self._sessions)

    def note_cancelled(self, body: Any) -> None:
        """If ``body`` is the engine's ``process.cancelled``, remember the instance in this
        transaction (an inbox row keyed ``cancelled:<instance id>``): a job for that instance that
        reaches this service later (sent before the cancellation, still queued) is then answered
        without running, so it cannot make a record after the records were closed
        (``entrypoints.JobEntrypoint``). Anything else, or a service without an inbox: nothing."""
        if self._inbox is None or not isinstance(body, dict) or body.get("name") != contracts.PROCESS_CANCELLED:
            return
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return  # the service's own handler refuses the malformed event
        instance_id = payload.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id or len(instance_id) > 100:
            return  # the service's own handler refuses the malformed event
        key = cancelled_key(instance_id)
        if self.session.get(self._inbox, key) is None:
            self.session.add(
                self._inbox(
                    job_id=key,
                    operation=contracts.PROCESS_CANCELLED,
                    status="cancelled",
                    result={"event_id": body.get("event_id"), "by": payload.get("by")},
                    processed_at=clock.now(),
                )
            )

    def commit(self) -> None:
        """Commit the worker's transaction; wake the relay if it wrote an outbox row (the
        ``outbox.WRITTEN`` mark): a commit that sends nothing does not make the relay look."""
        if self._session is None:
            return
        wrote = self._session.info.pop(outbox.WRITTEN, False)
        self._session.commit()
        if wrote:
            self._wakeup()

    def rollback(self) -> None:
        if self._session is not None:
            self._session.info.pop(outbox.WRITTEN, None)
            self._session.rollback()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class Database(DependencyProvider):  # type: ignore[misc]  # nameko ships no types
    def __init__(self, service: str, outbox_model: type[Any], inbox_model: type[Any] | None = None) -> None:
        self.service = service
        self.Outbox = outbox_model
        self.Inbox = inbox_model
        self.sessions: Any = None  # a sessionmaker once set up
        self.relay: Any = None  # an OutboxRelay once set up
        self._wake: Any = None
        self._running = False
        self._thread = None

    def setup(self) -> None:
        settings = self.container.config["ZTC_SETTINGS"]
        self.settings = settings
        self.sessions = session_factory(settings.database_url(self.service))
        self.relay = OutboxRelay(self.sessions, self.Outbox, settings.amqp_uri)
        self._wake = Event()

    def start(self) -> None:
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._relay_loop)

    def stop(self) -> None:
        self._running = False
        self.wake()
        if self._thread is not None:
            self._thread.wait()
        self.relay.reset()

    def kill(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.kill()
        self.relay.reset()

    def wake(self) -> None:
        if self._wake is not None and not self._wake.ready():
            self._wake.send(True)

    def _relay_loop(self) -> None:
        backoff = self.settings.relay_interval_seconds
        sweep = False  # the first flush publishes whatever a stopped process left
        while self._running:
            try:
                self.relay.flush(sweep=sweep)
                backoff = self.settings.relay_interval_seconds
            except PublishRefused as exc:  # a permission missing: an operator must act
                log.error("outbox relay of %s: %s; retrying in %.1fs", self.service, exc, backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay of %s: %s; retrying in %.1fs", self.service, exc, backoff)
                backoff = min(backoff * 2, 5.0)
            with eventlet.Timeout(backoff, False):
                self._wake.wait()
            sweep = not self._wake.ready()  # the interval passed with no commit waking the relay
            self._wake = Event()

    def get_dependency(self, worker_ctx: WorkerContext) -> WorkerSession:
        uow = WorkerSession(self.sessions, self.wake, self.Inbox)
        worker_ctx.ztc_uow = uow
        return uow

    def worker_teardown(self, worker_ctx: WorkerContext) -> None:
        uow = getattr(worker_ctx, "ztc_uow", None)
        if uow is not None:
            uow.rollback()
            uow.close()
