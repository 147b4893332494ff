"""Supervision's tables: deadlines with their provenance, reminders, escalations, key proposals.

A :class:`Deadline` and its :class:`DeadlineChange` rows together say where a due date came from:
the rule, the rulebook (name, version, SHA-256 of the file), the start event, the calendar's
day-by-day account for working-day rules (marked ``provisional`` when it counted a date of a year
without an official holiday schedule), and every pause, resume, extension, restart and
recalculation with who and why. A deadline is *live* while ``closed_at`` is empty (status ``open``, or ``missed`` once
escalated); ``met``, ``missed``, ``superseded``, ``closed`` and ``cancelled`` (its process was cancelled by an
operator: ``cancellation``) with ``closed_at`` set are history.

Times are ``UtcDateTime`` columns: stored in UTC and read back aware, on SQLite too. Due dates are
Chinese local dates.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, UtcDateTime
from shared.messaging.models import messaging_models

Base = make_base()
Outbox, Inbox = messaging_models(Base)

DEADLINE_STATUSES = ("open", "met", "missed", "superseded", "closed", "cancelled")
# Closed without a result of the work: a newer clock replaced it (superseded), or an operator cancelled
# its process (cancelled). What a proposal's current clocks say (the latest reply, whether its units
# signed on time) is read without them.
SET_ASIDE = ("superseded", "cancelled")
# recalculation: a provisional calendar account counted again when the year's official holiday
# schedule was entered (operations.recompute_provisional), and the due date moved.
# clock_start: a reply deadline counted from signing moved when the answering units signed (签收).
# cancellation: an operator cancelled the proposal's process; the deadline stopped (services/supervision/cancellation.py).
# submitted, sent_back: the units submitted the reply and it awaits staff's review, or staff sent it back
# (services/supervision/reply_review.py).
CHANGE_KINDS = (
    "pause",
    "resume",
    "extension",
    "restart",
    "recalculation",
    "clock_start",
    "cancellation",
    "submitted",
    "sent_back",
)
LOG_KINDS = ("visit", "meeting", "instruction", "note")
# The entry the service itself writes when the key proposal's handling was cancelled (who, why):
# the log is kept as history and takes no more entries.
CANCELLED_KIND = "cancelled"


class Deadline(Base):
    """One clock of one proposal: a unit's sign-for limit or objection window, or the reply deadline.

    ``unit`` names the unit a per-unit deadline belongs to and is empty for the reply deadline,
    whose answering units are in ``units`` (for a per-unit deadline ``units`` is ``[unit]``).
    ``original_due`` is the due date as first computed; ``due`` is the current one.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_number_rule", "number", "rule"),
        Index("ix_deadlines_closed_due", "closed_at", "due"),
        # SQLite: the overdue board's count per unit read from this index alone, not every overdue
        # row (PostgreSQL cannot hold a json column in a btree index, nor needs it: its plan was
        # flat; supervision migration gs_overdue_units_index).
        # A reply awaiting staff's review (fulfilled, open) is not overdue: fulfilled_at is in it too
        # (migration 0006_overdue_awaiting_review).
        Index("ix_deadlines_overdue_units", "closed_at", "fulfilled_at", "due", "rule", "units").ddl_if(
            dialect="sqlite"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50))
    rule: Mapped[str] = mapped_column(String(50))
    unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    units: Mapped[list] = mapped_column(JSON, default=list)
    start_event: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    start_date: Mapped[date] = mapped_column(Date)
    rulebook: Mapped[str] = mapped_column(String(50))
    rulebook_version: Mapped[str] = mapped_column(String(50))
    rulebook_hash: Mapped[str] = mapped_column(String(80))
    amount: Mapped[int] = mapped_column(Integer)
    amount_unit: Mapped[str] = mapped_column(String(20))
    original_due: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    calendar: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    replaces_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("deadlines.id", name="fk_deadlines_replaces_id_deadlines"), nullable=True
    )
    opened_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # When and by whom a per-unit deadline was fulfilled: the unit signed (sign_for_limit) or sent
    # its input (co_unit_input); the :class:`UnitFact` that said so points back here.
    fulfilled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    fulfilled_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # A milestone a category B reply promised (rule followup_milestone): its number in the reply
    # and what it promises; the due date is the unit's own, not a rulebook duration.
    milestone: Mapped[int | None] = mapped_column(Integer, nullable=True)
    label: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeadlineChange(Base):
    """A pause, resume, extension, restart or recalculation of a deadline; rows are added, never changed."""

    __tablename__ = "deadline_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deadline_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("deadlines.id", name="fk_deadline_changes_deadline_id_deadlines"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    old_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    new_due: Mapped[date | None] = mapped_column(Date, nullable=True)


class Reminder(Base):
    """A reminder recorded ``lead_amount lead_unit`` before the deadline's due ``for_due``.

    Unique per lead time and due date: each lead time reminds once, and again only if the due
    date moves (an extension).
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("deadline_id", "lead_amount", "lead_unit", "for_due", name="uq_reminders_once_per_lead_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deadline_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("deadlines.id", name="fk_reminders_deadline_id_deadlines"), index=True
    )
    lead_amount: Mapped[int] = mapped_column(Integer)
    lead_unit: Mapped[str] = mapped_column(String(20))
    for_due: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Escalation(Base):
    """An overdue case raised to the supervisors.

    Those from the proposal's deadlines name the deadline, the unit and the due date that was
    missed (once each); the smoke diagram's ``supervision.escalate`` names a submission instead.
    """

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("deadline_id", "unit", "due", name="uq_escalations_once_per_due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    number: Mapped[str | None] = mapped_column(String(50), index=True, nullable=True)
    deadline_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("deadlines.id", name="fk_escalations_deadline_id_deadlines"), nullable=True
    )
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    unit: Mapped[str] = mapped_column(String(100))
    escalated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KeyProposal(Base):
    """A key proposal (重点提案) and the leader named to supervise it."""

    __tablename__ = "key_proposals"

    number: Mapped[str] = mapped_column(String(50), primary_key=True)
    supervising_leader: Mapped[str] = mapped_column(String(100))
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KeyProposalList(Base):
    """A list of key proposals staff put to the chair's meeting for ``year``, and the meeting's
    decision on it (``services.supervision.key_selection``).

    ``items`` is what staff proposed (``[{number, title, reason, leader}]``); ``outcome`` is the
    decision, each item with ``decision`` accepted, struck or added. A list is ``proposed`` until
    decided; a newer list for the same year ``replaced`` an undecided one."""

    __tablename__ = "key_proposal_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20))
    items: Mapped[list] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[list | None] = mapped_column(JSON, nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SupervisionLogEntry(Base):
    """What the supervising leader did on a key proposal: a visit, a meeting, an instruction, a note."""

    __tablename__ = "supervision_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(
        String(50), ForeignKey("key_proposals.number", name="fk_supervision_log_number_key_proposals"), index=True
    )
    leader: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)


class UnitFact(Base):
    """Something a unit did that fulfils one of its deadlines, as the assignment service told it
    (domain events ``assignment.signed``, ``assignment.input_sent``). Kept once per event id, so a
    redelivered event changes nothing; ``deadline_id`` is the deadline it fulfilled, empty while
    none is open for it (the event can outrun the job that opens the clocks; opening applies it)."""

    __tablename__ = "unit_facts"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(50), index=True)
    unit: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(String(100))
    heard_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("deadlines.id", name="fk_unit_facts_deadline_id_deadlines"), nullable=True
    )
    milestone: Mapped[int | None] = mapped_column(Integer, nullable=True)  # assignment.milestone_done
