"""Supervision's repositories: the reads and writes its domain code needs, in the domain's words.

:class:`DeadlineRepository` keeps the clocks of proposals (deadlines with their changes, reminders
and escalations) and the units' facts that fulfil them; :class:`KeyProposalRepository` keeps the key
proposals, their supervising leaders' logs and the lists put to the chair's meeting. Rows are the
model classes of :mod:`~services.supervision.models`; the domain changes them in place and the unit
of work keeps the change. The SQL adapters below are the only code of the service that builds
queries; the unit tier's fakes (``tests/unit/services/supervision/fakes.py``) subclass the same ports.

Rows added get their ``id`` by :meth:`~shared.unit_of_work.UnitOfWork.flush` at the latest.
"""

from __future__ import annotations

import abc
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from .models import (
    Deadline,
    DeadlineChange,
    Escalation,
    KeyProposal,
    KeyProposalList,
    Reminder,
    SupervisionLogEntry,
    UnitFact,
)


class DeadlineRepository(abc.ABC):
    """The deadlines of proposals and what happened to them."""

    @abc.abstractmethod
    def add(self, row: Deadline) -> None: ...

    @abc.abstractmethod
    def get(self, deadline_id: int) -> Deadline | None: ...

    @abc.abstractmethod
    def of_proposal(self, number: str) -> list[Deadline]:
        """Every deadline of proposal ``number``, oldest first (live ones and history)."""

    @abc.abstractmethod
    def live_in_working_days(self) -> list[Deadline]:
        """Every live deadline counted in working days, oldest first (what a calendar change may move)."""

    @abc.abstractmethod
    def overdue(
        self, rules: Iterable[str], before: date, offset: int = 0, limit: int | None = None, year: int | None = None
    ) -> list[Deadline]:
        """Live deadlines of ``rules`` due before ``before``, by due date then age (most overdue
        first): ``limit`` of them (all if None) after the first ``offset``; with ``year``, only
        those of that year's proposals (numbers ``YYYY-…``)."""

    @abc.abstractmethod
    def overdue_per_unit(self, rules: Iterable[str], before: date) -> tuple[int, dict[str, int]]:
        """How many deadlines :meth:`overdue` lists in all, and how many of them each unit owes
        (a deadline counts once for each unit in its ``units``)."""

    @abc.abstractmethod
    def add_change(self, change: DeadlineChange) -> None: ...

    @abc.abstractmethod
    def changes_of(self, row: Deadline) -> list[DeadlineChange]:
        """The deadline's pauses, resumes, extensions, restarts and recalculations, in order."""

    @abc.abstractmethod
    def add_reminder(self, reminder: Reminder) -> None: ...

    @abc.abstractmethod
    def reminders_for(self, row: Deadline) -> list[Reminder]:
        """The reminders given for the deadline's current due date."""

    @abc.abstractmethod
    def add_escalation(self, escalation: Escalation) -> None: ...

    @abc.abstractmethod
    def escalated(self, row: Deadline) -> bool:
        """Whether the deadline's current due date has been escalated."""

    @abc.abstractmethod
    def changes_by_deadline(self, ids: list[int]) -> dict[int, list[DeadlineChange]]: ...

    @abc.abstractmethod
    def reminders_by_deadline(self, ids: list[int]) -> dict[int, list[Reminder]]: ...

    @abc.abstractmethod
    def escalations_by_deadline(self, ids: list[int]) -> dict[int, list[Escalation]]: ...

    @abc.abstractmethod
    def add_fact(self, fact: UnitFact) -> None: ...

    @abc.abstractmethod
    def fact(self, event_id: str) -> UnitFact | None:
        """The unit's fact heard as event ``event_id``, if it was heard."""

    @abc.abstractmethod
    def pending_facts(self, number: str) -> list[UnitFact]:
        """Facts of proposal ``number`` heard before a deadline they fulfil was open, in the order units acted."""


class KeyProposalRepository(abc.ABC):
    """Key proposals, their supervising leaders' logs and the lists put to the chair's meeting."""

    @abc.abstractmethod
    def add(self, row: KeyProposal) -> None: ...

    @abc.abstractmethod
    def get(self, number: str) -> KeyProposal | None: ...

    @abc.abstractmethod
    def among(self, numbers: Iterable[str]) -> list[KeyProposal]:
        """The key proposals among ``numbers``, by number."""

    @abc.abstractmethod
    def add_log_entry(self, entry: SupervisionLogEntry) -> None: ...

    @abc.abstractmethod
    def log_of(self, number: str) -> list[SupervisionLogEntry]:
        """The supervising leader's log of ``number``, oldest first."""

    @abc.abstractmethod
    def add_list(self, row: KeyProposalList) -> None: ...

    @abc.abstractmethod
    def key_list(self, list_id: int) -> KeyProposalList | None: ...

    @abc.abstractmethod
    def lists_of(self, year: int) -> list[KeyProposalList]:
        """The lists put to the chair's meeting for ``year``, newest first."""


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.deadline_id].append(row)
    return grouped


def _overdue(rules: Iterable[str], before: date) -> tuple:
    # A reply submitted and awaiting staff's review (fulfilled, still open) is not work owed.
    return (
        Deadline.closed_at.is_(None),
        Deadline.fulfilled_at.is_(None),
        Deadline.rule.in_(list(rules)),
        Deadline.due < before,
    )


