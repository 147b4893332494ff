"""Evaluation's tables: outcomes, rating rounds and ratings, follow-ups, appeals, quality grades, handling
scores. The units' annual assessment is computed from these (``assessment.py``), never stored."""

from __future__ import annotations

from datetime import datetime

from shared.db import UtcDateTime
from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.messaging.models import messaging_models

from .base import Base

Outbox, Inbox = messaging_models(Base)


class Outcome(Base):
    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(50))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RatingRound(Base):
    """One round of rating a reply: round 1 for the first reply, one more after each re-handling.

    ``outcome`` is set when the round closes: ``accepted``, ``rehandle`` (someone was unsatisfied),
    ``appealable`` (a re-handled reply rated 不满意), ``upheld`` (its appeal decided for the handling),
    ``superseded`` (a newer round was opened before every proposer had rated) or ``cancelled`` (an
    operator cancelled the proposal's process while the round was open). ``cancelled`` says that
    cancellation (``{at, by, reason, process_id, instance_id, event_id}``, ``cancellation.py``) on
    the round it closed, or on an appealable round whose appeal window or undecided appeal it ended."""

    __tablename__ = "rating_rounds"
    __table_args__ = (UniqueConstraint("number", "round", name="uq_rating_rounds_number_round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), index=True)
    round: Mapped[int] = mapped_column(Integer)
    proposers: Mapped[list] = mapped_column()
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # A re-handled reply rated 不满意: no automatic re-handling, the proposers may appeal until then.
    appeal_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The operator's cancellation of the proposal's process that closed this round or ended its appeal.
    cancelled: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    ratings: Mapped[list[Rating]] = relationship(back_populates="rating_round", order_by="Rating.id")


class Rating(Base):
    """A proposer's two scores of one reply: the handling work and the result."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("round_id", "rater", name="uq_ratings_round_rater"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rating_rounds.id"), index=True)
    rater: Mapped[str] = mapped_column(String(100))
    handling: Mapped[str] = mapped_column(String(30))
    result: Mapped[str] = mapped_column(String(30))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    rated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    rating_round: Mapped[RatingRound] = relationship(back_populates="ratings")


class FollowUp(Base):
    """A unit's further reply on a B-category answer (being solved), perhaps for a milestone."""

    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), index=True)
    milestone: Mapped[str | None] = mapped_column(Text, nullable=True)
    due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reply: Mapped[str] = mapped_column(Text)
    replied_at: Mapped[datetime] = mapped_column(UtcDateTime())


class QualityGrade(Base):
    """The committee's grade of a proposal's quality (excellent proposals, 优秀提案)."""

    __tablename__ = "quality_grades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    grade: Mapped[str] = mapped_column(String(20))
    graded_by: Mapped[str] = mapped_column(String(100))
    graded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # the quality checklist the grade was computed from (services/evaluation/quality.py), with its
    # points; none for a grade given directly
    points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checklist: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class HandlingScore(Base):
    """A unit's handling of one proposal on the rulebook's checklist, computed from the facts.

    ``role`` is ``answering`` (单办, each unit of 分办, the lead of 主办: the handling checklist) or
    ``co`` (a co-unit, 协办: the co-unit checklist). ``year`` is the assessment year (the session
    year of the number); ``items`` holds each checklist item's points, maximum and the rule that
    gave them (their maxima add up to the checklist's total)."""

    __tablename__ = "handling_scores"
    __table_args__ = (UniqueConstraint("number", "unit", name="uq_handling_scores_number_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), index=True)
    unit: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20), default="answering", server_default="answering")
    year: Mapped[int] = mapped_column(Integer, index=True)
    items: Mapped[list] = mapped_column()
    total: Mapped[float] = mapped_column(Float)
    facts: Mapped[dict] = mapped_column()
    rulebook_version: Mapped[str] = mapped_column(String(50))
    rulebook_hash: Mapped[str] = mapped_column(String(80))
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MergedProposal(Base):
    """A proposal merged into another (并案), as intake's ``proposal.filed`` event told it: its
    proposers rate the answer of the proposal it joined (``into``), in that one's rating rounds."""

    __tablename__ = "merged_proposals"

    number: Mapped[str] = mapped_column(String(50), primary_key=True)
    into: Mapped[str] = mapped_column(String(50), index=True)
    proposers: Mapped[list] = mapped_column()
    heard_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Appeal(Base):
    """申诉: a proposer still 不满意 after a re-handled reply asks the committee to look again. One per
    reply (rating round); the committee upholds the handling or orders another re-handling."""

    __tablename__ = "appeals"
    __table_args__ = (UniqueConstraint("number", "round", name="uq_appeals_number_round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), index=True)
    round: Mapped[int] = mapped_column(Integer)
    appellant: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    lodged_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
