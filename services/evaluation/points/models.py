"""Performance tables, on evaluation's Base (migration 0003): the members directory, the events
heard, the ledger, attendance records, published periods and correction requests.

The ledger is append-only: an entry is never edited or deleted. A replaced entry is answered by an
adjustment entry (and marked ``superseded_by``, the one column written after insert), a correction
is an entry with its reason."""

from __future__ import annotations

from datetime import date, datetime

from shared.db import UtcDateTime
from sqlalchemy import Boolean, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import Base


class Member(Base):
    """A committee member (委员): their sector (界别) and the terms (届) they serve."""

    __tablename__ = "members"

    user: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sector: Mapped[str] = mapped_column(String(200), index=True)
    terms: Mapped[list] = mapped_column()
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class HeardEvent(Base):
    """A domain event the ledger has handled, once: a redelivery finds its row and does nothing."""

    __tablename__ = "points_events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(100))
    thread: Mapped[str | None] = mapped_column(String(100), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    counts_on: Mapped[date] = mapped_column(Date)
    term: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[list] = mapped_column()  # per member: the entry booked or why none was
    heard_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LedgerEntry(Base):
    """Points for one member, and where they came from.

    ``kind``: ``earned`` (a rule row applied to an event), ``adjustment`` (reverses an earlier
    entry replaced under the no-double-counting rule; ``replaces`` names it) or ``correction``
    (applied by staff inside a period's correction window; ``correction_id`` names the request)."""

    __tablename__ = "points_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member: Mapped[str] = mapped_column(String(100), index=True)
    term: Mapped[str] = mapped_column(String(20), index=True)
    counts_on: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    activity: Mapped[str | None] = mapped_column(String(60), nullable=True)
    points: Mapped[int] = mapped_column(Integer)
    rule: Mapped[dict | None] = mapped_column(nullable=True)
    role: Mapped[str | None] = mapped_column(String(50), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    event_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(100), nullable=True)
    thread: Mapped[str | None] = mapped_column(String(100), nullable=True)
    exclusive_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replaces: Mapped[int | None] = mapped_column(Integer, nullable=True)
    correction_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rulebook_version: Mapped[str] = mapped_column(String(50))
    rulebook_hash: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text, default="")
    after_close: Mapped[bool] = mapped_column(Boolean, default=False)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Attendance(Base):
    """Attendance at one activity, recorded by the office that organised it (谁组织谁记录)."""

    __tablename__ = "attendance_records"
    __table_args__ = (
        UniqueConstraint("organiser", "client_reference", name="uq_attendance_records_organiser_client_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    half_days: Mapped[int] = mapped_column(Integer)
    organiser: Mapped[str] = mapped_column(String(100))
    office: Mapped[str | None] = mapped_column(String(100), nullable=True)
    attendees: Mapped[list] = mapped_column()  # [{member, role: present|absent_excused|absent_unexcused}]
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The recording's idempotency key: the same organiser with the same key gets this record back.
    client_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Period(Base):
    """A published period (``2026-Q3`` or ``2026``): its correction window and, once closed, the
    final standings."""

    __tablename__ = "points_periods"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    starts: Mapped[date] = mapped_column(Date)
    ends: Mapped[date] = mapped_column(Date)
    term: Mapped[str] = mapped_column(String(20))
    rulebook_version: Mapped[str] = mapped_column(String(50))
    rulebook_hash: Mapped[str] = mapped_column(String(80))
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    window_ends: Mapped[datetime] = mapped_column(UtcDateTime())
    published: Mapped[list] = mapped_column()  # standings at publication
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    final: Mapped[list | None] = mapped_column(nullable=True)  # standings at closing


class CorrectionRequest(Base):
    """A member asks for a correction of a published period; staff apply or reject it in the window."""

    __tablename__ = "points_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(20), index=True)
    member: Mapped[str] = mapped_column(String(100), index=True)
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    points_asked: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # open | applied | rejected
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    decision: Mapped[str | None] = mapped_column(Text, nullable=True)
    applied_entry: Mapped[int | None] = mapped_column(Integer, nullable=True)
