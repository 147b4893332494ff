"""In-memory fakes of evaluation's ports (``services/evaluation/repository.py``,
``unit_of_work.py`` and ``rules.py``): the rating, appeal and scoring rules run on them with no
database and no calendar.

Rows are the service's model classes kept in lists; an id is given when a row is added (the real
adapter gives it at the flush, which the domain code asks for before it reads an id). The fakes
keep the tables' uniqueness (one round per number and round, one rating per rater and round, one
appeal per round, one score per number and unit), so a rule that would break them fails here as
it would there.

``sql_ports(session)`` and ``sql_uow(session)`` are the real adapters over a test's own session,
for the tests that hold the rules to the SQL adapter on SQLite.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from services.evaluation.models import (
    Appeal,
    FollowUp,
    HandlingScore,
    MergedProposal,
    Outcome,
    QualityGrade,
    Rating,
    RatingRound,
)
from services.evaluation.points.models import Attendance, CorrectionRequest, HeardEvent, LedgerEntry, Member, Period
from services.evaluation.points.repository import CAPPED_KINDS, PointsRepository
from services.evaluation.points.rulebook import PointsRulebook, Rule
from services.evaluation.points.rules import PointsRules, RulebookPointsRules
from services.evaluation.repository import Duplicate, RatingRepository, ScoreRepository
from services.evaluation.rules import EvaluationRules, RulebookRules
from services.evaluation.unit_of_work import EvaluationUnitOfWork, SqlEvaluationUnitOfWork
from shared.rulebook import ChecklistItem, Label, ReplyCategory, Rulebook, load_rulebook

from tests.unit.shared.fakes import FakeUnitOfWork


def sql_uow(session) -> SqlEvaluationUnitOfWork:
    """The real unit of work over a test's session."""
    return SqlEvaluationUnitOfWork(session)


def sql_ports(session, rulebook: Rulebook | None = None) -> tuple[SqlEvaluationUnitOfWork, RulebookRules]:
    """The real unit of work over a test's session and the real rules (of ``rulebook``, if given)."""
    return SqlEvaluationUnitOfWork(session), RulebookRules(rulebook)


def sql_points_ports(session, folder: Path | None = None) -> tuple[SqlEvaluationUnitOfWork, RulebookPointsRules]:
    """The real unit of work over a test's session and the terms' points rulebooks (of ``folder``)."""
    return SqlEvaluationUnitOfWork(session), RulebookPointsRules(folder)


class _Ids:
    def __init__(self) -> None:
        self._ids: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))

    def numbered(self, kind: str, row: Any) -> Any:
        if getattr(row, "id", None) is None:
            row.id = next(self._ids[kind])
        return row


class FakeRatingRepository(RatingRepository):
    def __init__(self) -> None:
        self.rounds: list[RatingRound] = []
        self.ratings: list[Rating] = []
        self.appeals: list[Appeal] = []
        self.merges: dict[str, MergedProposal] = {}
        self._ids = _Ids()

    def latest_round(self, number: str, lock: bool = False) -> RatingRound | None:
        rounds = self.rounds_of(number)
        return rounds[-1] if rounds else None

    def round_of(self, number: str, round_: int, lock: bool = False) -> RatingRound | None:
        return next((r for r in self.rounds if r.number == number and r.round == round_), None)

    def rounds_of(self, number: str) -> list[RatingRound]:
        return sorted((r for r in self.rounds if r.number == number), key=lambda r: r.round)

    def final_rounds(self, numbers: Iterable[str], outcomes: Iterable[str]) -> list[RatingRound]:
        wanted, final = set(numbers), set(outcomes)
        return sorted((r for r in self.rounds if r.number in wanted and r.outcome in final), key=lambda r: r.round)

    def add_round(self, row: RatingRound) -> None:
        if self.round_of(row.number, row.round) is not None:
            raise Duplicate(f"round {row.round} of {row.number} opened twice")
        self.rounds.append(self._ids.numbered("rounds", row))

    def close_round(self, row: RatingRound, outcome: str, at: datetime) -> bool:
        if row.closed_at is not None:
            return False
        row.closed_at, row.outcome = at, outcome
        return True

    def add_rating(self, rating: Rating) -> None:
        if any(r.rating_round is rating.rating_round and r.rater == rating.rater for r in self.ratings):
            raise Duplicate(f"{rating.rater} rated round {rating.rating_round.round} twice")
        self.ratings.append(self._ids.numbered("ratings", rating))

    def ratings_in(self, row: RatingRound) -> list[Rating]:
        return [r for r in self.ratings if r.rating_round is row]

    def appeal_of(self, number: str, round_: int, lock: bool = False) -> Appeal | None:
        return next((a for a in self.appeals if a.number == number and a.round == round_), None)

    def add_appeal(self, row: Appeal) -> None:
        if self.appeal_of(row.number, row.round) is not None:
            raise Duplicate(f"round {row.round} of {row.number} appealed twice")
        self.appeals.append(self._ids.numbered("appeals", row))

    def merged(self, number: str) -> MergedProposal | None:
        return self.merges.get(number)

    def add_merged(self, row: MergedProposal) -> None:
        if row.number in self.merges:
            raise Duplicate(f"merge of {row.number} kept twice")
        self.merges[row.number] = row

    def merged_into(self, number: str) -> list[MergedProposal]:
        rows = [m for m in self.merges.values() if m.into == number]
        return sorted(rows, key=lambda m: (m.heard_at, m.number))


