"""In-memory fakes of supervision's ports (``services/supervision/repository.py``,
``unit_of_work.py`` and ``rules.py``): the domain rules run on them with no database and no
rulebook or calendar file.

Rows are the service's model classes kept in lists; an id is given when a row is added (the real
adapter gives it at the flush, which the domain code always asks for before it reads an id). The
fakes keep the tables' uniqueness (one reminder per lead time and due date, one escalation per unit
and due date, one fact per event), so a rule that would break them fails here as it would there.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from services.supervision.models import (
    Deadline,
    DeadlineChange,
    Escalation,
    KeyProposal,
    KeyProposalList,
    Reminder,
    SupervisionLogEntry,
    UnitFact,
)
from services.supervision.repository import DeadlineRepository, KeyProposalRepository
from services.supervision.rules import MORNING, SupervisionRules
from services.supervision.unit_of_work import SupervisionUnitOfWork
from shared import rulebook
from shared.calendar import CHINA_TZ, local_date

from tests.unit.shared.fakes import FakeUnitOfWork


class DuplicateRow(Exception):
    """A row the real table's unique constraint would refuse."""


def _numbered(row: Any, ids: itertools.count) -> Any:
    if getattr(row, "id", None) is None:
        row.id = next(ids)
    return row


def _grouped(rows: Iterable[Any], ids: list[int]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.id):
        if row.deadline_id in ids:
            grouped[row.deadline_id].append(row)
    return grouped


class FakeDeadlineRepository(DeadlineRepository):
    def __init__(self) -> None:
        self.deadlines: list[Deadline] = []
        self.changes: list[DeadlineChange] = []
        self.reminders: list[Reminder] = []
        self.escalations: list[Escalation] = []
        self.facts: dict[str, UnitFact] = {}
        self._ids: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))

    def add(self, row: Deadline) -> None:
        self.deadlines.append(_numbered(row, self._ids["deadlines"]))

    def get(self, deadline_id: int) -> Deadline | None:
        return next((row for row in self.deadlines if row.id == deadline_id), None)

    def of_proposal(self, number: str) -> list[Deadline]:
        return sorted((row for row in self.deadlines if row.number == number), key=lambda row: row.id)

    def live_in_working_days(self) -> list[Deadline]:
        return [row for row in self.deadlines if row.closed_at is None and row.amount_unit == "working_days"]

    def overdue(
        self, rules: Iterable[str], before: date, offset: int = 0, limit: int | None = None, year: int | None = None
    ) -> list[Deadline]:
        wanted = set(rules)
        rows = [
            row
            for row in self.deadlines
            if row.closed_at is None
            and row.fulfilled_at is None
            and row.rule in wanted
            and row.due < before
            and (year is None or row.number.startswith(f"{year}-"))
        ]
        rows.sort(key=lambda row: (row.due, row.id))
        return rows[offset:] if limit is None else rows[offset : offset + limit]

    def overdue_per_unit(self, rules: Iterable[str], before: date) -> tuple[int, dict[str, int]]:
        rows = self.overdue(rules, before)
        per_unit: dict[str, int] = defaultdict(int)
        for row in rows:
            for unit in row.units or ():
                per_unit[unit] += 1
        return len(rows), dict(per_unit)

    def add_change(self, change: DeadlineChange) -> None:
        self.changes.append(_numbered(change, self._ids["changes"]))

    def changes_of(self, row: Deadline) -> list[DeadlineChange]:
        return [change for change in self.changes if change.deadline_id == row.id]

    def add_reminder(self, reminder: Reminder) -> None:
        key = (reminder.deadline_id, reminder.lead_amount, reminder.lead_unit, reminder.for_due)
        if any((r.deadline_id, r.lead_amount, r.lead_unit, r.for_due) == key for r in self.reminders):
            raise DuplicateRow(f"reminder {key} given twice")
        self.reminders.append(_numbered(reminder, self._ids["reminders"]))

    def reminders_for(self, row: Deadline) -> list[Reminder]:
        return [r for r in self.reminders if r.deadline_id == row.id and r.for_due == row.due]

    def add_escalation(self, escalation: Escalation) -> None:
        key = (escalation.deadline_id, escalation.unit, escalation.due)
        if escalation.deadline_id is not None and any((e.deadline_id, e.unit, e.due) == key for e in self.escalations):
            raise DuplicateRow(f"escalation {key} raised twice")
        self.escalations.append(_numbered(escalation, self._ids["escalations"]))

    def escalated(self, row: Deadline) -> bool:
        return any(e.deadline_id == row.id and e.due == row.due for e in self.escalations)

    def changes_by_deadline(self, ids: list[int]) -> dict[int, list[DeadlineChange]]:
        return _grouped(self.changes, ids)

    def reminders_by_deadline(self, ids: list[int]) -> dict[int, list[Reminder]]:
        return _grouped(self.reminders, ids)

    def escalations_by_deadline(self, ids: list[int]) -> dict[int, list[Escalation]]:
        return _grouped(self.escalations, ids)

    def add_fact(self, fact: UnitFact) -> None:
        if fact.event_id in self.facts:
            raise DuplicateRow(f"fact {fact.event_id} kept twice")
        self.facts[fact.event_id] = fact

    def fact(self, event_id: str) -> UnitFact | None:
        return self.facts.get(event_id)

    def pending_facts(self, number: str) -> list[UnitFact]:
        pending = [f for f in self.facts.values() if f.number == number and f.deadline_id is None]
        return sorted(pending, key=lambda fact: fact.at)


