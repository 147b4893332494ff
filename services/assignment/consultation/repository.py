"""Micro-consultation's records as its domain code reads and writes them: the port and its adapter.

:class:`CaseRepository` names what :mod:`.cases`, :mod:`.steps`, :mod:`.directory` and
:mod:`.public` need (a case by its number, its meetings and commitments, the venues and towns of
the directory, the year's next case number); :class:`SqlCaseRepository` answers it over the
assignment service's session. The rows are the tables' classes (:mod:`.models`); the domain code
changes their attributes and adds new ones here, and never builds a query. The unit tier's fake
(``tests/unit/services/assignment/fakes.py``) keeps them in lists.
"""

from __future__ import annotations

import abc
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, insert, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import Counted, counted_page

from .models import (
    Case,
    CaseCommitment,
    CaseCounter,
    CaseEvent,
    CaseFollowUp,
    CaseMeeting,
    Town,
    Venue,
    VenueCoverage,
    VenueMember,
)


class CaseRepository(abc.ABC):
    # -- cases ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def case(self, case_id: int, lock: bool = False) -> Case | None:
        """The case with id ``case_id``; ``lock`` holds it for this unit of work (FOR UPDATE)."""

    @abc.abstractmethod
    def case_numbered(self, number: str, lock: bool = False) -> Case | None:
        """The case numbered ``number``."""

    @abc.abstractmethod
    def case_on_thread(self, thread: str) -> Case | None:
        """The first case whose thread is ``thread``."""

    @abc.abstractmethod
    def case_by_public_reference(self, reference: str) -> Case | None:
        """The case a resident follows by ``reference``."""

    @abc.abstractmethod
    def registered_with_key(self, registered_by: str, key: str) -> Case | None:
        """The case ``registered_by`` registered with the idempotency key ``key``."""

    @abc.abstractmethod
    def case_page(
        self,
        offset: int,
        limit: int,
        *,
        seen_by_member: str | None = None,
        committed_by_unit: str | None = None,
        status: str | None = None,
        venue: str | None = None,
    ) -> tuple[Counted, list[Case]]:
        """How many cases there are and ``limit`` of them from ``offset``, newest first (by year
        and number, descending): those assigned to, registered by or raised at a venue served by
        ``seen_by_member``; those ``committed_by_unit`` was asked to commit on; of a status, at a
        venue — each if given."""

    @abc.abstractmethod
    def next_case_sequence(self, year: int) -> int:
        """The year's next case number, taken in this unit of work (concurrent ones queue on it)."""

    @abc.abstractmethod
    def add_case(self, case: Case) -> None: ...

    @abc.abstractmethod
    def log(self, entry: CaseEvent) -> None:
        """Add an entry to the case's audit log."""

    @abc.abstractmethod
    def history(self, case_id: int, action: str | None = None) -> list[CaseEvent]:
        """The case's log entries (of ``action``, if given), in order."""

    # -- meetings, commitments, follow-ups -------------------------------------------------------
    @abc.abstractmethod
    def details_of(self, case_ids: list[int], unit: str | None = None) -> dict[int, dict[str, list]]:
        """For each of ``case_ids``: its ``meetings``, ``commitments`` (``unit``'s only, if given),
        ``follow_ups`` and ``history``, each in order, read once for all of them (a page of the list)."""

    @abc.abstractmethod
    def meetings(self, case_id: int) -> list[CaseMeeting]: ...

    @abc.abstractmethod
    def latest_meeting(self, case_id: int) -> CaseMeeting | None: ...

    @abc.abstractmethod
    def meeting_held(self, case_id: int, held_on: date, summary: str) -> CaseMeeting | None:
        """The meeting already recorded on the case for that day with that summary (a job run twice)."""

    @abc.abstractmethod
    def add_meeting(self, meeting: CaseMeeting) -> None: ...

    @abc.abstractmethod
    def commitments(self, case_id: int, unit: str | None = None) -> list[CaseCommitment]:
        """The case's commitments (of ``unit``, if given), in order."""

    @abc.abstractmethod
    def commitment(self, meeting_id: int, unit: str) -> CaseCommitment | None:
        """What ``unit`` was asked to commit after the meeting."""

    @abc.abstractmethod
    def add_commitment(self, commitment: CaseCommitment) -> None: ...

    @abc.abstractmethod
    def follow_ups(self, case_id: int) -> list[CaseFollowUp]: ...

    @abc.abstractmethod
    def add_follow_up(self, follow_up: CaseFollowUp) -> None: ...

    # -- the venue directory ---------------------------------------------------------------------
    @abc.abstractmethod
    def venue(self, code: str) -> Venue | None: ...

    @abc.abstractmethod
    def venues(self, kind: str | None = None) -> list[Venue]:
        """Venues (of ``kind``), by kind and code."""

    @abc.abstractmethod
    def add_venue(self, venue: Venue, covers: list[str]) -> None:
        """A new venue and the towns it covers."""

    @abc.abstractmethod
    def town(self, code: str) -> Town | None: ...

    @abc.abstractmethod
    def towns(self) -> list[Town]:
        """Every town and street, by district and code."""

    @abc.abstractmethod
    def add_town(self, town: Town) -> None: ...

    @abc.abstractmethod
    def covers(self, venue: str, town: str) -> bool:
        """Whether ``venue`` covers ``town``."""

    @abc.abstractmethod
    def coverage(self) -> dict[str, list[str]]:
        """``{venue: [town, ...]}``, venues and towns in code order."""

    @abc.abstractmethod
    def venue_members(self, venue: str) -> list[str]:
        """The members who serve at ``venue``, by user."""

    @abc.abstractmethod
    def members_by_venue(self) -> dict[str, list[str]]:
        """``{venue: [member, ...]}``, by venue and member."""

    @abc.abstractmethod
    def add_venue_member(self, venue: str, member: str) -> None: ...

    @abc.abstractmethod
    def cases_by_town(self) -> dict[str, int]:
        """How many cases were raised in each town or street."""

    @abc.abstractmethod
    def cases_by_venue(self) -> dict[str, int]:
        """How many cases were raised at each venue."""


