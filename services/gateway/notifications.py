"""The notification inbox: ``notify.<kind>`` domain events, kept one row per recipient.

A recipient is a user id, ``unit:<unit id>`` (every handler of that unit) or ``role:<role>``
(everyone holding that role). The row keeps the address as sent; a caller's inbox is the rows
addressed to their user, their unit and their roles. A row addressed to a unit or a role is one
message for all of them: when one reads it, it is read for all.

An event can arrive twice (the relay publishes at least once): ``(event_id, recipient)`` is
unique, so a redelivery adds nothing.
"""

from __future__ import annotations

from datetime import datetime

from shared.contracts.fields import ROW_ID
from shared.db import UtcDateTime
from marshmallow import Schema, validate

from shared.contracts import field_types as fields
from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, bindparam, insert, select, union_all
from sqlalchemy.orm import Mapped, mapped_column

from shared import clock, contracts
from shared.errors import InvalidInput, NotFound
from shared.validation import load

from .models import Base

UNIT_PREFIX = "unit:"
ROLE_PREFIX = "role:"


class Notification(Base):
    """One notification for one recipient (a user, ``unit:<id>`` or ``role:<role>``)."""

    __tablename__ = "notifications"
    # An inbox is read newest first, a page at a time, per address (``inbox``): by recipient, then id.
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", name="uq_notifications_event_recipient"),
        Index("ix_notifications_recipient_id", "recipient", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(100))
    thread: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def parse(body) -> tuple[dict, dict]:
    """The event and its payload, loaded; a malformed event is refused (``InvalidInput``)."""
    event = load(contracts.EventSchema, body, "the notification event")
    if not event["name"].startswith(contracts.NOTIFY_PREFIX):
        raise InvalidInput("not a notification event", {"name": [f"must start with '{contracts.NOTIFY_PREFIX}'"]})
    return event, load(contracts.NotificationPayloadSchema, event["payload"], "the notification's payload")


def unpack(body) -> list[dict]:
    """The ``notify.<kind>`` events a message from ``ztc.events`` brings: itself if it is one, then
    each notice riding on it (``contracts.NoticeSchema``), shaped as the ``notify.<kind>`` event it
    stands for. A message that brings none is refused (``InvalidInput``)."""
    event = load(contracts.EventSchema, body, "the notification event")
    brought = [body] if event["name"].startswith(contracts.NOTIFY_PREFIX) else []
    for notice in event["notices"]:
        brought.append(
            {
                "event_id": notice["event_id"],
                "name": contracts.NOTIFY_PREFIX + notice["kind"],
                "occurred_at": body["occurred_at"],
                "subject": notice["subject"],
                "thread": notice["thread"],
                "payload": {"recipients": notice["recipients"], "title": notice["title"], "text": notice["text"]},
            }
        )
    if not brought:
        raise InvalidInput(
            "not a notification event and no notice rides on it",
            {"name": [f"must start with '{contracts.NOTIFY_PREFIX}'"], "notices": ["none"]},
        )
    return brought


def kind_of(event: dict) -> str:
    return event["name"][len(contracts.NOTIFY_PREFIX) :]


def store(session, body) -> int:
    """Keep a ``notify.<kind>`` event: one row per recipient not already holding it. Returns how
    many rows were added. A malformed event is refused (``InvalidInput``) and nothing is kept."""
    event, payload = parse(body)
    recipients = list(dict.fromkeys(payload["recipients"]))
    held = set(session.execute(_HELD, {"event_id": event["event_id"], "recipients": recipients}).scalars())
    now = clock.now()
    rows = [
        {
            "event_id": event["event_id"],
            "recipient": recipient,
            "kind": kind_of(event),
            "subject": event["subject"],
            "thread": event["thread"],
            "title": payload["title"],
            "text": payload["text"],
            "created_at": now,
            "read_at": None,
        }
        for recipient in recipients
        if recipient not in held
    ]
    if rows:
        session.execute(_INSERT, rows)
    return len(rows)


# Prebuilt Core statements: a notification is stored once per recipient of every notify event and
# the inbox read on every look at it, where ORM objects cost more than the rows themselves.
_HELD = select(Notification.recipient).where(
    Notification.event_id == bindparam("event_id"), Notification.recipient.in_(bindparam("recipients", expanding=True))
)
_INSERT = insert(Notification.__table__)
_COLUMNS = (
    Notification.id,
    Notification.event_id,
    Notification.recipient,
    Notification.kind,
    Notification.subject,
    Notification.thread,
    Notification.title,
    Notification.text,
    Notification.created_at,
    Notification.read_at,
)


def addresses(principal: dict) -> list[str]:
    """Every address that reaches the caller: their user id, their unit, their roles."""
    found = [principal["user"]]
    if principal.get("unit"):
        found.append(UNIT_PREFIX + principal["unit"])
    found.extend(ROLE_PREFIX + role for role in principal.get("roles") or ())
    return found


def _to_dict(row) -> dict:
    """A notification (an ORM row or a Core row of its columns) as the inbox answers it."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "recipient": row.recipient,
        "kind": row.kind,
        "subject": row.subject,
        "thread": row.thread,
        "title": row.title,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


MAX_INBOX_PAGE = 200


class InboxQuery(Schema):
    """What a look at the inbox asks: unread ones only, how many, and older than which."""

    unread = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_INBOX_PAGE))
    before = fields.Integer(load_default=None, validate=ROW_ID)  # a notification id


def inbox_query(args) -> dict:
    """An inbox look's query from a request's arguments (``unread``, ``limit``, ``before``), or
    InvalidInput naming the field."""
    return load(InboxQuery, {k: args[k] for k in ("unread", "limit", "before") if args.get(k)}, "the inbox's query")


def inbox(
    session, principal: dict, unread_only: bool = False, limit: int = 50, before: int | None = None
) -> list[dict]:
    """The caller's newest ``limit`` notifications (``unread_only``: not yet read), older than
    ``before`` (a notification's id) when given, newest first. An inbox keeps every notice its
    addresses were ever sent (a role's gets one for every proposal), so it is read a page at a
    time: each of the caller's addresses gives its newest ``limit`` from ix_notifications_recipient_id
    and the page is the newest ``limit`` of those, however many there are in all."""
    parts = []
    for address in addresses(principal):
        part = select(*_COLUMNS).where(Notification.recipient == address)
        if unread_only:
            part = part.where(Notification.read_at.is_(None))
        if before is not None:
            part = part.where(Notification.id < before)
        parts.append(select(part.order_by(Notification.id.desc()).limit(limit).subquery()))
    newest = union_all(*parts).subquery()
    query = select(newest).order_by(newest.c.id.desc()).limit(limit)
    return [_to_dict(row) for row in session.execute(query)]


def mark_read(session, notification_id: int, principal: dict) -> dict:
    """Mark one of the caller's notifications read (again: no change). Someone else's is not found."""
    row = session.scalars(
        select(Notification).where(Notification.id == notification_id, Notification.recipient.in_(addresses(principal)))
    ).first()
    if row is None:
        raise NotFound(f"no notification {notification_id} for you")
    if row.read_at is None:
        row.read_at = clock.now()
        session.flush()
    return _to_dict(row)
