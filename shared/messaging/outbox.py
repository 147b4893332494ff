"""What a service sends the engine, written to the service's own outbox so it leaves only if the
service's transaction commits (publish after commit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared import clock, contracts

# Made once: making a schema cost more than what it loads or dumps here, and it keeps nothing of a call.
_MESSAGE = contracts.MessageSchema()
_START = contracts.StartSchema()
_EVENT = contracts.EventSchema()
_NOTIFICATION_PAYLOAD = contracts.NotificationPayloadSchema()


# Set in a session's ``info`` once it has written an outbox row: committing it wakes the relay,
# which a commit that wrote none has no reason to do (the relay's sweep still finds any row).
WRITTEN = "ztc_outbox_written"


def add(
    session: Session,
    outbox_model: type[Any],
    exchange: str,
    routing_key: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, Any] | None = None,
) -> None:
    """A message to ``exchange`` with ``routing_key``, sent if the caller's transaction commits."""
    now = clock.now()
    # A Core insert, executed now in the caller's transaction: an ORM object per message cost
    # more to flush than the statement, and the rows keep the order they were sent in.
    session.execute(
        insert_of(outbox_model),
        {
            "exchange": exchange,
            "routing_key": routing_key,
            "payload": payload,
            "headers": dict(headers or {}),
            "available_at": now,
            "created_at": now,
            "attempts": 0,
        },
    )
    session.info[WRITTEN] = True  # the commit wakes the relay (shared.messaging.database)


_INSERTS: dict[type[Any], Any] = {}  # each model -> its prebuilt insert


def insert_of(model: type[Any]) -> Any:
    """One Core insert of a row of ``model``'s table (a service's outbox or inbox), built once: an
    ORM object and its flush cost a message more than the statement itself."""
    statement = _INSERTS.get(model)
    if statement is None:
        statement = _INSERTS[model] = insert(model.__table__)
    return statement


def message_body(
    name: str, correlation_key: str, message_id: str, payload: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """A BPMN message as it crosses the bus (``contracts.MessageSchema``)."""
    body: dict[str, Any] = _MESSAGE.load(
        {"name": name, "correlation_key": correlation_key, "message_id": message_id, "payload": payload or {}}
    )
    return body


def send_message(
    session: Session,
    outbox_model: type[Any],
    name: str,
    correlation_key: str,
    message_id: str,
    payload: Mapping[str, object] | None = None,
) -> None:
    """A BPMN message for the instance whose business key is ``correlation_key``."""
    body = message_body(name, correlation_key, message_id, payload)
    add(session, outbox_model, contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, body)


def start_body(
    command_id: str,
    process_id: str,
    business_key: str | None,
    data: Mapping[str, object],
    principal: Mapping[str, object] | None,
) -> dict[str, Any]:
    """A process start as it crosses the bus (``contracts.StartSchema``)."""
    body: dict[str, Any] = _START.dump(
        {
            "command_id": command_id,
            "process_id": process_id,
            "business_key": business_key,
            "data": data,
            "principal": principal,
        }
    )
    return body


def start_process(
    session: Session,
    outbox_model: type[Any],
    command_id: str,
    process_id: str,
    business_key: str | None,
    data: Mapping[str, object],
    principal: Mapping[str, object] | None,
) -> None:
    """Start ``process_id`` once, however often the command is delivered."""
    body = start_body(command_id, process_id, business_key, data, principal)
    add(session, outbox_model, contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY, body)


def event_body(
    name: str,
    event_id: str,
    subject: str,
    *,
    thread: str | None = None,
    members: list[dict[str, object]] | None = None,
    payload: Mapping[str, object] | None = None,
    notices: Sequence[Mapping[str, object]] = (),
) -> dict[str, Any]:
    """A domain event as it crosses the bus (``contracts.EventSchema``), occurring now."""
    body: dict[str, Any] = _EVENT.dump(
        _EVENT.load(
            {
                "event_id": event_id,
                "name": name,
                "occurred_at": clock.now().isoformat(),
                "subject": subject,
                "thread": thread,
                "members": members or [],
                "payload": payload or {},
                "notices": list(notices),
            }
        )
    )
    if not body["notices"]:
        del body["notices"]  # an event without notices is as it always was
    return body


def notification_payload(recipients: list[str], title: str, text: str = "") -> dict[str, Any]:
    """What a ``notify.<kind>`` event carries (``contracts.NotificationPayloadSchema``)."""
    payload: dict[str, Any] = _NOTIFICATION_PAYLOAD.load({"recipients": recipients, "title": title, "text": text})
    return payload


def publish_event(
    session: Session,
    outbox_model: type[Any],
    name: str,
    event_id: str,
    subject: str,
    *,
    thread: str | None = None,
    members: list[dict[str, object]] | None = None,
    payload: Mapping[str, object] | None = None,
    notices: Sequence[Mapping[str, object]] = (),
) -> None:
    """A domain event on ``ztc.events`` (routing key ``name``), sent only if the caller's
    transaction commits. ``members``: ``[{"member": id, "role": "lead"|"co"|...}]`` it concerns;
    ``notices``: notifications of the same change that ride on it (``contracts.NoticeSchema``)."""
    body = event_body(name, event_id, subject, thread=thread, members=members, payload=payload, notices=notices)
    add(session, outbox_model, contracts.EVENTS_EXCHANGE, name, body)


def notify(
    session: Session,
    outbox_model: type[Any],
    kind: str,
    event_id: str,
    subject: str,
    recipients: list[str],
    title: str,
    text: str = "",
    thread: str | None = None,
    notices: Sequence[Mapping[str, object]] = (),
) -> None:
    """Tell people something (delivered by the gateway's notification inbox), if the caller's
    transaction commits. ``kind`` names the occasion: ``notify.<kind>``. ``notices``: further
    notifications of the same change, carried by this one message (``contracts.NoticeSchema``)."""
    payload = notification_payload(recipients, title, text)
    publish_event(
        session,
        outbox_model,
        contracts.NOTIFY_PREFIX + kind,
        event_id,
        subject,
        thread=thread,
        payload=payload,
        notices=notices,
    )
