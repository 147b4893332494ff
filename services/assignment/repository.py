"""The assignment service's ports and their SQLAlchemy adapters.

:class:`AssignmentRepository` is what the domain code (:mod:`.operations`, :mod:`.commands`,
:mod:`.decisions`, :mod:`.contacts`, :mod:`.queries`, :mod:`.routing`, :mod:`.refusals`) reads and
writes, in the domain's words: a proposal's live assignments, an assignment's current reply, the
co-signatures of its revision, the open extension request, the audit log. Rows are the tables'
classes (:mod:`.models`): the domain changes their attributes and adds new ones through the
repository; it never builds a query nor touches a session.

:class:`AssignmentUnitOfWork` is one transaction of the service: its two repositories
(``assignments``, and ``cases`` for micro-consultation, :mod:`.consultation.repository`) and what
leaves the service: domain events, notifications and BPMN messages (``shared.unit_of_work``), an
event on a unit's own queue (:meth:`~AssignmentUnitOfWork.publish_to_unit`) and the start of a
process (:meth:`~AssignmentUnitOfWork.start_process`). :class:`SqlAssignmentUnitOfWork` is built by
the service over its worker's session; the entrypoint commits. The unit tier's fakes are in
``tests/unit/services/assignment/fakes.py``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from shared.contracts.fields import INT32_MAX
from shared.db import Counted, counted_page

from .models import (
    Assignment,
    AssignmentEvent,
    Contact,
    CoUnitInput,
    ExtensionRequest,
    Reply,
    ReplyCosignature,
    Unit,
)


class AssignmentRepository(abc.ABC):
    # -- the unit directory ----------------------------------------------------------------------
    @abc.abstractmethod
    def unit(self, code: str) -> Unit | None: ...

    @abc.abstractmethod
    def units(self, codes: Iterable[str]) -> list[Unit]:
        """The known ones of ``codes``."""

    @abc.abstractmethod
    def add_unit(self, unit: Unit) -> None: ...

    # -- assignments -----------------------------------------------------------------------------
    @abc.abstractmethod
    def assignment(self, assignment_id: int) -> Assignment | None: ...

    @abc.abstractmethod
    def assignments(self, number: str | None = None, unit: str | None = None) -> list[Assignment]:
        """Assignments (of proposal ``number``, of ``unit``), cancelled ones too, oldest first."""

    @abc.abstractmethod
    def assignment_page(
        self, offset: int, limit: int, unit: str | None = None, number: str | None = None, status: str | None = None
    ) -> tuple[Counted, list[Assignment]]:
        """``limit`` assignments from ``offset``, newest first (by id: a stable order), of ``unit``,
        proposal ``number`` and ``status`` where given; with how many there are in all."""

    @abc.abstractmethod
    def active_assignments(self, number: str, lock: bool = False) -> list[Assignment]:
        """The proposal's assignments not cancelled by a reassignment, oldest first. ``lock`` holds
        them for this unit of work and reads them afresh, so two units submitting at once cannot
        both miss that the other has replied."""

    @abc.abstractmethod
    def answering_units(self, numbers: Iterable[str], roles: Iterable[str]) -> list[tuple[str, str]]:
        """``(number, unit)`` of each assignment not cancelled of the proposals ``numbers`` whose
        role is one of ``roles``: the units that answered them in the end."""

    @abc.abstractmethod
    def add_assignment(self, row: Assignment) -> None: ...

    # -- the audit log ---------------------------------------------------------------------------
    @abc.abstractmethod
    def log(self, entry: AssignmentEvent) -> None:
        """Add an entry to the audit log (append-only)."""

    @abc.abstractmethod
    def history(self, assignment_id: int, action: str | None = None) -> list[AssignmentEvent]:
        """The assignment's log entries (of ``action``, if given), in order."""

    @abc.abstractmethod
    def proposal_history(self, number: str, action: str) -> list[AssignmentEvent]:
        """The entries of ``action`` on any assignment of proposal ``number``, in order."""

    # -- replies, co-signatures, co-units' input -------------------------------------------------
    @abc.abstractmethod
    def current_reply(self, row: Assignment) -> Reply | None:
        """The assignment's reply in its current round, if one was drafted."""

    @abc.abstractmethod
    def replies(self, assignment_id: int) -> list[Reply]:
        """The assignment's replies, every round, by round."""

    @abc.abstractmethod
    def submitted_replies(self, assignment_ids: Iterable[int]) -> list[Reply]:
        """The submitted replies of the assignments, by round."""

    @abc.abstractmethod
    def add_reply(self, reply: Reply) -> None: ...

    @abc.abstractmethod
    def cosignatures(self, reply: Reply) -> list[ReplyCosignature]:
        """The co-signatures of the reply's current revision (a redraft needs new ones)."""

    @abc.abstractmethod
    def cosignatures_of(self, replies: Iterable[Reply]) -> dict[int, list[ReplyCosignature]]:
        """:meth:`cosignatures` of each of ``replies`` at once, by reply id (every reply listed)."""

    @abc.abstractmethod
    def add_cosignature(self, signature: ReplyCosignature) -> None: ...

    @abc.abstractmethod
    def inputs(self, assignment_id: int) -> list[CoUnitInput]:
        """The co-unit inputs the assignment sent or received, in order."""

    @abc.abstractmethod
    def inputs_sent(self, assignment_ids: Iterable[int]) -> list[CoUnitInput]:
        """The inputs the assignments sent, by round."""

    @abc.abstractmethod
    def add_input(self, item: CoUnitInput) -> None: ...

    # -- extension requests and contacts ---------------------------------------------------------
    @abc.abstractmethod
    def extension_request(self, request_id: int) -> ExtensionRequest | None: ...

    @abc.abstractmethod
    def extension_requests(self, assignment_id: int) -> list[ExtensionRequest]:
        """The assignment's extension requests, in order."""

    @abc.abstractmethod
    def open_extension_request(self, number: str) -> ExtensionRequest | None:
        """The newest extension request of proposal ``number`` still waiting for staff's decision."""

    @abc.abstractmethod
    def add_extension_request(self, item: ExtensionRequest) -> None: ...

    @abc.abstractmethod
    def contacts(self, assignment_id: int) -> list[Contact]:
        """The assignment's contacts with the proposer, by the day held."""

    @abc.abstractmethod
    def met_face_to_face(self, assignment_id: int) -> bool:
        """Whether a face-to-face contact was recorded on the assignment (in any round)."""

    @abc.abstractmethod
    def add_contact(self, item: Contact) -> None: ...