class FakeScoreRepository(ScoreRepository):
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.followups: list[FollowUp] = []
        self.grades: dict[str, QualityGrade] = {}
        self.scores: list[HandlingScore] = []
        self._ids = _Ids()

    def add_outcome(self, row: Outcome) -> None:
        self.outcomes.append(self._ids.numbered("outcomes", row))

    def add_followup(self, row: FollowUp) -> None:
        self.followups.append(self._ids.numbered("followups", row))

    def quality_grade(self, number: str) -> QualityGrade | None:
        return self.grades.get(number)

    def add_quality_grade(self, row: QualityGrade) -> None:
        if row.number in self.grades:
            raise Duplicate(f"{row.number} graded twice")
        self.grades[row.number] = self._ids.numbered("grades", row)

    def handling_scores_of(self, number: str) -> list[HandlingScore]:
        return [row for row in self.scores if row.number == number]

    def handling_scores_in(self, year: int) -> list[HandlingScore]:
        return sorted((row for row in self.scores if row.year == year), key=lambda row: (row.unit, row.number))

    def add_handling_score(self, row: HandlingScore) -> None:
        if any(s.number == row.number and s.unit == row.unit for s in self.scores):
            raise Duplicate(f"{row.unit} scored twice on {row.number}")
        self.scores.append(self._ids.numbered("scores", row))

    def remove_handling_score(self, row: HandlingScore) -> None:
        self.scores.remove(row)


