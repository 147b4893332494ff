"""The points area's repository: the members directory, the ledger and the events it heard,
attendance records, published periods and correction requests, in the domain's words.

:class:`PointsRepository` is the port (``uow.points`` of the evaluation unit of work);
:class:`SqlPointsRepository` is its SQLAlchemy adapter, the only code of the points area that
builds queries. Rows are the model classes of :mod:`~services.evaluation.points.models`; the domain
changes them in place and the unit of work keeps the change.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Attendance, CorrectionRequest, HeardEvent, LedgerEntry, Member, Period

# What a member earned under a rule counts towards its cap; corrections do not.
CAPPED_KINDS = ("earned", "adjustment")


class PointsRepository(abc.ABC):
    # -- the members directory
    @abc.abstractmethod
    def member(self, user: str) -> Member | None: ...

    @abc.abstractmethod
    def add_member(self, row: Member) -> None: ...

    @abc.abstractmethod
    def has_members(self) -> bool:
        """Whether anyone is in the directory."""

    @abc.abstractmethod
    def members(self, sector: str | None = None) -> list[Member]:
        """The directory (of ``sector``, if given), by sector then user."""

    @abc.abstractmethod
    def members_among(self, users: Iterable[str]) -> list[Member]:
        """Those of ``users`` in the directory, by user."""

    @abc.abstractmethod
    def lock_members(self, users: list[str]) -> None:
        """Hold the members' rows until the transaction ends (one booking at a time per member)."""

    # -- the ledger and the events it heard
    @abc.abstractmethod
    def heard(self, event_id: str) -> HeardEvent | None: ...

    @abc.abstractmethod
    def add_heard(self, row: HeardEvent) -> None: ...

    @abc.abstractmethod
    def heard_among(self, event_ids: Iterable[str]) -> dict[str, HeardEvent]: ...

    @abc.abstractmethod
    def entry(self, entry_id: int) -> LedgerEntry | None: ...

    @abc.abstractmethod
    def add_entry(self, row: LedgerEntry) -> None: ...

    @abc.abstractmethod
    def earned_between(self, member: str, activity: str, starts: date, ends: date) -> int:
        """The points ``member`` earned for ``activity`` (adjustments included) counting from
        ``starts`` to ``ends``: what a cap is measured against."""

    @abc.abstractmethod
    def first_earned_for(self, member: str, activity: str, subject: str) -> LedgerEntry | None:
        """The first entry ``member`` earned for ``activity`` about the item ``subject``."""

    @abc.abstractmethod
    def holder(self, member: str, exclusive_key: str) -> LedgerEntry | None:
        """The entry that holds the group's place in a thread for ``member`` (not superseded), newest first."""

    @abc.abstractmethod
    def entries_of(self, member: str, starts: date, ends: date) -> list[LedgerEntry]:
        """``member``'s entries counting from ``starts`` to ``ends``, by date then id."""

    @abc.abstractmethod
    def totals_by_member(self, starts: date, ends: date) -> dict[str, int]:
        """Each member's points counting from ``starts`` to ``ends`` (members with entries only)."""

    @abc.abstractmethod
    def totals_by_activity(self, starts: date, ends: date) -> list[tuple[str | None, int, int]]:
        """``(activity, entries, points)`` counting from ``starts`` to ``ends``, by activity
        (``None``: corrections)."""

    @abc.abstractmethod
    def points_by_day(self, starts: date, ends: date) -> list[tuple[date, int]]:
        """``(day, points)`` of each entry counting from ``starts`` to ``ends``."""

    # -- attendance
    @abc.abstractmethod
    def attendance_recorded(self, organiser: str, key: str) -> Attendance | None:
        """The record ``organiser`` made with idempotency key ``key``, if any."""

    @abc.abstractmethod
    def add_attendance(self, row: Attendance) -> None: ...

    @abc.abstractmethod
    def attendance_of(self, kind: str, held_on: date, title: str) -> Attendance | None:
        """The record of the activity of ``kind`` titled ``title`` on ``held_on``, if one was made."""

    @abc.abstractmethod
    def attendance_records(self) -> list[Attendance]:
        """Every attendance record, by the activity's date then id."""

    # -- periods and corrections
    @abc.abstractmethod
    def period(self, key: str) -> Period | None: ...

    @abc.abstractmethod
    def add_period(self, row: Period) -> None: ...

    @abc.abstractmethod
    def periods(self) -> list[Period]:
        """Every published period, by first day then key."""

    @abc.abstractmethod
    def periods_covering(self, day: date) -> list[Period]:
        """The published periods ``day`` falls in."""

    @abc.abstractmethod
    def correction(self, correction_id: int) -> CorrectionRequest | None: ...

    @abc.abstractmethod
    def add_correction(self, row: CorrectionRequest) -> None: ...

    @abc.abstractmethod
    def corrections_of(self, period: str, member: str | None = None) -> list[CorrectionRequest]:
        """The period's correction requests (``member``'s only, if given), oldest first."""