class SqlDeadlineRepository(DeadlineRepository):
    def __init__(self, session: Session) -> None:
        self.session = session
        # A proposal's deadlines as this unit of work read them: a job or a fact asks for them up
        # to ten times (live ones, the reply deadline, the co-units', the sign-for ones), and the
        # rows are the session's own, so later changes to them show. A deadline added through
        # ``add`` drops its proposal's list, and so does taking a lock (``forget``): what others
        # committed before it is read afresh.
        self._of_proposal: dict[str, list[Deadline]] = {}

    def forget(self) -> None:
        """Read every proposal's deadlines afresh on the next ask."""
        self._of_proposal.clear()

    def add(self, row: Deadline) -> None:
        self.session.add(row)
        self._of_proposal.pop(row.number, None)

    def get(self, deadline_id: int) -> Deadline | None:
        return self.session.get(Deadline, deadline_id)

    def of_proposal(self, number: str) -> list[Deadline]:
        rows = self._of_proposal.get(number)
        if rows is None:
            query = select(Deadline).where(Deadline.number == number).order_by(Deadline.id)
            rows = self._of_proposal[number] = list(self.session.scalars(query))
        return list(rows)

    def live_in_working_days(self) -> list[Deadline]:
        return list(
            self.session.scalars(
                select(Deadline)
                .where(Deadline.closed_at.is_(None), Deadline.amount_unit == "working_days")
                .order_by(Deadline.id)
            )
        )

    def overdue(
        self, rules: Iterable[str], before: date, offset: int = 0, limit: int | None = None, year: int | None = None
    ) -> list[Deadline]:
        query = select(Deadline).where(*_overdue(rules, before)).order_by(Deadline.due, Deadline.id)
        if year is not None:
            query = query.where(Deadline.number.like(f"{year}-%"))
        return list(self.session.scalars(query.offset(offset).limit(limit)))

    def overdue_per_unit(self, rules: Iterable[str], before: date) -> tuple[int, dict[str, int]]:
        # Grouped by the text of ``units``: as many groups as there are sets of units owing
        # together, whatever the number of deadlines.
        units = cast(Deadline.units, Text)
        groups = self.session.execute(select(units, func.count()).where(*_overdue(rules, before)).group_by(units))
        total, per_unit = 0, defaultdict(int)
        for listed, count in groups:
            total += count
            for unit in json.loads(listed) if listed else ():
                per_unit[unit] += count
        return total, dict(per_unit)

    def add_change(self, change: DeadlineChange) -> None:
        self.session.add(change)

    def changes_of(self, row: Deadline) -> list[DeadlineChange]:
        return list(
            self.session.scalars(
                select(DeadlineChange).where(DeadlineChange.deadline_id == row.id).order_by(DeadlineChange.id)
            )
        )

    def add_reminder(self, reminder: Reminder) -> None:
        self.session.add(reminder)

    def reminders_for(self, row: Deadline) -> list[Reminder]:
        return list(
            self.session.scalars(select(Reminder).where(Reminder.deadline_id == row.id, Reminder.for_due == row.due))
        )

    def add_escalation(self, escalation: Escalation) -> None:
        self.session.add(escalation)

    def escalated(self, row: Deadline) -> bool:
        query = select(Escalation.id).where(Escalation.deadline_id == row.id, Escalation.due == row.due)
        return self.session.scalars(query).first() is not None

    def _by_deadline(self, model: Any, ids: list[int]) -> dict[int, list[Any]]:
        if not ids:
            return _grouped(())
        return _grouped(self.session.scalars(select(model).where(model.deadline_id.in_(ids)).order_by(model.id)))

    def changes_by_deadline(self, ids: list[int]) -> dict[int, list[DeadlineChange]]:
        return self._by_deadline(DeadlineChange, ids)

    def reminders_by_deadline(self, ids: list[int]) -> dict[int, list[Reminder]]:
        return self._by_deadline(Reminder, ids)

    def escalations_by_deadline(self, ids: list[int]) -> dict[int, list[Escalation]]:
        return self._by_deadline(Escalation, ids)

    def add_fact(self, fact: UnitFact) -> None:
        self.session.add(fact)

    def fact(self, event_id: str) -> UnitFact | None:
        return self.session.get(UnitFact, event_id)

    def pending_facts(self, number: str) -> list[UnitFact]:
        query = select(UnitFact).where(UnitFact.number == number, UnitFact.deadline_id.is_(None)).order_by(UnitFact.at)
        return list(self.session.scalars(query))


class SqlKeyProposalRepository(KeyProposalRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: KeyProposal) -> None:
        self.session.add(row)

    def get(self, number: str) -> KeyProposal | None:
        return self.session.get(KeyProposal, number)

    def among(self, numbers: Iterable[str]) -> list[KeyProposal]:
        wanted = sorted(set(numbers))
        if not wanted:
            return []
        query = select(KeyProposal).where(KeyProposal.number.in_(wanted)).order_by(KeyProposal.number)
        return list(self.session.scalars(query))

    def add_log_entry(self, entry: SupervisionLogEntry) -> None:
        self.session.add(entry)

    def log_of(self, number: str) -> list[SupervisionLogEntry]:
        query = (
            select(SupervisionLogEntry)
            .where(SupervisionLogEntry.number == number)
            .order_by(SupervisionLogEntry.at, SupervisionLogEntry.id)
        )
        return list(self.session.scalars(query))

    def add_list(self, row: KeyProposalList) -> None:
        self.session.add(row)

    def key_list(self, list_id: int) -> KeyProposalList | None:
        return self.session.get(KeyProposalList, list_id)

    def lists_of(self, year: int) -> list[KeyProposalList]:
        query = select(KeyProposalList).where(KeyProposalList.year == year).order_by(KeyProposalList.id.desc())
        return list(self.session.scalars(query))