class FakeKeyProposalRepository(KeyProposalRepository):
    def __init__(self) -> None:
        self.key_proposals: dict[str, KeyProposal] = {}
        self.log: list[SupervisionLogEntry] = []
        self.lists: list[KeyProposalList] = []
        self._ids: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))

    def add(self, row: KeyProposal) -> None:
        if row.number in self.key_proposals:
            raise DuplicateRow(f"key proposal {row.number} registered twice")
        self.key_proposals[row.number] = row

    def get(self, number: str) -> KeyProposal | None:
        return self.key_proposals.get(number)

    def among(self, numbers: Iterable[str]) -> list[KeyProposal]:
        return [self.key_proposals[n] for n in sorted(set(numbers)) if n in self.key_proposals]

    def add_log_entry(self, entry: SupervisionLogEntry) -> None:
        self.log.append(_numbered(entry, self._ids["log"]))

    def log_of(self, number: str) -> list[SupervisionLogEntry]:
        return sorted((e for e in self.log if e.number == number), key=lambda e: (e.at, e.id))

    def add_list(self, row: KeyProposalList) -> None:
        self.lists.append(_numbered(row, self._ids["lists"]))

    def key_list(self, list_id: int) -> KeyProposalList | None:
        return next((row for row in self.lists if row.id == list_id), None)

    def lists_of(self, year: int) -> list[KeyProposalList]:
        return sorted((row for row in self.lists if row.year == year), key=lambda row: row.id, reverse=True)


class FakeSupervisionUnitOfWork(FakeUnitOfWork, SupervisionUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.deadlines: FakeDeadlineRepository = FakeDeadlineRepository()
        self.key_proposals: FakeKeyProposalRepository = FakeKeyProposalRepository()

    def rows(self, model: type, **where: Any) -> list[Any]:
        """The rows of ``model`` kept so far whose attributes equal ``where``, oldest first."""
        kept: dict[type, Iterable[Any]] = {
            Deadline: self.deadlines.deadlines,
            DeadlineChange: self.deadlines.changes,
            Reminder: self.deadlines.reminders,
            Escalation: self.deadlines.escalations,
            UnitFact: self.deadlines.facts.values(),
            KeyProposal: self.key_proposals.key_proposals.values(),
            SupervisionLogEntry: self.key_proposals.log,
            KeyProposalList: self.key_proposals.lists,
        }
        return [row for row in kept[model] if all(getattr(row, key) == value for key, value in where.items())]


class FakeRules(SupervisionRules):
    """A rulebook of calendar days (``days``: rule -> days) with one reminder lead time, on a
    calendar where every day is a working day."""

    IDENTITY = {"name": "fake", "version": "0", "hash": "sha256:fake"}

    def __init__(self, days: dict[str, int], remind_days_before: int = 2, share: tuple[float, float] = (0.05, 0.1)):
        self.days, self.lead, self.share = days, rulebook.Duration(remind_days_before, "days"), share

    def deadline(self, rule: str, start: datetime) -> rulebook.Deadline:
        day, amount = local_date(start), self.days[rule]
        book = self.IDENTITY
        return rulebook.Deadline(
            rule, book["name"], book["version"], book["hash"], day, amount, "days", day + timedelta(days=amount)
        )

    def recount(self, start: date, working_days: int) -> dict:
        end = start + timedelta(days=working_days)
        return {"end": end.isoformat(), "days": [], "skipped": [], "makeup_workdays": [], "provisional": False}

    def calendar_year(self, year: int) -> dict:
        return {"year": year, "status": "official", "sources": {}}

    def reminder_lead_times(self, rule: str | None = None) -> list[rulebook.Duration]:
        return [self.lead]

    def rulebook_identity(self) -> dict:
        return dict(self.IDENTITY)

    def key_proposal_share(self) -> tuple[float, float]:
        return self.share

    def before(self, due: date, lead: rulebook.Duration) -> datetime:
        return datetime.combine(due + timedelta(days=1 - lead.amount), time(0), CHINA_TZ)

    def next_working_morning(self, after: datetime) -> datetime:
        day = local_date(after)
        morning = datetime.combine(day, MORNING, CHINA_TZ)
        return morning if morning > after else morning + timedelta(days=1)
