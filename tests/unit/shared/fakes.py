"""Fakes of the ports in ``shared.unit_of_work``, for the unit tier: no database, no broker.

A service's fake unit of work subclasses :class:`FakeUnitOfWork` and adds in-memory fakes of that
service's repositories (each a subclass of the service's abstract repository). What the domain code
sends is kept in ``sent`` — checked against the same contracts the real outbox uses, so a fake never
accepts a message the real adapter would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared import contracts
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
        body = contracts.EventSchema().load(
            {
                "event_id": event_id,
                "name": name,
                "occurred_at": "2026-01-01T00:00:00+00:00",
                "subject": subject,
                "thread": thread,
                "members": members or [],
                "payload": payload or {},
                "notices": list(notices),
            }
        )
        self.sent.append({"kind": "event", **body})

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
        payload = contracts.NotificationPayloadSchema().load({"recipients": recipients, "title": title, "text": text})
        self.publish_event(
            contracts.NOTIFY_PREFIX + kind, event_id, subject, thread=thread, payload=payload, notices=notices
        )

    def send_message(
        self, name: str, correlation_key: str, message_id: str, payload: Mapping[str, object] | None = None
    ) -> None:
        body = contracts.MessageSchema().load(
            {"name": name, "correlation_key": correlation_key, "message_id": message_id, "payload": payload or {}}
        )
        self.sent.append({"kind": "message", **body})

    def start_process(
        self,
        command_id: str,
        process_id: str,
        business_key: str | None,
        data: Mapping[str, object],
        principal: Mapping[str, object] | None,
    ) -> None:
        body = contracts.StartSchema().dump(
            {
                "command_id": command_id,
                "process_id": process_id,
                "business_key": business_key,
                "data": data,
                "principal": principal,
            }
        )
        self.sent.append({"kind": "start", **contracts.StartSchema().load(body)})

    def events(self, name: str | None = None) -> list[dict]:
        """The events sent so far (of ``name``, if given), in order."""
        return [m for m in self.sent if m["kind"] == "event" and (name is None or m["name"] == name)]