class SqlAssignmentRepository(AssignmentRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def unit(self, code: str) -> Unit | None:
        return self.session.get(Unit, code)

    def units(self, codes: Iterable[str]) -> list[Unit]:
        wanted = list(codes)
        return list(self.session.scalars(select(Unit).where(Unit.code.in_(wanted)))) if wanted else []

    def add_unit(self, unit: Unit) -> None:
        self.session.add(unit)

    def assignment(self, assignment_id: int) -> Assignment | None:
        if not 1 <= assignment_id <= INT32_MAX:  # no row holds it: the database could not even bind it
            return None
        return self.session.get(Assignment, assignment_id)

    def assignments(self, number: str | None = None, unit: str | None = None) -> list[Assignment]:
        query = select(Assignment).order_by(Assignment.id)
        if number is not None:
            query = query.where(Assignment.number == number)
        if unit is not None:
            query = query.where(Assignment.unit == unit)
        return list(self.session.scalars(query))

    def assignment_page(
        self, offset: int, limit: int, unit: str | None = None, number: str | None = None, status: str | None = None
    ) -> tuple[Counted, list[Assignment]]:
        # A unit's page reads ix_assignments_unit_id backwards (unit, then id); the count reads the
        # same index's entries for that unit.
        where = [
            column == value
            for column, value in ((Assignment.unit, unit), (Assignment.number, number), (Assignment.status, status))
            if value is not None
        ]
        return counted_page(self.session, Assignment, where, (Assignment.id.desc(),), offset, limit)

    def active_assignments(self, number: str, lock: bool = False) -> list[Assignment]:
        # FOR UPDATE on PostgreSQL; SQLite lets one writer in at a time anyway.
        query = (
            select(Assignment)
            .where(Assignment.number == number, Assignment.status != "cancelled")
            .order_by(Assignment.id)
        )
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return list(self.session.scalars(query))

    def answering_units(self, numbers: Iterable[str], roles: Iterable[str]) -> list[tuple[str, str]]:
        wanted = list(numbers)
        if not wanted:
            return []
        query = select(Assignment.number, Assignment.unit).where(
            Assignment.number.in_(wanted), Assignment.status != "cancelled", Assignment.role.in_(list(roles))
        )
        return [(number, unit) for number, unit in self.session.execute(query)]

    def add_assignment(self, row: Assignment) -> None:
        self.session.add(row)

    def log(self, entry: AssignmentEvent) -> None:
        self.session.add(entry)

    def history(self, assignment_id: int, action: str | None = None) -> list[AssignmentEvent]:
        query = select(AssignmentEvent).where(AssignmentEvent.assignment_id == assignment_id)
        if action is not None:
            query = query.where(AssignmentEvent.action == action)
        return list(self.session.scalars(query.order_by(AssignmentEvent.id)))

    def proposal_history(self, number: str, action: str) -> list[AssignmentEvent]:
        query = select(AssignmentEvent).where(AssignmentEvent.number == number, AssignmentEvent.action == action)
        return list(self.session.scalars(query.order_by(AssignmentEvent.id)))

    def current_reply(self, row: Assignment) -> Reply | None:
        return self.session.scalar(select(Reply).where(Reply.assignment_id == row.id, Reply.round == row.round))

    def replies(self, assignment_id: int) -> list[Reply]:
        return list(
            self.session.scalars(select(Reply).where(Reply.assignment_id == assignment_id).order_by(Reply.round))
        )

    def submitted_replies(self, assignment_ids: Iterable[int]) -> list[Reply]:
        query = (
            select(Reply)
            .where(Reply.assignment_id.in_(list(assignment_ids) or [0]), Reply.status == "submitted")
            .order_by(Reply.round, Reply.id)
        )
        return list(self.session.scalars(query))

    def add_reply(self, reply: Reply) -> None:
        self.session.add(reply)

    def cosignatures(self, reply: Reply) -> list[ReplyCosignature]:
        return self.cosignatures_of([reply])[reply.id]

    def cosignatures_of(self, replies: Iterable[Reply]) -> dict[int, list[ReplyCosignature]]:
        wanted = {reply.id: reply.revision for reply in replies}
        found: dict[int, list[ReplyCosignature]] = {reply_id: [] for reply_id in wanted}
        if wanted:
            current = [
                (ReplyCosignature.reply_id == reply_id) & (ReplyCosignature.revision == revision)
                for reply_id, revision in wanted.items()
            ]
            for signature in self.session.scalars(select(ReplyCosignature).where(or_(*current))):
                found[signature.reply_id].append(signature)
        return found

    def add_cosignature(self, signature: ReplyCosignature) -> None:
        self.session.add(signature)

    def inputs(self, assignment_id: int) -> list[CoUnitInput]:
        query = (
            select(CoUnitInput)
            .where((CoUnitInput.assignment_id == assignment_id) | (CoUnitInput.lead_assignment_id == assignment_id))
            .order_by(CoUnitInput.id)
        )
        return list(self.session.scalars(query))

    def inputs_sent(self, assignment_ids: Iterable[int]) -> list[CoUnitInput]:
        query = (
            select(CoUnitInput)
            .where(CoUnitInput.assignment_id.in_(list(assignment_ids) or [0]))
            .order_by(CoUnitInput.round, CoUnitInput.id)
        )
        return list(self.session.scalars(query))

    def add_input(self, item: CoUnitInput) -> None:
        self.session.add(item)

    def extension_request(self, request_id: int) -> ExtensionRequest | None:
        return self.session.get(ExtensionRequest, request_id)

    def extension_requests(self, assignment_id: int) -> list[ExtensionRequest]:
        query = (
            select(ExtensionRequest)
            .where(ExtensionRequest.assignment_id == assignment_id)
            .order_by(ExtensionRequest.id)
        )
        return list(self.session.scalars(query))

    def open_extension_request(self, number: str) -> ExtensionRequest | None:
        query = (
            select(ExtensionRequest)
            .join(Assignment, ExtensionRequest.assignment_id == Assignment.id)
            .where(Assignment.number == number, ExtensionRequest.status == "requested")
            .order_by(ExtensionRequest.id.desc())
        )
        return self.session.scalars(query).first()

    def add_extension_request(self, item: ExtensionRequest) -> None:
        self.session.add(item)

    def contacts(self, assignment_id: int) -> list[Contact]:
        query = select(Contact).where(Contact.assignment_id == assignment_id).order_by(Contact.held_on, Contact.id)
        return list(self.session.scalars(query))

    def met_face_to_face(self, assignment_id: int) -> bool:
        found = exists().where(Contact.assignment_id == assignment_id, Contact.face_to_face.is_(True))
        return bool(self.session.scalar(select(found)))

    def add_contact(self, item: Contact) -> None:
        self.session.add(item)
