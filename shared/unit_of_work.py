"""The ports a service's domain code works through: a unit of work and the rules.

A domain function is ``f(uow, rules, params, principal)``. It reads and writes the service's records
through ``uow``'s repository and says what should leave the service (events, notifications, BPMN
messages, process starts) through ``uow``; both are kept in one transaction, which the entrypoint that opened the unit
of work commits together with its inbox row and the job's result (publish after commit: the outbox
rows leave only if that commit happens). ``rules`` is the rulebook and the working-day calendar, read
for each worker (``shared.rules``).

``SqlUnitOfWork`` is the adapter over a SQLAlchemy session and the service's outbox table. Each service
subclasses ``UnitOfWork`` with the repositories it has; the unit tier's fakes subclass the same ports
and keep rows and messages in lists (``tests/unit/shared/fakes.py``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from shared.db import lock_subject, read_snapshot
from shared.messaging import outbox


class UnitOfWork(abc.ABC):
    """One business transaction: its reads, its writes and the messages it sends."""

    @abc.abstractmethod
    def lock(self, subject: str) -> None:
        """Serialise this unit of work with every other that locks ``subject`` until it ends."""

    @abc.abstractmethod
    def read_snapshot(self) -> None:
        """Let every read of this unit of work see the database as it was at its first read, and (on
        PostgreSQL) allow no writes: a query's answer read in several statements is then consistent,
        another transaction's commit wholly in it or wholly not. Asked before the first read."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Make what was added so far visible to this unit of work's own queries (ids assigned)."""

    @abc.abstractmethod
    def publish_event(
        self,
        name: str,
        event_id: str,
        subject: str,
        *,
        thread: str | None = None,
        members: list[dict[str, object]] | None = None,
        payload: Mapping[str, object] | None = None,
        notices: Sequence[Mapping[str, object]] = (),
    ) -> None:
        """A domain event, sent if the unit of work commits (``outbox.publish_event``)."""

    @abc.abstractmethod
    def notify(
        self,
        kind: str,
        event_id: str,
        subject: str,
        recipients: list[str],
        title: str,
        text: str = "",
        thread: str | None = None,
        notices: Sequence[Mapping[str, object]] = (),
    ) -> None:
        """A notification ``notify.<kind>``, sent if the unit of work commits (``outbox.notify``)."""

    @abc.abstractmethod
    def send_message(
        self, name: str, correlation_key: str, message_id: str, payload: Mapping[str, object] | None = None
    ) -> None:
        """A BPMN message for the instance keyed ``correlation_key``, sent if the unit of work commits."""

    @abc.abstractmethod
    def start_process(
        self,
        command_id: str,
        process_id: str,
        business_key: str | None,
        data: Mapping[str, object],
        principal: Mapping[str, object] | None,
    ) -> None:
        """Start ``process_id`` once, however often ``command_id`` is sent, if the unit of work commits."""


class SqlUnitOfWork(UnitOfWork):
    """The unit of work over the worker's session; the entrypoint commits or rolls it back."""

    def __init__(self, session: Session, outbox_model: type[Any]) -> None:
        self.session = session
        self.outbox_model = outbox_model

    def lock(self, subject: str) -> None:
        lock_subject(self.session, subject)

    def read_snapshot(self) -> None:
        read_snapshot(self.session)

    def flush(self) -> None:
        self.session.flush()

    def publish_event(
        self,
        name: str,
        event_id: str,
        subject: str,
        *,
        thread: str | None = None,
        members: list[dict[str, object]] | None = None,
        payload: Mapping[str, object] | None = None,
        notices: Sequence[Mapping[str, object]] = (),
    ) -> None:
        outbox.publish_event(
            self.session,
            self.outbox_model,
            name,
            event_id,
            subject,
            thread=thread,
            members=members,
            payload=payload,
            notices=notices,
        )

    def notify(
        self,
        kind: str,
        event_id: str,
        subject: str,
        recipients: list[str],
        title: str,
        text: str = "",
        thread: str | None = None,
        notices: Sequence[Mapping[str, object]] = (),
    ) -> None:
        outbox.notify(
            self.session,
            self.outbox_model,
            kind,
            event_id,
            subject,
            recipients,
            title,
            text,
            thread=thread,
            notices=notices,
        )

    def send_message(
        self, name: str, correlation_key: str, message_id: str, payload: Mapping[str, object] | None = None
    ) -> None:
        outbox.send_message(self.session, self.outbox_model, name, correlation_key, message_id, payload)

    def start_process(
        self,
        command_id: str,
        process_id: str,
        business_key: str | None,
        data: Mapping[str, object],
        principal: Mapping[str, object] | None,
    ) -> None:
        outbox.start_process(self.session, self.outbox_model, command_id, process_id, business_key, data, principal)
