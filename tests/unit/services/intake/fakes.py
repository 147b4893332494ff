"""In-memory fakes of intake's ports (``services/intake/repository.py``), for the unit tier.

:class:`FakeIntakeUnitOfWork` runs intake's domain functions with no database: its repositories keep
the model objects in lists (an id given as each is added, the columns' Python defaults filled in) and
answer the repository's questions by looking through them; what is sent is kept in ``sent`` and
checked against the contracts (``tests/unit/shared/fakes.py``), process starts too. Locks are recorded, not
held: there is one unit of work at a time here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import inspect

from shared.db import Counted, bounded
from services.intake.models import (
    Conversion,
    Notification,
    OpinionCheck,
    OpinionEvent,
    OpinionForward,
    OpinionInstruction,
    OpinionIssue,
    OpinionItem,
    OpinionReport,
    Proposal,
    ProposalEvent,
    Publication,
    Submission,
)
from services.intake.similarity import bigrams
from services.intake.repository import NOT_COMPARED, OpinionRepository, ProposalRepository
from services.intake.unit_of_work import IntakeUnitOfWork

from tests.unit.shared.fakes import FakeUnitOfWork


class _Rows:
    """Rows of each model class, in the order added, each with an id and its Python-side defaults."""

    def __init__(self) -> None:
        self.rows: dict[type, list[Any]] = {}
        self.ids: dict[type, itertools.count[int]] = {}
        self.counters: dict[tuple[object, ...], int] = {}

    def keep(self, row: Any) -> Any:
        kind = type(row)
        if getattr(row, "id", None) is None:
            row.id = next(self.ids.setdefault(kind, itertools.count(1)))
        for column in inspect(kind).columns:
            default = column.default
            if getattr(row, column.key, None) is None and default is not None and default.is_scalar:
                setattr(row, column.key, default.arg)
        self.rows.setdefault(kind, []).append(row)
        return row

    def of(self, kind: type) -> list[Any]:
        return list(self.rows.get(kind, []))

    def next_number(self, *key: object) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


def _by_number(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: (row.year, row.sequence))


class FakeProposalRepository(ProposalRepository):
    def __init__(self, rows: _Rows) -> None:
        self._rows = rows
        self.locked: list[str] = []

    def add(self, proposal: Proposal) -> None:
        self._rows.keep(proposal)
        for cosigner in proposal.cosigners:
            self._rows.keep(cosigner).proposal_id = proposal.id

    def add_event(self, event: ProposalEvent) -> None:
        self._rows.keep(event)

    def add_notifications(self, rows: list[Notification]) -> None:
        for row in rows:
            self._rows.keep(row)

    def add_conversion(self, row: Conversion) -> None:
        self._rows.keep(row)

    def add_publication(self, row: Publication) -> None:
        self._rows.keep(row)

    def add_submission(self, row: Submission) -> None:
        self._rows.keep(row)

    def next_sequence(self, year: int) -> int:
        return self._rows.next_number("proposal", year)

    def _lock(self, proposal: Proposal | None, lock: bool) -> Proposal | None:
        if proposal is not None and lock:
            self.locked.append(proposal.number)
        return proposal

    def get(self, proposal_id: int, lock: bool = False) -> Proposal | None:
        return self._lock(next((p for p in self._rows.of(Proposal) if p.id == proposal_id), None), lock)

    def by_number(self, number: str, lock: bool = False) -> Proposal | None:
        return self._lock(next((p for p in self._rows.of(Proposal) if p.number == number), None), lock)

    def by_reference(self, initiator: str, reference: str) -> Proposal | None:
        found = (p for p in self._rows.of(Proposal) if p.initiator == initiator and p.client_reference == reference)
        return next(found, None)

    def publication_of(self, proposal: Proposal) -> Publication | None:
        return next((row for row in self._rows.of(Publication) if row.proposal_id == proposal.id), None)

    def events_of(self, proposal: Proposal, action: str | None = None) -> list[ProposalEvent]:
        return [
            e
            for e in self._rows.of(ProposalEvent)
            if e.proposal_id == proposal.id and (action is None or e.action == action)
        ]

    def merged_into(self, number: str) -> list[Proposal]:
        return [p for p in self._rows.of(Proposal) if p.merged_into == number]

    def of_thread(self, thread: str) -> list[Proposal]:
        return [p for p in self._rows.of(Proposal) if p.thread == thread]

    def _proposes(self, proposal: Proposal, user: str | None) -> bool:
        return user is not None and (
            proposal.initiator == user or any(c.user == user and c.status != "dropped" for c in proposal.cosigners)
        )

    def of_proposer(self, user: str) -> list[Proposal]:
        return _by_number([p for p in self._rows.of(Proposal) if self._proposes(p, user)])

    def published_not_of(self, user: str | None) -> list[Publication]:
        shown = _by_number(
            [p for p in self._rows.of(Proposal) if p.status == "published" and not self._proposes(p, user)]
        )
        return [row for p in shown if (row := self.publication_of(p)) is not None]

    def every(self) -> list[Proposal]:
        return _by_number(self._rows.of(Proposal))

    def proposal_page(self, offset, limit, scope, user):
        keep = {
            "every": lambda p: True,
            "own": lambda p: self._proposes(p, user),
            "visible": lambda p: self._proposes(p, user) or p.status == "published",
        }[scope]
        found = _by_number([p for p in self._rows.of(Proposal) if keep(p)])[::-1]
        return bounded(len(found), offset, limit), found[offset : offset + limit]

    def titles(self) -> list[tuple[str, str]]:
        return [(p.number, p.title) for p in self.every()]

    def title_candidates(self, grams: list[str], least: int) -> list[int]:
        wanted = set(grams)
        return [p.id for p in self.every() if least <= len(wanted & bigrams(p.title))]

    def titles_by_id(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        wanted = set(ids)
        return {p.id: (p.number, p.title) for p in self.every() if p.id in wanted}

    def duplicate_candidates(
        self, proposal: Proposal, words: list[str], threshold: float
    ) -> Iterable[tuple[str, str, str, str | None]]:
        return [
            (p.number, p.title, p.suggestions, None)
            for p in self._rows.of(Proposal)
            if p.year == proposal.year and p.id != proposal.id and p.status not in NOT_COMPARED
        ]

    def filed_of_year(self, year: int) -> list[Proposal]:
        return _by_number(
            [p for p in self._rows.of(Proposal) if p.year == year and p.decision == "filed" and p.status != "cancelled"]
        )

    def of_year(self, year: int) -> list[Proposal]:
        return _by_number([p for p in self._rows.of(Proposal) if p.year == year and p.status != "dropped"])

    def area_decisions(self, year: int) -> dict[tuple[str | None, str | None], int]:
        return dict(Counter((p.area, p.decision) for p in self.of_year(year)))

    def year_counts(self, year: int) -> dict[str, Any]:
        proposals = self.of_year(year)
        ids = {p.id for p in proposals}
        return {
            "received": len(proposals),
            "merged": sum(1 for p in proposals if p.merged_into),
            "decisions": dict(Counter(p.decision for p in proposals)),
            "not_filed_reasons": dict(
                Counter(p.reason_code for p in proposals if p.decision == "not_filed" and p.reason_code)
            ),
            "conversions": dict(Counter(c.kind for c in self._rows.of(Conversion) if c.proposal_id in ids)),
            "areas": self.area_decisions(year),
            "answered": sum(1 for p in proposals if p.reply_category),
            "categories": dict(Counter(p.reply_category for p in proposals if p.reply_category)),
            "lead_units": dict(Counter(p.lead_unit for p in proposals if p.reply_category and p.lead_unit)),
            "cancelled": dict(Counter(p.decision for p in proposals if p.status == "cancelled")),
        }

    def year_page(self, year: int, published_only: bool, offset: int, limit: int) -> tuple[Counted, list[Proposal]]:
        published = {row.proposal_id for row in self._rows.of(Publication)}
        listed = [
            p for p in self.of_year(year) if not published_only or (p.status == "published" and p.id in published)
        ]
        return Counted(len(listed), True), listed[offset : offset + limit]

    def answers_of(self, proposal_ids: list[int]) -> list[tuple[int, dict | None]]:
        ids = set(proposal_ids)
        return [
            (e.proposal_id, e.data)
            for e in self._rows.of(ProposalEvent)
            if e.proposal_id in ids and e.action in ("published", "publication_declined")
        ]

    def publications_of(self, proposal_ids: list[int]) -> list[Publication]:
        wanted = set(proposal_ids)
        return [row for row in self._rows.of(Publication) if row.proposal_id in wanted]

    def published_page(
        self, year: int | None, offset: int, limit: int
    ) -> tuple[int, list[tuple[Publication, Proposal]]]:
        shown = _by_number(
            [
                p
                for p in self._rows.of(Proposal)
                if p.status == "published" and (year is None or p.year == year) and self.publication_of(p)
            ]
        )
        return len(shown), [(self.publication_of(p), p) for p in shown[offset : offset + limit]]  # type: ignore[misc]


class FakeOpinionRepository(OpinionRepository):
    def __init__(self, rows: _Rows) -> None:
        self._rows = rows
        self.locked: list[str] = []

    def add(self, item: OpinionItem) -> None:
        self._rows.keep(item)

    def add_event(self, event: OpinionEvent) -> None:
        self._rows.keep(event)

    def add_check(self, row: OpinionCheck) -> None:
        self._rows.keep(row)

    def add_issue(self, row: OpinionIssue) -> None:
        self._rows.keep(row)

    def add_report(self, row: OpinionReport) -> None:
        self._rows.keep(row)

    def add_instruction(self, row: OpinionInstruction) -> None:
        self._rows.keep(row)

    def add_forward(self, row: OpinionForward) -> None:
        self._rows.keep(row)

    def next_item_sequence(self, year: int) -> int:
        return self._rows.next_number("opinion", year)

    def next_issue_sequence(self, channel: str, year: int) -> int:
        return self._rows.next_number("issue", channel, year)

    def _find(self, lock: bool, test: Callable[[OpinionItem], bool]) -> OpinionItem | None:
        item = next((i for i in self._rows.of(OpinionItem) if test(i)), None)
        if item is not None and lock:
            self.locked.append(item.number)
        return item

    def get(self, item_id: int, lock: bool = False) -> OpinionItem | None:
        return self._find(lock, lambda i: i.id == item_id)

    def by_number(self, number: str, lock: bool = False) -> OpinionItem | None:
        return self._find(lock, lambda i: i.number == number)

    def by_reference(self, submitter: str, reference: str) -> OpinionItem | None:
        return self._find(False, lambda i: i.submitter == submitter and i.client_reference == reference)

    def from_case(self, thread: str, case_number: str) -> OpinionItem | None:
        return self._find(False, lambda i: i.thread == thread and i.origin_case == case_number)

    def converted_to(self, proposal_number: str) -> OpinionItem | None:
        return self._find(False, lambda i: i.converted_to == proposal_number)

    def events_of(self, item: OpinionItem) -> list[OpinionEvent]:
        return [e for e in self._rows.of(OpinionEvent) if e.item_id == item.id]

    def last_check_round(self, item: OpinionItem) -> int:
        return max((c.round for c in self._rows.of(OpinionCheck) if c.item_id == item.id), default=0)

    def _of(self, kind: type, item_ids: set[int]) -> list[Any]:
        return [row for row in self._rows.of(kind) if row.item_id in item_ids]

    def reports_of(self, item: OpinionItem) -> list[OpinionReport]:
        return self._of(OpinionReport, {item.id})

    def forwards_of(self, item: OpinionItem) -> list[OpinionForward]:
        return self._of(OpinionForward, {item.id})

    def details_of(self, items: list[OpinionItem]) -> dict[int, dict[str, list[Any]]]:
        ids = {item.id for item in items}
        found: dict[int, dict[str, list[Any]]] = {
            i: {"checks": [], "reports": [], "instructions": [], "forwards": []} for i in ids
        }
        checks = sorted(self._of(OpinionCheck, ids), key=lambda c: (c.round, c.id))
        for key, rows in (
            ("checks", checks),
            ("reports", self._of(OpinionReport, ids)),
            ("instructions", self._of(OpinionInstruction, ids)),
            ("forwards", self._of(OpinionForward, ids)),
        ):
            for row in rows:
                found[row.item_id][key].append(row)
        return found

    def of_thread(self, thread: str) -> list[OpinionItem]:
        return [i for i in self._rows.of(OpinionItem) if i.thread == thread]

    def item_page(
        self,
        offset: int,
        limit: int,
        status: str | None = None,
        awaiting_instruction: bool = False,
        forwarded_to: str | None = None,
        submitter: str | None = None,
        published: tuple[str, ...] = (),
        without_drafts: bool = False,
    ) -> tuple[Counted, list[OpinionItem]]:
        instructed = {(i.item_id, i.channel) for i in self._rows.of(OpinionInstruction)}
        waiting = {
            r.item_id
            for r in self._rows.of(OpinionReport)
            if r.adoption == "adopted" and (r.item_id, r.channel) not in instructed
        }
        forwarded = {f.item_id for f in self._rows.of(OpinionForward) if f.unit == forwarded_to}
        found = _by_number(
            [
                i
                for i in self._rows.of(OpinionItem)
                if (not status or i.status == status)
                and (not without_drafts or i.status != "saved")
                and (not awaiting_instruction or (i.id in waiting and i.status != "cancelled"))
                and (forwarded_to is None or i.id in forwarded)
                and (submitter is None or i.submitter == submitter or i.status in published)
            ]
        )[::-1]
        return bounded(len(found), offset, limit), found[offset : offset + limit]

    def editing_flags(self, numbers: list[str]) -> list[tuple[str, bool, datetime | None]]:
        return [(i.number, bool(i.urgent), i.submitted_at) for i in self._rows.of(OpinionItem) if i.number in numbers]

    def submitted_areas(self, year: int) -> list[tuple[int, str | None]]:
        return [(i.id, i.area) for i in self._rows.of(OpinionItem) if i.year == year and i.submitted_at is not None]

    def adopted_among(self, item_ids: list[int]) -> set[int]:
        return {r.item_id for r in self._of(OpinionReport, set(item_ids)) if r.adoption == "adopted"}

    def adopted_reports_of_year(self, year: int, publishable_only: bool) -> list[OpinionReport]:
        items = {i.id: i for i in self._rows.of(OpinionItem) if i.year == year}
        adopted = [
            r
            for r in self._of(OpinionReport, set(items))
            if r.adoption == "adopted" and (r.publishable or not publishable_only)
        ]
        return sorted(adopted, key=lambda r: (items[r.item_id].sequence, r.channel))

    def items(self, item_ids: list[int]) -> list[OpinionItem]:
        return [i for i in self._rows.of(OpinionItem) if i.id in set(item_ids)]

    def instructions_of(self, item_ids: list[int]) -> list[OpinionInstruction]:
        return self._of(OpinionInstruction, set(item_ids))


class FakeIntakeUnitOfWork(FakeUnitOfWork, IntakeUnitOfWork):
    """Intake's unit of work in memory: ``proposals``, ``opinions``, and what it sent in ``sent``
    (process starts as ``{"kind": "start", ...}``)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = _Rows()
        self.proposals = FakeProposalRepository(self.rows)
        self.opinions = FakeOpinionRepository(self.rows)

    def starts(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["kind"] == "start"]

    def messages(self, name: str | None = None) -> list[dict[str, Any]]:
        """The BPMN messages sent so far (of ``name``, if given), in order."""
        return [m for m in self.sent if m["kind"] == "message" and (name is None or m["name"] == name)]