class SqlCaseRepository(CaseRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def _one(self, query: Select[Any], lock: bool) -> Case | None:
        found: Case | None = self.session.scalar(query.with_for_update() if lock else query)
        return found

    def case(self, case_id: int, lock: bool = False) -> Case | None:
        return self._one(select(Case).where(Case.id == case_id), lock)

    def case_numbered(self, number: str, lock: bool = False) -> Case | None:
        return self._one(select(Case).where(Case.number == number), lock)

    def case_on_thread(self, thread: str) -> Case | None:
        return self.session.scalar(select(Case).where(Case.thread == thread).order_by(Case.id).limit(1))

    def case_by_public_reference(self, reference: str) -> Case | None:
        return self.session.scalar(select(Case).where(Case.public_reference == reference))

    def registered_with_key(self, registered_by: str, key: str) -> Case | None:
        return self.session.scalar(
            select(Case).where(Case.registered_by == registered_by, Case.client_reference == key)
        )

    def case_page(
        self,
        offset: int,
        limit: int,
        *,
        seen_by_member: str | None = None,
        committed_by_unit: str | None = None,
        status: str | None = None,
        venue: str | None = None,
    ) -> tuple[Counted, list[Case]]:
        where = []
        if seen_by_member is not None:
            # Each by its own index (member; registered_by; venue): a member's few, not a test of every case.
            where.append(
                Case.id.in_(
                    union(
                        select(Case.id).where(Case.member == seen_by_member),
                        select(Case.id).where(Case.registered_by == seen_by_member),
                        select(Case.id).where(
                            Case.venue.in_(select(VenueMember.venue).where(VenueMember.member == seen_by_member))
                        ),
                    )
                )
            )
        if committed_by_unit is not None:
            where.append(Case.id.in_(select(CaseCommitment.case_id).where(CaseCommitment.unit == committed_by_unit)))
        if status:
            where.append(Case.status == status)
        if venue:
            where.append(Case.venue == venue)
        return counted_page(self.session, Case, where, (Case.year.desc(), Case.sequence.desc()), offset, limit)

    def next_case_sequence(self, year: int) -> int:
        session = self.session

        def increment() -> int | None:
            taken: int | None = session.execute(
                update(CaseCounter)
                .where(CaseCounter.year == year)
                .values(last=CaseCounter.last + 1)
                .returning(CaseCounter.last)
            ).scalar_one_or_none()
            return taken

        taken = increment()
        if taken is not None:
            return taken
        try:
            with session.begin_nested():
                session.execute(insert(CaseCounter).values(year=year, last=1))
            return 1
        except IntegrityError:
            again = increment()
            if again is None:  # the insert failed on the year's row, so there is one to count on
                raise
            return again

    def add_case(self, case: Case) -> None:
        self.session.add(case)

    def log(self, entry: CaseEvent) -> None:
        self.session.add(entry)

    def history(self, case_id: int, action: str | None = None) -> list[CaseEvent]:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id)
        if action is not None:
            stmt = stmt.where(CaseEvent.action == action)
        return list(self.session.scalars(stmt.order_by(CaseEvent.id)))

    def details_of(self, case_ids: list[int], unit: str | None = None) -> dict[int, dict[str, list]]:
        found: dict[int, dict[str, list]] = {
            i: {"meetings": [], "commitments": [], "follow_ups": [], "history": []} for i in case_ids
        }
        if not case_ids:
            return found
        commitments = select(CaseCommitment).where(CaseCommitment.case_id.in_(case_ids))
        if unit is not None:
            commitments = commitments.where(CaseCommitment.unit == unit)
        for key, model, query in (
            ("meetings", CaseMeeting, select(CaseMeeting).where(CaseMeeting.case_id.in_(case_ids))),
            ("commitments", CaseCommitment, commitments),
            ("follow_ups", CaseFollowUp, select(CaseFollowUp).where(CaseFollowUp.case_id.in_(case_ids))),
            ("history", CaseEvent, select(CaseEvent).where(CaseEvent.case_id.in_(case_ids))),
        ):
            for row in self.session.scalars(query.order_by(model.id)):
                found[row.case_id][key].append(row)
        return found

    def meetings(self, case_id: int) -> list[CaseMeeting]:
        return list(
            self.session.scalars(select(CaseMeeting).where(CaseMeeting.case_id == case_id).order_by(CaseMeeting.id))
        )

    def latest_meeting(self, case_id: int) -> CaseMeeting | None:
        return self.session.scalar(
            select(CaseMeeting).where(CaseMeeting.case_id == case_id).order_by(CaseMeeting.id.desc()).limit(1)
        )

    def meeting_held(self, case_id: int, held_on: date, summary: str) -> CaseMeeting | None:
        return self.session.scalar(
            select(CaseMeeting).where(
                CaseMeeting.case_id == case_id, CaseMeeting.held_on == held_on, CaseMeeting.summary == summary
            )
        )

    def add_meeting(self, meeting: CaseMeeting) -> None:
        self.session.add(meeting)

    def commitments(self, case_id: int, unit: str | None = None) -> list[CaseCommitment]:
        stmt = select(CaseCommitment).where(CaseCommitment.case_id == case_id)
        if unit is not None:
            stmt = stmt.where(CaseCommitment.unit == unit)
        return list(self.session.scalars(stmt.order_by(CaseCommitment.id)))

    def commitment(self, meeting_id: int, unit: str) -> CaseCommitment | None:
        return self.session.scalar(
            select(CaseCommitment).where(and_(CaseCommitment.meeting_id == meeting_id, CaseCommitment.unit == unit))
        )

    def add_commitment(self, commitment: CaseCommitment) -> None:
        self.session.add(commitment)

    def follow_ups(self, case_id: int) -> list[CaseFollowUp]:
        return list(
            self.session.scalars(select(CaseFollowUp).where(CaseFollowUp.case_id == case_id).order_by(CaseFollowUp.id))
        )

    def add_follow_up(self, follow_up: CaseFollowUp) -> None:
        self.session.add(follow_up)

    def venue(self, code: str) -> Venue | None:
        return self.session.get(Venue, code)

    def venues(self, kind: str | None = None) -> list[Venue]:
        stmt = select(Venue).order_by(Venue.kind, Venue.code)
        if kind:
            stmt = stmt.where(Venue.kind == kind)
        return list(self.session.scalars(stmt))

    def add_venue(self, venue: Venue, covers: list[str]) -> None:
        self.session.add(venue)
        self.session.flush()
        self.session.add_all(VenueCoverage(venue=venue.code, town=t) for t in dict.fromkeys(covers))

    def town(self, code: str) -> Town | None:
        return self.session.get(Town, code)

    def towns(self) -> list[Town]:
        return list(self.session.scalars(select(Town).order_by(Town.district, Town.code)))

    def add_town(self, town: Town) -> None:
        self.session.add(town)

    def covers(self, venue: str, town: str) -> bool:
        found = self.session.scalar(
            select(VenueCoverage).where(VenueCoverage.venue == venue, VenueCoverage.town == town)
        )
        return found is not None

    def coverage(self) -> dict[str, list[str]]:
        covers: dict[str, list[str]] = defaultdict(list)
        for row in self.session.scalars(select(VenueCoverage).order_by(VenueCoverage.venue, VenueCoverage.town)):
            covers[row.venue].append(row.town)
        return dict(covers)

    def venue_members(self, venue: str) -> list[str]:
        return list(
            self.session.scalars(
                select(VenueMember.member).where(VenueMember.venue == venue).order_by(VenueMember.member)
            )
        )

    def members_by_venue(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = defaultdict(list)
        for row in self.session.scalars(select(VenueMember).order_by(VenueMember.venue, VenueMember.member)):
            members[row.venue].append(row.member)
        return dict(members)

    def add_venue_member(self, venue: str, member: str) -> None:
        self.session.add(VenueMember(venue=venue, member=member))

    def cases_by_town(self) -> dict[str, int]:
        return {town: n for town, n in self.session.execute(select(Case.town, func.count()).group_by(Case.town))}

    def cases_by_venue(self) -> dict[str, int]:
        return {venue: n for venue, n in self.session.execute(select(Case.venue, func.count()).group_by(Case.venue))}