class FakePointsRepository(PointsRepository):
    def __init__(self) -> None:
        self.directory: dict[str, Member] = {}
        self.heard_events: dict[str, HeardEvent] = {}
        self.entries: list[LedgerEntry] = []
        self.attendance: list[Attendance] = []
        self.published: dict[str, Period] = {}
        self.corrections: list[CorrectionRequest] = []
        self.locked: list[list[str]] = []
        self._ids = _Ids()

    def member(self, user: str) -> Member | None:
        return self.directory.get(user)

    def add_member(self, row: Member) -> None:
        if row.user in self.directory:
            raise Duplicate(f"member {row.user} added twice")
        self.directory[row.user] = row

    def has_members(self) -> bool:
        return bool(self.directory)

    def members(self, sector: str | None = None) -> list[Member]:
        rows = [m for m in self.directory.values() if sector is None or m.sector == sector]
        return sorted(rows, key=lambda m: (m.sector, m.user))

    def members_among(self, users: Iterable[str]) -> list[Member]:
        return [self.directory[u] for u in sorted(set(users)) if u in self.directory]

    def lock_members(self, users: list[str]) -> None:
        self.locked.append(list(users))

    def heard(self, event_id: str) -> HeardEvent | None:
        return self.heard_events.get(event_id)

    def add_heard(self, row: HeardEvent) -> None:
        if row.event_id in self.heard_events:
            raise Duplicate(f"event {row.event_id} heard twice")
        self.heard_events[row.event_id] = row

    def heard_among(self, event_ids: Iterable[str]) -> dict[str, HeardEvent]:
        return {e: self.heard_events[e] for e in set(event_ids) if e in self.heard_events}

    def entry(self, entry_id: int) -> LedgerEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def add_entry(self, row: LedgerEntry) -> None:
        self.entries.append(self._ids.numbered("entries", row))

    def earned_between(self, member: str, activity: str, starts: date, ends: date) -> int:
        return sum(
            e.points
            for e in self.entries
            if e.member == member
            and e.activity == activity
            and e.kind in CAPPED_KINDS
            and starts <= e.counts_on <= ends
        )

    def first_earned_for(self, member: str, activity: str, subject: str) -> LedgerEntry | None:
        return next(
            (
                e
                for e in self.entries
                if e.member == member and e.activity == activity and e.kind == "earned" and e.subject == subject
            ),
            None,
        )

    def holder(self, member: str, exclusive_key: str) -> LedgerEntry | None:
        held = [
            e
            for e in self.entries
            if e.member == member and e.exclusive_key == exclusive_key and e.superseded_by is None
        ]
        return held[-1] if held else None

    def entries_of(self, member: str, starts: date, ends: date) -> list[LedgerEntry]:
        rows = [e for e in self.entries if e.member == member and starts <= e.counts_on <= ends]
        return sorted(rows, key=lambda e: (e.counts_on, e.id))

    def _between(self, starts: date, ends: date) -> list[LedgerEntry]:
        return [e for e in self.entries if starts <= e.counts_on <= ends]

    def totals_by_member(self, starts: date, ends: date) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for e in self._between(starts, ends):
            totals[e.member] += e.points
        return dict(totals)

    def totals_by_activity(self, starts: date, ends: date) -> list[tuple[str | None, int, int]]:
        grouped: dict[str | None, list[int]] = defaultdict(list)
        for e in self._between(starts, ends):
            grouped[e.activity].append(e.points)
        ordered = sorted(grouped, key=lambda a: (a is not None, a or ""))  # corrections (None) first, as SQLite
        return [(a, len(grouped[a]), sum(grouped[a])) for a in ordered]

    def points_by_day(self, starts: date, ends: date) -> list[tuple[date, int]]:
        return [(e.counts_on, e.points) for e in self._between(starts, ends)]

    def attendance_recorded(self, organiser: str, key: str) -> Attendance | None:
        return next((a for a in self.attendance if a.organiser == organiser and a.client_reference == key), None)

    def attendance_of(self, kind, held_on, title) -> Attendance | None:
        return next((a for a in self.attendance if (a.kind, a.held_on, a.title) == (kind, held_on, title)), None)

    def add_attendance(self, row: Attendance) -> None:
        if row.client_reference is not None and self.attendance_recorded(row.organiser, row.client_reference):
            raise Duplicate(f"{row.organiser} recorded {row.client_reference} twice")
        self.attendance.append(self._ids.numbered("attendance", row))

    def attendance_records(self) -> list[Attendance]:
        return sorted(self.attendance, key=lambda a: (a.held_on, a.id))

    def period(self, key: str) -> Period | None:
        return self.published.get(key)

    def add_period(self, row: Period) -> None:
        if row.key in self.published:
            raise Duplicate(f"period {row.key} published twice")
        self.published[row.key] = row

    def periods(self) -> list[Period]:
        return sorted(self.published.values(), key=lambda p: (p.starts, p.key))

    def periods_covering(self, day: date) -> list[Period]:
        return [p for p in self.published.values() if p.starts <= day <= p.ends]

    def correction(self, correction_id: int) -> CorrectionRequest | None:
        return next((c for c in self.corrections if c.id == correction_id), None)

    def add_correction(self, row: CorrectionRequest) -> None:
        self.corrections.append(self._ids.numbered("corrections", row))

    def corrections_of(self, period: str, member: str | None = None) -> list[CorrectionRequest]:
        return [c for c in self.corrections if c.period == period and (member is None or c.member == member)]


