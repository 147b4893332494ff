"""Evaluation's repositories: the reads and writes its domain code needs, in the domain's words.

:class:`RatingRepository` keeps the rating rounds with their ratings, the appeals of re-handled
replies and the merges (并案) heard from intake; :class:`ScoreRepository` keeps what the engine's
jobs record (outcomes, follow-ups, quality grades, the units' handling scores). Rows are the model
classes of :mod:`~services.evaluation.models`; the domain changes them in place and the unit of
work keeps the change. The SQL adapters below are the only code of the ratings and scores area that
builds queries; the unit tier's fakes (``tests/unit/services/evaluation/fakes.py``) subclass the same ports.

Rows added get their ``id`` by :meth:`~shared.unit_of_work.UnitOfWork.flush` at the latest.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Appeal, FollowUp, HandlingScore, MergedProposal, Outcome, QualityGrade, Rating, RatingRound


class Duplicate(Exception):
    """The row is kept already: another transaction committed the same one first (a unique key)."""


class RatingRepository(abc.ABC):
    """Rating rounds and their ratings, appeals, and the proposals merged into others."""

    @abc.abstractmethod
    def latest_round(self, number: str, lock: bool = False) -> RatingRound | None:
        """The newest rating round of ``number``; with ``lock``, after waiting for the other raters of
        it, as they left it."""

    @abc.abstractmethod
    def round_of(self, number: str, round_: int, lock: bool = False) -> RatingRound | None:
        """Round ``round_`` of ``number``; with ``lock``, as the transactions before left it."""

    @abc.abstractmethod
    def rounds_of(self, number: str) -> list[RatingRound]:
        """Every rating round of ``number``, the first first."""

    @abc.abstractmethod
    def final_rounds(self, numbers: Iterable[str], outcomes: Iterable[str]) -> list[RatingRound]:
        """The rounds of ``numbers`` closed with one of ``outcomes``, by round (the newest last)."""

    @abc.abstractmethod
    def add_round(self, row: RatingRound) -> None: ...

    @abc.abstractmethod
    def close_round(self, row: RatingRound, outcome: str, at: datetime) -> bool:
        """Close the round with ``outcome`` unless another transaction already did; True if this one
        closed it. Afterwards ``row`` shows the round as it was closed."""

    @abc.abstractmethod
    def add_rating(self, rating: Rating) -> None:
        """Keep the rating (``rating.rating_round`` set) at once; :class:`Duplicate` when the rater's
        rating of the round is kept already."""

    @abc.abstractmethod
    def ratings_in(self, row: RatingRound) -> list[Rating]:
        """The round's ratings as kept now (others' included), in the order they were given."""

    @abc.abstractmethod
    def appeal_of(self, number: str, round_: int, lock: bool = False) -> Appeal | None:
        """The appeal of round ``round_`` of ``number``; with ``lock``, held until the transaction ends."""

    @abc.abstractmethod
    def add_appeal(self, row: Appeal) -> None:
        """Keep the appeal at once; :class:`Duplicate` when the round's appeal is kept already."""

    @abc.abstractmethod
    def merged(self, number: str) -> MergedProposal | None:
        """The merge of ``number`` into another proposal, if it was merged."""

    @abc.abstractmethod
    def add_merged(self, row: MergedProposal) -> None: ...

    @abc.abstractmethod
    def merged_into(self, number: str) -> list[MergedProposal]:
        """The proposals merged into ``number``, in the order the merges were heard."""


class ScoreRepository(abc.ABC):
    """What the engine's evaluation jobs record: outcomes, follow-ups, quality grades, handling scores."""

    @abc.abstractmethod
    def add_outcome(self, row: Outcome) -> None: ...

    @abc.abstractmethod
    def add_followup(self, row: FollowUp) -> None: ...

    @abc.abstractmethod
    def quality_grade(self, number: str) -> QualityGrade | None: ...

    @abc.abstractmethod
    def add_quality_grade(self, row: QualityGrade) -> None: ...

    @abc.abstractmethod
    def handling_scores_of(self, number: str) -> list[HandlingScore]:
        """The scores of ``number``'s units, one per unit."""

    @abc.abstractmethod
    def handling_scores_in(self, year: int) -> list[HandlingScore]:
        """Every handling score of assessment year ``year``, by unit then number."""

    @abc.abstractmethod
    def add_handling_score(self, row: HandlingScore) -> None: ...

    @abc.abstractmethod
    def remove_handling_score(self, row: HandlingScore) -> None: ...


