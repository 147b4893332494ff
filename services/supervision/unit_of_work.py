"""Supervision's unit of work: its two repositories and what it sends, in one transaction.

The domain functions take a :class:`SupervisionUnitOfWork`; the service builds a
:class:`SqlSupervisionUnitOfWork` over the worker's session, and the entrypoint commits it (see
``shared.unit_of_work``). The unit tier uses ``tests/unit/services/supervision/fakes.py``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.unit_of_work import SqlUnitOfWork, UnitOfWork

from .models import Outbox
from .repository import DeadlineRepository, KeyProposalRepository, SqlDeadlineRepository, SqlKeyProposalRepository


class SupervisionUnitOfWork(UnitOfWork):
    deadlines: DeadlineRepository
    key_proposals: KeyProposalRepository


class SqlSupervisionUnitOfWork(SqlUnitOfWork, SupervisionUnitOfWork):
    def __init__(self, session: Session) -> None:
        super().__init__(session, Outbox)
        self.deadlines = SqlDeadlineRepository(session)
        self.key_proposals = SqlKeyProposalRepository(session)

    def lock(self, subject: str) -> None:
        super().lock(subject)
        self.deadlines.forget()  # what was read before waiting for the lock may be out of date