class FakeEvaluationUnitOfWork(FakeUnitOfWork, EvaluationUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.ratings: FakeRatingRepository = FakeRatingRepository()
        self.scores: FakeScoreRepository = FakeScoreRepository()
        self.points: FakePointsRepository = FakePointsRepository()

    def messages(self, name: str | None = None) -> list[dict]:
        """The BPMN messages sent so far (of ``name``, if given), in order."""
        return [m for m in self.sent if m["kind"] == "message" and (name is None or m["name"] == name)]


class FakeRules(EvaluationRules):
    """The packaged proposal rulebook's levels, categories and checklists, with the rating and
    appeal windows counted in calendar days (``rating_days``, ``appeal_days``): no calendar file."""

    _packaged: Rulebook | None = None

    def __init__(self, rating_days: int = 10, appeal_days: int = 15, rulebook: Rulebook | None = None) -> None:
        if rulebook is None:
            if FakeRules._packaged is None:
                FakeRules._packaged = load_rulebook("proposal")
            rulebook = FakeRules._packaged
        self.book, self.rating_days, self.appeal_days = rulebook, rating_days, appeal_days
        self.name, self.version, self.content_hash = "fake", "0", "sha256:fake"

    def rating_window_ends(self, opened_at: datetime) -> datetime:
        return opened_at + timedelta(days=self.rating_days)

    def appeal_window_ends(self, closed_at: datetime) -> datetime:
        return closed_at + timedelta(days=self.appeal_days)

    def satisfaction_levels(self) -> list[Label]:
        return self.book.satisfaction_levels()

    def reply_categories(self) -> list[ReplyCategory]:
        return self.book.reply_categories()

    def handling_checklist(self) -> list[ChecklistItem]:
        return self.book.handling_checklist()

    def handling_checklist_total(self) -> int:
        return self.book.handling_checklist_total()

    def handling_checklist_rules(self) -> dict[str, Any]:
        return self.book.handling_checklist_rules()

    def co_unit_checklist(self) -> list[ChecklistItem]:
        return self.book.co_unit_checklist()

    def co_unit_checklist_total(self) -> int:
        return self.book.co_unit_checklist_total()

    def co_unit_checklist_rules(self) -> dict[str, Any]:
        return self.book.co_unit_checklist_rules()

    def unit_assessment(self) -> dict[str, Any]:
        return self.book.unit_assessment()

    def quality_grades(self) -> list[Label]:
        return self.book.quality_grades()

    def quality_standards(self) -> list[dict[str, Any]]:
        return self.book.quality_standards()

    def quality_checklist_total(self) -> int:
        return self.book.quality_checklist_total()

    def quality_grade_for(self, points: int) -> str:
        return self.book.quality_grade_for(points)


class FakePointsRules(PointsRules):
    """The terms' points rulebooks given, already read (no folder, nothing reread)."""

    def __init__(self, books: list[PointsRulebook]) -> None:
        self.books = sorted(books, key=lambda book: book.starts)

    def terms(self) -> list[PointsRulebook]:
        return list(self.books)


def _row(activity: str, event: str, points: int, unit: str = "event", **given: Any) -> Rule:
    return Rule(
        activity,
        activity,
        event,
        given.get("role"),
        given.get("when") or {},
        {},
        points,
        unit,
        given.get("cap"),
        given.get("group"),
    )


def points_book() -> PointsRulebook:
    """A term ``T`` (2026) of four rows: plenary attendance by the half day, an opinion capped at 8
    a year, and a case taken and a proposal filed that share one authorship per thread."""
    return PointsRulebook(
        term="T",
        name="test term",
        starts=date(2026, 1, 1),
        ends=date(2026, 12, 31),
        version="T.1",
        content_hash="sha256:test",
        path=Path("T.yaml"),
        caps_per="year",
        activity_kinds=["plenary"],
        correction_window_days=15,
        full_marks={"quarter": 25, "year": 100, "term": 500},
        grades=[{"code": "good", "zh": "好", "min": 50}, {"code": "low", "zh": "低", "min": 0}],
        rules=[
            _row("plenary_attendance", "attendance.recorded", 5, "half_day", role="present", when={"kind": "plenary"}),
            _row("opinion_submitted", "opinion.submitted", 5, cap=8),
            _row("case_taken", "consultation.case_taken", 3, group="authorship"),
            _row("proposal_lead", "proposal.filed", 15, role="lead", group="authorship"),
        ],
    )
