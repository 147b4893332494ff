"""Evaluation's unit of work: its repositories (ratings, scores, and the points area's ledger) and
what it sends, in one transaction.

The domain functions take an :class:`EvaluationUnitOfWork`; the service builds a
:class:`SqlEvaluationUnitOfWork` over the worker's session, and the entrypoint commits it (see
``shared.unit_of_work``). The unit tier uses ``tests/unit/services/evaluation/fakes.py``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.unit_of_work import SqlUnitOfWork, UnitOfWork

from .models import Outbox
from .points.repository import PointsRepository, SqlPointsRepository
from .repository import RatingRepository, ScoreRepository, SqlRatingRepository, SqlScoreRepository


class EvaluationUnitOfWork(UnitOfWork):
    ratings: RatingRepository
    scores: ScoreRepository
    points: PointsRepository  # members' performance points (``points/``)


class SqlEvaluationUnitOfWork(SqlUnitOfWork, EvaluationUnitOfWork):
    def __init__(self, session: Session) -> None:
        super().__init__(session, Outbox)
        self.ratings = SqlRatingRepository(session)
        self.scores = SqlScoreRepository(session)
        self.points = SqlPointsRepository(session)
