"""The daily digest: one message per person per day gathering their notices, for people who chose
``digest`` in their preferences.

The digest of a local (China time) day D goes out at ``ZTC_NOTIFY_DIGEST_HOUR`` on D and gathers
the notices stored since the previous digest's end (for a first digest: since the same hour the day
before) up to that hour; a notice reaching the person through several addresses counts once. A
gateway that was stopped at that hour sends it at its first tick after. A day with no notice
sends nothing. One ``notification_digests`` row per person and day (its primary key) keeps a
digest from being made twice; its deliveries are queued in the same transaction and sent like
any other (:mod:`services.gateway.deliveries`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from shared.db import UtcDateTime
from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from shared import clock
from shared.calendar import CHINA_TZ

from . import deliveries, preferences
from .channels import SMS
from .models import Base
from .notifications import Notification

DIGEST_KIND = "digest"


class Digest(Base):
    __tablename__ = "notification_digests"

    user: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # the local date, 2026-03-02
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    window_end: Mapped[datetime] = mapped_column(UtcDateTime())
    notices: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


def due_time(now: datetime, hour: int) -> datetime | None:
    """When today's digest (China time) is due, in UTC, if that time has come; else None."""
    local = now.astimezone(CHINA_TZ)
    due = datetime.combine(local.date(), time(hour), CHINA_TZ)
    return clock.as_utc(due) if local >= due else None


def compose(channel: str, day: str, notices: list[Notification]) -> tuple[str, str]:
    """The subject line and body of one person's digest of ``notices`` (oldest first)."""
    if channel == SMS:
        first = notices[0].title
        more = f"等 {len(notices)} 条" if len(notices) > 1 else ""
        return day, f"【直通车】{day} 您有新通知：{first}{more}，详情请登录系统查看。"
    lines = [f"{day} 您在直通车共有 {len(notices)} 条新通知：", ""]
    for number, notice in enumerate(notices, 1):
        at = notice.created_at.astimezone(CHINA_TZ).strftime("%H:%M")
        lines.append(f"{number}. [{at}] {notice.title}（{notice.subject}）")
        if notice.text:
            lines.append(f"   {notice.text}")
    lines += ["", "此邮件由直通车系统发出，详情请登录系统查看。"]
    return f"【直通车】每日通知摘要 {day}（{len(notices)} 条）", "\n".join(lines)


def gather(session, person, start: datetime, end: datetime) -> list[Notification]:
    """The notices for ``person`` stored in [start, end), one per event, of the kinds they want."""
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.recipient.in_(preferences.addresses_of(person)),
            Notification.created_at >= start,
            Notification.created_at < end,
        )
        .order_by(Notification.created_at, Notification.id)
    )
    seen, found = set(), []
    for row in rows:
        if row.event_id not in seen and preferences.wants(person, row.kind):
            seen.add(row.event_id)
            found.append(row)
    return found


def queue_digests(session, enabled, hour: int) -> int:
    """Make today's digest for every person in digest mode who has none yet, once its hour has
    come; returns how many deliveries were queued. The caller commits."""
    end = due_time(clock.now(), hour)
    if end is None or not enabled:
        return 0
    day = end.astimezone(CHINA_TZ).date().isoformat()
    made = set(session.scalars(select(Digest.user).where(Digest.day == day)))
    queued = 0
    for person in session.scalars(
        select(preferences.Preference)
        .where(preferences.Preference.mode == preferences.DIGEST)
        .order_by(preferences.Preference.user)
    ):
        if person.user in made or not person.channels:
            continue
        last = session.scalar(select(func.max(Digest.window_end)).where(Digest.user == person.user))
        start = last if last is not None else end - timedelta(days=1)
        notices = gather(session, person, start, end)
        session.add(
            Digest(
                user=person.user,
                day=day,
                window_start=start,
                window_end=end,
                notices=len(notices),
                created_at=clock.now(),
            )
        )
        for channel in person.channels:
            if notices and channel in enabled:
                subject, body = compose(channel, day, notices)
                queued += deliveries.add(
                    session, f"digest:{person.user}:{day}:{channel}", person, channel, DIGEST_KIND, subject, body
                )
    session.flush()
    return queued