class SqlPointsRepository(PointsRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def member(self, user: str) -> Member | None:
        return self.session.get(Member, user)

    def add_member(self, row: Member) -> None:
        self.session.add(row)

    def has_members(self) -> bool:
        return self.session.scalars(select(Member).limit(1)).first() is not None

    def members(self, sector: str | None = None) -> list[Member]:
        query = select(Member).order_by(Member.sector, Member.user)
        if sector:
            query = query.where(Member.sector == sector)
        return list(self.session.scalars(query))

    def members_among(self, users: Iterable[str]) -> list[Member]:
        wanted = sorted(set(users))
        if not wanted:
            return []
        return list(self.session.scalars(select(Member).where(Member.user.in_(wanted)).order_by(Member.user)))

    def lock_members(self, users: list[str]) -> None:
        if users:  # sorted, so two bookings never wait on each other
            query = select(Member.user).where(Member.user.in_(users)).order_by(Member.user).with_for_update()
            self.session.scalars(query).all()

    def heard(self, event_id: str) -> HeardEvent | None:
        return self.session.get(HeardEvent, event_id)

    def add_heard(self, row: HeardEvent) -> None:
        self.session.add(row)

    def heard_among(self, event_ids: Iterable[str]) -> dict[str, HeardEvent]:
        wanted = set(event_ids)
        if not wanted:
            return {}
        return {h.event_id: h for h in self.session.scalars(select(HeardEvent).where(HeardEvent.event_id.in_(wanted)))}

    def entry(self, entry_id: int) -> LedgerEntry | None:
        return self.session.get(LedgerEntry, entry_id)

    def add_entry(self, row: LedgerEntry) -> None:
        self.session.add(row)

    def earned_between(self, member: str, activity: str, starts: date, ends: date) -> int:
        query = select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member == member,
            LedgerEntry.activity == activity,
            LedgerEntry.kind.in_(CAPPED_KINDS),
            LedgerEntry.counts_on >= starts,
            LedgerEntry.counts_on <= ends,
        )
        return int(self.session.scalar(query) or 0)

    def first_earned_for(self, member: str, activity: str, subject: str) -> LedgerEntry | None:
        query = (
            select(LedgerEntry)
            .where(
                LedgerEntry.member == member,
                LedgerEntry.activity == activity,
                LedgerEntry.kind == "earned",
                LedgerEntry.subject == subject,
            )
            .order_by(LedgerEntry.id)
        )
        return self.session.scalars(query).first()

    def holder(self, member: str, exclusive_key: str) -> LedgerEntry | None:
        query = (
            select(LedgerEntry)
            .where(
                LedgerEntry.member == member,
                LedgerEntry.exclusive_key == exclusive_key,
                LedgerEntry.superseded_by.is_(None),
            )
            .order_by(LedgerEntry.id.desc())
        )
        return self.session.scalars(query).first()

    def entries_of(self, member: str, starts: date, ends: date) -> list[LedgerEntry]:
        query = (
            select(LedgerEntry)
            .where(LedgerEntry.member == member, LedgerEntry.counts_on >= starts, LedgerEntry.counts_on <= ends)
            .order_by(LedgerEntry.counts_on, LedgerEntry.id)
        )
        return list(self.session.scalars(query))

    def totals_by_member(self, starts: date, ends: date) -> dict[str, int]:
        query = (
            select(LedgerEntry.member, func.sum(LedgerEntry.points))
            .where(LedgerEntry.counts_on >= starts, LedgerEntry.counts_on <= ends)
            .group_by(LedgerEntry.member)
        )
        return {member: int(points or 0) for member, points in self.session.execute(query).all()}

    def totals_by_activity(self, starts: date, ends: date) -> list[tuple[str | None, int, int]]:
        query = (
            select(LedgerEntry.activity, func.count(), func.sum(LedgerEntry.points))
            .where(LedgerEntry.counts_on >= starts, LedgerEntry.counts_on <= ends)
            .group_by(LedgerEntry.activity)
            .order_by(LedgerEntry.activity)
        )
        return [(activity, int(n), int(points or 0)) for activity, n, points in self.session.execute(query).all()]

    def points_by_day(self, starts: date, ends: date) -> list[tuple[date, int]]:
        query = select(LedgerEntry.counts_on, LedgerEntry.points).where(
            LedgerEntry.counts_on >= starts, LedgerEntry.counts_on <= ends
        )
        return [(day, points) for day, points in self.session.execute(query).all()]

    def attendance_recorded(self, organiser: str, key: str) -> Attendance | None:
        query = select(Attendance).where(Attendance.organiser == organiser, Attendance.client_reference == key)
        return self.session.scalar(query)

    def add_attendance(self, row: Attendance) -> None:
        self.session.add(row)

    def attendance_of(self, kind: str, held_on: date, title: str) -> Attendance | None:
        query = select(Attendance).where(
            Attendance.kind == kind, Attendance.held_on == held_on, Attendance.title == title
        )
        return self.session.scalar(query.order_by(Attendance.id).limit(1))

    def attendance_records(self) -> list[Attendance]:
        return list(self.session.scalars(select(Attendance).order_by(Attendance.held_on, Attendance.id)))

    def period(self, key: str) -> Period | None:
        return self.session.get(Period, key)

    def add_period(self, row: Period) -> None:
        self.session.add(row)

    def periods(self) -> list[Period]:
        return list(self.session.scalars(select(Period).order_by(Period.starts, Period.key)))

    def periods_covering(self, day: date) -> list[Period]:
        return list(self.session.scalars(select(Period).where(Period.starts <= day, Period.ends >= day)))

    def correction(self, correction_id: int) -> CorrectionRequest | None:
        return self.session.get(CorrectionRequest, correction_id)

    def add_correction(self, row: CorrectionRequest) -> None:
        self.session.add(row)

    def corrections_of(self, period: str, member: str | None = None) -> list[CorrectionRequest]:
        query = select(CorrectionRequest).where(CorrectionRequest.period == period).order_by(CorrectionRequest.id)
        if member is not None:
            query = query.where(CorrectionRequest.member == member)
        return list(self.session.scalars(query))
