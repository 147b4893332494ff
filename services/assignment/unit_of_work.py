"""The assignment service's unit of work: one transaction of its records and what it sends.

:class:`AssignmentUnitOfWork` is the port the domain functions take (``uow``): its repositories
``assignments`` (``repository.py``) and ``cases`` (``consultation/repository.py``), and what leaves
the service — events, notices, BPMN messages, process starts (``shared.unit_of_work``) and an event on
a unit's own queue. :class:`SqlAssignmentUnitOfWork` is its adapter over the worker's session and the
service's outbox, built by ``AssignmentService.uow``; the entrypoint commits.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from shared.messaging import outbox
from shared import contracts as shared_contracts
from shared.unit_of_work import SqlUnitOfWork, UnitOfWork

from .consultation.repository import CaseRepository, SqlCaseRepository
from .models import Outbox
from .repository import AssignmentRepository, SqlAssignmentRepository


class AssignmentUnitOfWork(UnitOfWork):
    """One transaction of the assignment service: its records and what it sends."""

    assignments: AssignmentRepository
    cases: CaseRepository

    @abc.abstractmethod
    def publish_to_unit(self, unit: str, event: str, payload: Mapping[str, Any]) -> None:
        """``event`` on the unit's own queue (exchange ``ztc.units``, routing key ``<unit>.<event>``),
        sent if the unit of work commits."""


class SqlAssignmentUnitOfWork(SqlUnitOfWork, AssignmentUnitOfWork):
    def __init__(self, session: Session) -> None:
        super().__init__(session, Outbox)
        self.assignments = SqlAssignmentRepository(session)
        self.cases = SqlCaseRepository(session)

    def publish_to_unit(self, unit: str, event: str, payload: Mapping[str, Any]) -> None:
        outbox.add(
            self.session,
            Outbox,
            shared_contracts.UNITS_EXCHANGE,
            f"{unit}.{event}",
            dict(payload),
            headers={shared_contracts.UNIT_EVENT_HEADER: event},
        )
