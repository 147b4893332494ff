"""Deliveries: each message that leaves the system by e-mail or SMS, kept until it is sent.

A notice for someone registered for immediate delivery (:mod:`services.gateway.preferences`)
becomes one row per channel **in the transaction that stores it in the inbox**, so nothing is sent
for an event that was not kept and nothing kept is forgotten. The delivery loop (the gateway's
timer) sends the due rows one at a time, each in its own transaction that locks the row (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, so two gateways never send one row) and records the outcome at
once: ``sent``; or tried again after a pause that doubles up to a bound; or, after
``ZTC_NOTIFY_MAX_ATTEMPTS`` attempts or a refusal no retry can change, ``failed``, listed to
operators and sent again by them (``POST /api/ops/notifications/deliveries/retry``).

Once per delivery: ``key`` is unique (the event, the person and the channel; or the digest), so a
redelivered event adds nothing and a person reached through two addresses gets one message. The
one repeat left is a crash after the server took a message and before its row said so; every
attempt carries the same message id for the receiver to recognise it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.db import UtcDateTime
from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from shared import clock
from shared.errors import InvalidInput

from . import notifications, preferences
from .channels import SMS, ChannelError
from .models import Base

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)
SMS_MAX = 300  # characters: a long SMS is split by the operator's gateway; a digest's is cut


class Delivery(Base):
    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(100))  # the notice's kind, or "digest"
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


def add(session, key: str, person, channel: str, kind: str, subject: str, body: str) -> bool:
    """One delivery for ``person`` by ``channel``, unless ``key`` was queued before."""
    if session.scalar(select(Delivery.id).where(Delivery.key == key)) is not None:
        return False
    now = clock.now()
    if channel == SMS:
        body = body if len(body) <= SMS_MAX else body[: SMS_MAX - 1] + "…"
    session.add(
        Delivery(
            key=key,
            user=person.user,
            channel=channel,
            address=preferences.address_for(person, channel),
            kind=kind,
            subject=subject[:300],
            body=body,
            status=PENDING,
            attempts=0,
            available_at=now,
            created_at=now,
        )
    )
    return True


def notice_text(channel: str, kind: str, subject: str, title: str, text: str) -> tuple[str, str]:
    """The subject line and body of one notice."""
    if channel == SMS:
        return title, f"【直通车】{title}（{subject}）" + (f"：{text}" if text else "")
    body = (
        f"{title}\n\n" + (f"{text}\n\n" if text else "") + f"事项：{subject}\n类别：{kind}\n\n"
        "此邮件由直通车系统发出，详情请登录系统查看。"
    )
    return f"【直通车】{title}", body


def enqueue(session, body, enabled) -> int:
    """Queue the ``notify.<kind>`` event ``body`` for everyone registered for immediate delivery
    whom it reaches and who wants its kind, by each of their channels in ``enabled``. Returns
    how many deliveries were added; call it in the transaction that stores the event."""
    if not enabled:
        return 0
    event, payload = notifications.parse(body)
    kind = notifications.kind_of(event)
    added = 0
    for person in preferences.people_for(session, payload["recipients"], preferences.IMMEDIATE):
        if not preferences.wants(person, kind):
            continue
        for channel in person.channels:
            if channel in enabled:
                subject, text = notice_text(channel, kind, event["subject"], payload["title"], payload["text"])
                added += add(
                    session, f"event:{event['event_id']}:{person.user}:{channel}", person, channel, kind, subject, text
                )
    session.flush()
    return added


def pause(attempts: int, settings) -> float:
    """Seconds before attempt ``attempts + 1``: the first pause, doubled per attempt, at most the bound.
    (The rows carry their own schedule, so a retry library's in-process loop does not fit.)"""
    return min(settings.notify_retry_pause_seconds * 2 ** max(attempts - 1, 0), settings.notify_retry_pause_max_seconds)


def deliver_due(session, channels, settings, limit: int = 100) -> int:
    """Send the deliveries that are due by the configured channels, one transaction each
    (committed here: a sent message is recorded before the next is tried). A channel that fails
    for a reason other than a refusal is not tried again in this call: the rest of its rows wait
    for their next turn without spending an attempt. Returns how many were sent."""
    due = session.scalars(
        select(Delivery.id)
        .where(Delivery.status == PENDING, Delivery.available_at <= clock.now(), Delivery.channel.in_(channels.enabled))
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    session.commit()
    sent, away = 0, set()
    for delivery_id in due:
        query = select(Delivery).where(Delivery.id == delivery_id, Delivery.status == PENDING)
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = session.scalars(query).first()
        if row is None or row.channel in away:  # sent by another gateway meanwhile, or its server is away
            session.commit()
            continue
        row.attempts += 1
        try:
            channels.get(row.channel).send(row.address, row.subject, row.body, f"ztc-delivery-{row.id}")
        except ChannelError as exc:
            row.last_error = str(exc)[:2000]
            if not exc.permanent:
                away.add(row.channel)
            if exc.permanent or row.attempts >= settings.notify_max_attempts:
                row.status = FAILED
            else:
                row.available_at = clock.now() + timedelta(seconds=pause(row.attempts, settings))
        else:
            row.status, row.sent_at, row.last_error = SENT, clock.now(), None
            sent += 1
        session.commit()
    return sent


def to_dict(row: Delivery) -> dict:
    """A delivery as operators see it: the address masked, also where a server's answer repeats it."""
    masked = preferences.mask_address(row.address)
    error = row.last_error.replace(row.address, masked) if row.last_error and row.address else row.last_error
    return {
        "id": row.id,
        "user": row.user,
        "channel": row.channel,
        "address": masked,
        "kind": row.kind,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "available_at": row.available_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "last_error": error,
    }


def listing(session, status: str | None = FAILED, user: str | None = None, limit: int = 500) -> list[dict]:
    """Deliveries, newest first: failed ones by default; ``status`` None or empty for all."""
    if status and status not in STATUSES:
        raise InvalidInput(f"no delivery status {status!r}", {"status": [f"one of {', '.join(STATUSES)}"]})
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        query = query.where(Delivery.status == status)
    if user:
        query = query.where(Delivery.user == user)
    return [to_dict(row) for row in session.scalars(query)]


def retry(session, ids: list[int] | None = None, everything: bool = False) -> list[dict]:
    """Send failed deliveries again, with a fresh budget of attempts: those of ``ids``, or every
    failed one. A delivery that is not failed is left as it is."""
    if not ids and not everything:
        raise InvalidInput("name the deliveries to retry", {"ids": ["give ids, or all: true"]})
    query = select(Delivery).where(Delivery.status == FAILED)
    if not everything:
        query = query.where(Delivery.id.in_(ids))
    rows = session.scalars(query.order_by(Delivery.id)).all()
    for row in rows:
        row.status, row.attempts, row.available_at = PENDING, 0, clock.now()
    session.flush()
    return [to_dict(row) for row in rows]