class SqlRatingRepository(RatingRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest_round(self, number: str, lock: bool = False) -> RatingRound | None:
        query = select(RatingRound).where(RatingRound.number == number).order_by(RatingRound.round.desc()).limit(1)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).first()

    def round_of(self, number: str, round_: int, lock: bool = False) -> RatingRound | None:
        query = select(RatingRound).where(RatingRound.number == number, RatingRound.round == round_)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).first()

    def rounds_of(self, number: str) -> list[RatingRound]:
        query = select(RatingRound).where(RatingRound.number == number).order_by(RatingRound.round)
        return list(self.session.scalars(query))

    def final_rounds(self, numbers: Iterable[str], outcomes: Iterable[str]) -> list[RatingRound]:
        query = (
            select(RatingRound)
            .where(RatingRound.number.in_(list(numbers)), RatingRound.outcome.in_(list(outcomes)))
            .order_by(RatingRound.round)
        )
        return list(self.session.scalars(query))

    def add_round(self, row: RatingRound) -> None:
        self.session.add(row)

    def close_round(self, row: RatingRound, outcome: str, at: datetime) -> bool:
        closed = self.session.execute(
            update(RatingRound)
            .where(RatingRound.id == row.id, RatingRound.closed_at.is_(None))
            .values(closed_at=at, outcome=outcome)
            .execution_options(synchronize_session="fetch")
        )
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            self.session.refresh(row)
            return False
        return True

    def add_rating(self, rating: Rating) -> None:
        self.session.add(rating)
        try:
            self.session.flush()
        except IntegrityError:
            raise Duplicate(f"{rating.rater} has rated round {rating.rating_round.round} already") from None

    def ratings_in(self, row: RatingRound) -> list[Rating]:
        self.session.refresh(row, ["ratings"])
        return list(row.ratings)

    def appeal_of(self, number: str, round_: int, lock: bool = False) -> Appeal | None:
        query = select(Appeal).where(Appeal.number == number, Appeal.round == round_)
        if lock:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def add_appeal(self, row: Appeal) -> None:
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError:
            raise Duplicate(f"round {row.round} of {row.number} has been appealed already") from None

    def merged(self, number: str) -> MergedProposal | None:
        return self.session.get(MergedProposal, number)

    def add_merged(self, row: MergedProposal) -> None:
        self.session.add(row)

    def merged_into(self, number: str) -> list[MergedProposal]:
        query = (
            select(MergedProposal)
            .where(MergedProposal.into == number)
            .order_by(MergedProposal.heard_at, MergedProposal.number)
        )
        return list(self.session.scalars(query))


class SqlScoreRepository(ScoreRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_outcome(self, row: Outcome) -> None:
        self.session.add(row)

    def add_followup(self, row: FollowUp) -> None:
        self.session.add(row)

    def quality_grade(self, number: str) -> QualityGrade | None:
        return self.session.scalars(select(QualityGrade).where(QualityGrade.number == number)).first()

    def add_quality_grade(self, row: QualityGrade) -> None:
        self.session.add(row)

    def handling_scores_of(self, number: str) -> list[HandlingScore]:
        return list(self.session.scalars(select(HandlingScore).where(HandlingScore.number == number)))

    def handling_scores_in(self, year: int) -> list[HandlingScore]:
        query = (
            select(HandlingScore).where(HandlingScore.year == year).order_by(HandlingScore.unit, HandlingScore.number)
        )
        return list(self.session.scalars(query))

    def add_handling_score(self, row: HandlingScore) -> None:
        self.session.add(row)

    def remove_handling_score(self, row: HandlingScore) -> None:
        self.session.delete(row)
