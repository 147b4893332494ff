"""Intake's unit of work: one transaction of its records and what it sends.

:class:`IntakeUnitOfWork` is the port the domain functions take (``uow``): its repositories
``proposals`` and ``opinions`` (``repository.py``, their SQLAlchemy adapters in ``sql.py``) and what
leaves the service — events, notifications, BPMN messages, process starts (``shared.unit_of_work``).
:class:`SqlIntakeUnitOfWork` is its adapter over the worker's session and intake's outbox, built by
``IntakeService.uow``; the entrypoint commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.unit_of_work import SqlUnitOfWork, UnitOfWork

from .models import Outbox
from .repository import OpinionRepository, ProposalRepository
from .sql import SqlOpinionRepository, SqlProposalRepository


class IntakeUnitOfWork(UnitOfWork):
    """Intake's transaction: its repositories, and the process starts it asks of the engine."""

    proposals: ProposalRepository
    opinions: OpinionRepository


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    """Intake's unit of work over the worker's session and intake's outbox."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, Outbox)
        self.proposals = SqlProposalRepository(session)
        self.opinions = SqlOpinionRepository(session)
