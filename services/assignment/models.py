"""The assignment service's tables: the unit directory, assignments and what units do with them.

An :class:`Assignment` is one unit's share of one proposal. Its ``round`` moves on when the
proposal is sent back for re-handling; replies, co-unit inputs and co-signatures keep the round
they belong to, so earlier rounds stay in the record. :class:`AssignmentEvent` is the audit log:
rows are added, never changed or deleted (the mapper refuses it).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, UtcDateTime
from shared.messaging.models import messaging_models

Base = make_base()
Outbox, Inbox = messaging_models(Base)


class Unit(Base):
    """A government department (承办单位) that can be given work."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))


class Assignment(Base):
    """One unit's share of a proposal (交办): ``single``, one of ``several``, the ``lead`` or a ``co``-unit.

    Status: ``assigned`` -> ``signed`` (签收) -> ``replied``; ``objected`` after an objection (staff
    decide); ``cancelled`` when staff reassign. A new round re-opens ``replied`` as ``signed``.
    """

    __tablename__ = "assignments"
    # A unit's assignments newest first, a page at a time (GET /api/assignments): by unit, then id.
    __table_args__ = (
        Index("ix_assignments_number_status", "number", "status"),
        Index("ix_assignments_unit_id", "unit", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50))
    proposal_id: Mapped[int] = mapped_column(Integer, index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    unit: Mapped[str] = mapped_column(String(100), ForeignKey("units.code", name="fk_assignments_unit_units"))
    role: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    assigned_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    signed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    objection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    objected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class CoUnitInput(Base):
    """A co-unit's input (协办意见) to the lead unit of the same proposal and round."""

    __tablename__ = "co_unit_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    lead_assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_by: Mapped[str] = mapped_column(String(100))


class Reply(Base):
    """An answering unit's reply in one round: ``draft`` -> ``submitted`` (-> ``sent_back`` -> ...).

    Each redraft raises ``revision``; a co-signature counts for the revision it signed only.
    """

    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("assignment_id", "round", name="uq_replies_assignment_round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    round: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    drafted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    drafted_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sent_back_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    sent_back_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Category B only (正在解决或列入计划): the promised steps, in order, each
    # ``{milestone, what, due, done_at, done_by, note}``; ``milestone`` numbers them from 1.
    milestones: Mapped[list | None] = mapped_column(JSON, nullable=True)


class ReplyCosignature(Base):
    """A co-unit's co-signature (会签) of one revision of the lead's reply."""

    __tablename__ = "reply_cosignatures"
    __table_args__ = (UniqueConstraint("reply_id", "assignment_id", "revision", name="uq_reply_cosignatures_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("replies.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    revision: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    signed_by: Mapped[str] = mapped_column(String(100))


class ExtensionRequest(Base):
    """An answering unit asks for more time, until a date or for some months (staff decide)."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    requested_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(100))


class Contact(Base):
    """办理沟通: the unit's contact with the proposer about one assignment — its kind (a code of the
    rulebook's ``contact_kinds``), the day it took place, who met whom, and a note. Kept, never changed."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    # Whether the rulebook counted the kind as meeting face to face when it was recorded.
    face_to_face: Mapped[bool] = mapped_column(Boolean)
    held_on: Mapped[date] = mapped_column(Date)
    participants: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(100))


class AssignmentEvent(Base):
    """Who did what to an assignment, when, with what data. Append-only."""

    __tablename__ = "assignment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    number: Mapped[str] = mapped_column(String(50), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # A random key the messages this entry causes are named by (records.event_key): the row id
    # alone repeats after a database is restored from a backup or made anew on the same broker,
    # and a unit's system that drops events by a seen event_id would drop new ones. None on the
    # rows written before the key was kept (their messages went out named by the id).
    uid: Mapped[str | None] = mapped_column(String(32), nullable=True)


@event.listens_for(AssignmentEvent, "before_update")
@event.listens_for(AssignmentEvent, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("the assignment event log is append-only: rows are never changed or deleted")
