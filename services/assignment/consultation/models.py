"""The micro-consultation tables, on the assignment service's ``Base`` (migration 0003).

The venue directory: :class:`Town` (the 36 towns and streets), :class:`Venue` (contact points,
reception rooms, consultation rooms, sector studios) and :class:`VenueCoverage` (which towns a
venue serves). A :class:`Case` is a resident's issue; its ``number`` (``WX-2027-0001``) is also its
``thread``, which the opinion item or proposal it becomes carries on. :class:`CaseEvent` is the
case's audit log: rows are added, never changed or deleted (the mapper refuses it).
"""

from __future__ import annotations

from datetime import date, datetime

from shared.db import UtcDateTime
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base


class Town(Base):
    """A town (镇) or street (街道) of the city."""

    __tablename__ = "towns"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # town | street
    district: Mapped[str] = mapped_column(String(100))


class Venue(Base):
    """A place where members meet residents (履职阵地), in ``town``, serving the towns it covers."""

    __tablename__ = "venues"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30), index=True)
    town: Mapped[str] = mapped_column(String(50), ForeignKey("towns.code", name="fk_venues_town_towns"))
    address: Mapped[str] = mapped_column(String(300))
    sector: Mapped[str | None] = mapped_column(String(100), nullable=True)  # sector studios: the 界别


class VenueCoverage(Base):
    __tablename__ = "venue_coverage"

    venue: Mapped[str] = mapped_column(
        String(50), ForeignKey("venues.code", name="fk_venue_coverage_venue_venues"), primary_key=True
    )
    town: Mapped[str] = mapped_column(
        String(50), ForeignKey("towns.code", name="fk_venue_coverage_town_towns"), primary_key=True, index=True
    )


class VenueMember(Base):
    """A member who serves at a venue (a contact point's members, 联络站委员): a resident's case raised
    there reaches them, and they read the venue's cases."""

    __tablename__ = "venue_members"

    venue: Mapped[str] = mapped_column(
        String(50), ForeignKey("venues.code", name="fk_venue_members_venue_venues"), primary_key=True
    )
    member: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class CaseCounter(Base):
    """The last case number of a year (numbers without gaps; see ``services/intake/numbering.py``)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """A resident's issue (群众点单), from registration to closing.

    Status: ``registered`` -> ``dispatched`` (派单) -> ``taken`` (接单) -> ``answered`` | ``converted``
    | ``meeting`` (协商) -> ``committed`` (departments committed) -> ``following_up`` (跟进查单) ->
    ``return_visit`` -> ``closed``; ``cancelled`` (from any status before ``closed``) when an
    operator cancels its process (``close_reason`` ``process_cancelled``, ``close_note`` why).
    """

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_cases_year_sequence"),
        UniqueConstraint("registered_by", "client_reference", name="uq_cases_registered_by_client_reference"),
        UniqueConstraint("public_reference", name="uq_cases_public_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    thread: Mapped[str] = mapped_column(String(100), index=True)
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    venue: Mapped[str] = mapped_column(String(50), ForeignKey("venues.code", name="fk_cases_venue_venues"), index=True)
    town: Mapped[str] = mapped_column(String(50), ForeignKey("towns.code", name="fk_cases_town_towns"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    resident_name: Mapped[str] = mapped_column(String(100))
    resident_phone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    member: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    converted_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    converted_number: Mapped[str | None] = mapped_column(String(50), nullable=True)
    # What became of that item or proposal (intake's converted_outcome message): {status, reason,
    # kind, number}; empty until it came, and when none came before the rulebook's time ran out.
    converted_outcome: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    satisfaction: Mapped[str | None] = mapped_column(String(30), nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    close_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    follow_up_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    rulebook_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The registration's idempotency key: the same registrar with the same key gets this case back.
    client_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # What a resident follows the case by: random, because numbers are sequential and guessable.
    public_reference: Mapped[str | None] = mapped_column(String(40), nullable=True)


class CaseMeeting(Base):
    """A consultation meeting (协商议事) held on a case: its form, place, who attended, which departments."""

    __tablename__ = "case_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    form: Mapped[str] = mapped_column(String(20))
    venue: Mapped[str | None] = mapped_column(
        String(50), ForeignKey("venues.code", name="fk_case_meetings_venue_venues"), nullable=True
    )
    held_on: Mapped[date] = mapped_column(Date)
    attendees: Mapped[list] = mapped_column(JSON, default=list)  # member user ids
    units: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseCommitment(Base):
    """One department's commitment (承诺事项) after a meeting: ``pending`` -> ``committed``."""

    __tablename__ = "case_commitments"
    __table_args__ = (UniqueConstraint("meeting_id", "unit", name="uq_case_commitments_meeting_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("case_meetings.id"))
    unit: Mapped[str] = mapped_column(
        String(100), ForeignKey("units.code", name="fk_case_commitments_unit_units"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    due: Mapped[datetime] = mapped_column(UtcDateTime())  # when the department must commit (rulebook)
    actions: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_by: Mapped[date | None] = mapped_column(Date, nullable=True)  # the date the department promises
    contact: Mapped[str | None] = mapped_column(String(100), nullable=True)
    committed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    committed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class CaseFollowUp(Base):
    """A follow-up check (跟进查单) of the departments' actions."""

    __tablename__ = "case_follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    actions_done: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text)
    checked_by: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseEvent(Base):
    """Who did what to a case, when, with what data. Append-only."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("the case event log is append-only: rows are never changed or deleted")
