"""Fakes of the ports in ``shared.unit_of_work``, for the unit tier: no database, no broker.

A service's fake unit of work subclasses :class:`FakeUnitOfWork` and adds in-memory fakes of that
service's repositories (each a subclass of the service's abstract repository). What the domain code
sends is kept in ``sent``, each body made by the same functions that make the real outbox's rows
(``shared.messaging.outbox``), so a fake never accepts a message the real adapter would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared import contracts
from shared.messaging import outbox
from shared.unit_of_work import UnitOfWork


class FakeUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        self.sent: list[dict] = []  # {"kind": "event"|"message"|"start", ...}
        self.locked: list[str] = []
        self.flushes = 0
        self.snapshots = 0  # read_snapshot() asked

    def lock(self, subject: str) -> None:
        self.locked.append(subject)

    def read_snapshot(self) -> None:
        self.snapshots += 1

    def flush(self) -> None:
        self.flushes += 1

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
        body = outbox.event_body(
            name, event_id, subject, thread=thread, members=members, payload=payload, notices=notices
        )
        self.sent.append({"kind": "event", "notices": [], **body})  # as the event reads: none is an empty list

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
        payload = outbox.notification_payload(recipients, title, text)
        self.publish_event(
            contracts.NOTIFY_PREFIX + kind, event_id, subject, thread=thread, payload=payload, notices=notices
        )

    def send_message(
        self, name: str, correlation_key: str, message_id: str, payload: Mapping[str, object] | None = None
    ) -> None:
        body = outbox.message_body(name, correlation_key, message_id, payload)
        self.sent.append({"kind": "message", **body})

    def start_process(
        self,
        command_id: str,
        process_id: str,
        business_key: str | None,
        data: Mapping[str, object],
        principal: Mapping[str, object] | None,
    ) -> None:
        body = outbox.start_body(command_id, process_id, business_key, data, principal)
        self.sent.append({"kind": "start", **body})

    def events(self, name: str | None = None) -> list[dict]:
        """The events sent so far (of ``name``, if given), in order."""
        return [m for m in self.sent if m["kind"] == "event" and (name is None or m["name"] == name)]
