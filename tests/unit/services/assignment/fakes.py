"""In-memory fakes of the assignment service's ports (``services/assignment/repository.py``,
``services/assignment/consultation/repository.py``), for the unit tier: no database.

Each fake subclasses the abstract repository the domain code is written against, keeps rows (the
tables' own classes) in lists, gives each its id when it is added, and answers in the order the SQL
adapter does. :class:`FakeAssignmentUnitOfWork` keeps what is sent in ``sent`` (checked against the
contracts, as :class:`tests.unit.shared.fakes.FakeUnitOfWork`), events on units' queues included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from services.assignment.consultation.models import (
    Case,
    CaseCommitment,
    CaseEvent,
    CaseFollowUp,
    CaseMeeting,
    Town,
    Venue,
    VenueCoverage,
    VenueMember,
)
from services.assignment.consultation.repository import CaseRepository
from services.assignment.models import (
    Assignment,
    AssignmentEvent,
    Contact,
    CoUnitInput,
    ExtensionRequest,
    Reply,
    ReplyCosignature,
    Unit,
)
from services.assignment.repository import AssignmentRepository
from services.assignment.unit_of_work import AssignmentUnitOfWork
from shared import contracts
from shared.db import Counted, bounded
from tests.unit.shared.fakes import FakeUnitOfWork


class _Rows:
    """Rows of each table, in the order added, each with its id (a serial per table)."""

    def __init__(self) -> None:
        self.tables: dict[type, list[Any]] = defaultdict(list)

    def add(self, row: Any) -> None:
        table = self.tables[type(row)]
        if hasattr(row, "id") and getattr(row, "id", None) is None:
            row.id = len(table) + 1
        table.append(row)

    def of(self, model: type) -> list[Any]:
        return list(self.tables[model])


class FakeAssignmentRepository(AssignmentRepository):
    def __init__(self) -> None:
        self.rows = _Rows()

    def unit(self, code: str) -> Unit | None:
        return next((u for u in self.rows.of(Unit) if u.code == code), None)

    def units(self, codes: Iterable[str]) -> list[Unit]:
        wanted = set(codes)
        return [u for u in self.rows.of(Unit) if u.code in wanted]

    def add_unit(self, unit: Unit) -> None:
        self.rows.add(unit)

    def assignment(self, assignment_id: int) -> Assignment | None:
        return next((a for a in self.rows.of(Assignment) if a.id == assignment_id), None)

    def assignments(self, number: str | None = None, unit: str | None = None) -> list[Assignment]:
        return [
            a
            for a in self.rows.of(Assignment)
            if (number is None or a.number == number) and (unit is None or a.unit == unit)
        ]

    def assignment_page(self, offset, limit, unit=None, number=None, status=None):
        found = [a for a in self.assignments(number=number, unit=unit) if status is None or a.status == status]
        found.sort(key=lambda a: a.id, reverse=True)
        return bounded(len(found), offset, limit), found[offset : offset + limit]

    def active_assignments(self, number: str, lock: bool = False) -> list[Assignment]:
        return [a for a in self.assignments(number=number) if a.status != "cancelled"]

    def answering_units(self, numbers: Iterable[str], roles: Iterable[str]) -> list[tuple[str, str]]:
        wanted, answering = set(numbers), set(roles)
        return [
            (a.number, a.unit)
            for a in self.rows.of(Assignment)
            if a.number in wanted and a.status != "cancelled" and a.role in answering
        ]

    def add_assignment(self, row: Assignment) -> None:
        self.rows.add(row)

    def log(self, entry: AssignmentEvent) -> None:
        self.rows.add(entry)

    def history(self, assignment_id: int, action: str | None = None) -> list[AssignmentEvent]:
        return [
            e
            for e in self.rows.of(AssignmentEvent)
            if e.assignment_id == assignment_id and (action is None or e.action == action)
        ]

    def proposal_history(self, number: str, action: str) -> list[AssignmentEvent]:
        return [e for e in self.rows.of(AssignmentEvent) if e.number == number and e.action == action]

    def current_reply(self, row: Assignment) -> Reply | None:
        return next((r for r in self.rows.of(Reply) if r.assignment_id == row.id and r.round == row.round), None)

    def replies(self, assignment_id: int) -> list[Reply]:
        return sorted((r for r in self.rows.of(Reply) if r.assignment_id == assignment_id), key=lambda r: r.round)

    def submitted_replies(self, assignment_ids: Iterable[int]) -> list[Reply]:
        wanted = set(assignment_ids)
        found = [r for r in self.rows.of(Reply) if r.assignment_id in wanted and r.status == "submitted"]
        return sorted(found, key=lambda r: (r.round, r.id))

    def add_reply(self, reply: Reply) -> None:
        self.rows.add(reply)

    def cosignatures(self, reply: Reply) -> list[ReplyCosignature]:
        return [s for s in self.rows.of(ReplyCosignature) if s.reply_id == reply.id and s.revision == reply.revision]

    def cosignatures_of(self, replies: Iterable[Reply]) -> dict[int, list[ReplyCosignature]]:
        return {reply.id: self.cosignatures(reply) for reply in replies}

    def add_cosignature(self, signature: ReplyCosignature) -> None:
        self.rows.add(signature)

    def inputs(self, assignment_id: int) -> list[CoUnitInput]:
        return [i for i in self.rows.of(CoUnitInput) if assignment_id in (i.assignment_id, i.lead_assignment_id)]

    def inputs_sent(self, assignment_ids: Iterable[int]) -> list[CoUnitInput]:
        wanted = set(assignment_ids)
        return sorted(
            (i for i in self.rows.of(CoUnitInput) if i.assignment_id in wanted), key=lambda i: (i.round, i.id)
        )

    def add_input(self, item: CoUnitInput) -> None:
        self.rows.add(item)

    def extension_request(self, request_id: int) -> ExtensionRequest | None:
        return next((e for e in self.rows.of(ExtensionRequest) if e.id == request_id), None)

    def extension_requests(self, assignment_id: int) -> list[ExtensionRequest]:
        return [e for e in self.rows.of(ExtensionRequest) if e.assignment_id == assignment_id]

    def open_extension_request(self, number: str) -> ExtensionRequest | None:
        ids = {a.id for a in self.assignments(number=number)}
        found = [e for e in self.rows.of(ExtensionRequest) if e.assignment_id in ids and e.status == "requested"]
        return found[-1] if found else None

    def add_extension_request(self, item: ExtensionRequest) -> None:
        self.rows.add(item)

    def contacts(self, assignment_id: int) -> list[Contact]:
        return sorted(
            (c for c in self.rows.of(Contact) if c.assignment_id == assignment_id), key=lambda c: (c.held_on, c.id)
        )

    def met_face_to_face(self, assignment_id: int) -> bool:
        return any(c.face_to_face for c in self.contacts(assignment_id))

    def add_contact(self, item: Contact) -> None:
        self.rows.add(item)


class FakeCaseRepository(CaseRepository):
    def __init__(self) -> None:
        self.rows = _Rows()
        self.counters: dict[int, int] = {}

    def _case(self, test: Callable[[Case], bool]) -> Case | None:
        return next((c for c in self.rows.of(Case) if test(c)), None)

    def case(self, case_id: int, lock: bool = False) -> Case | None:
        return self._case(lambda c: c.id == case_id)

    def case_numbered(self, number: str, lock: bool = False) -> Case | None:
        return self._case(lambda c: c.number == number)

    def case_on_thread(self, thread: str) -> Case | None:
        return self._case(lambda c: c.thread == thread)

    def case_by_public_reference(self, reference: str) -> Case | None:
        return self._case(lambda c: c.public_reference == reference)

    def registered_with_key(self, registered_by: str, key: str) -> Case | None:
        return self._case(lambda c: c.registered_by == registered_by and c.client_reference == key)

    def case_page(
        self,
        offset: int,
        limit: int,
        *,
        seen_by_member: str | None = None,
        committed_by_unit: str | None = None,
        status: str | None = None,
        venue: str | None = None,
    ) -> tuple[Counted, list[Case]]:
        found = sorted(self.rows.of(Case), key=lambda c: (c.year, c.sequence), reverse=True)
        if seen_by_member is not None:
            serves = {m.venue for m in self.rows.of(VenueMember) if m.member == seen_by_member}
            found = [c for c in found if seen_by_member in (c.member, c.registered_by) or c.venue in serves]
        if committed_by_unit is not None:
            asked = {c.case_id for c in self.rows.of(CaseCommitment) if c.unit == committed_by_unit}
            found = [c for c in found if c.id in asked]
        found = [c for c in found if (not status or c.status == status) and (not venue or c.venue == venue)]
        return bounded(len(found), offset, limit), found[offset : offset + limit]

    def next_case_sequence(self, year: int) -> int:
        self.counters[year] = self.counters.get(year, 0) + 1
        return self.counters[year]

    def add_case(self, case: Case) -> None:
        self.rows.add(case)

    def log(self, entry: CaseEvent) -> None:
        self.rows.add(entry)

    def history(self, case_id: int, action: str | None = None) -> list[CaseEvent]:
        return [e for e in self.rows.of(CaseEvent) if e.case_id == case_id and (action is None or e.action == action)]

    def details_of(self, case_ids: list[int], unit: str | None = None) -> dict[int, dict[str, list]]:
        return {
            i: {
                "meetings": self.meetings(i),
                "commitments": self.commitments(i, unit),
                "follow_ups": self.follow_ups(i),
                "history": self.history(i),
            }
            for i in case_ids
        }

    def meetings(self, case_id: int) -> list[CaseMeeting]:
        return [m for m in self.rows.of(CaseMeeting) if m.case_id == case_id]

    def latest_meeting(self, case_id: int) -> CaseMeeting | None:
        held = self.meetings(case_id)
        return held[-1] if held else None

    def meeting_held(self, case_id: int, held_on: date, summary: str) -> CaseMeeting | None:
        return next((m for m in self.meetings(case_id) if m.held_on == held_on and m.summary == summary), None)

    def add_meeting(self, meeting: CaseMeeting) -> None:
        self.rows.add(meeting)

    def commitments(self, case_id: int, unit: str | None = None) -> list[CaseCommitment]:
        return [c for c in self.rows.of(CaseCommitment) if c.case_id == case_id and (unit is None or c.unit == unit)]

    def commitment(self, meeting_id: int, unit: str) -> CaseCommitment | None:
        return next((c for c in self.rows.of(CaseCommitment) if c.meeting_id == meeting_id and c.unit == unit), None)

    def add_commitment(self, commitment: CaseCommitment) -> None:
        self.rows.add(commitment)

    def follow_ups(self, case_id: int) -> list[CaseFollowUp]:
        return [f for f in self.rows.of(CaseFollowUp) if f.case_id == case_id]

    def add_follow_up(self, follow_up: CaseFollowUp) -> None:
        self.rows.add(follow_up)

    def venue(self, code: str) -> Venue | None:
        return next((v for v in self.rows.of(Venue) if v.code == code), None)

    def venues(self, kind: str | None = None) -> list[Venue]:
        found = [v for v in self.rows.of(Venue) if not kind or v.kind == kind]
        return sorted(found, key=lambda v: (v.kind, v.code))

    def add_venue(self, venue: Venue, covers: list[str]) -> None:
        self.rows.add(venue)
        for town in dict.fromkeys(covers):
            self.rows.add(VenueCoverage(venue=venue.code, town=town))

    def town(self, code: str) -> Town | None:
        return next((t for t in self.rows.of(Town) if t.code == code), None)

    def towns(self) -> list[Town]:
        return sorted(self.rows.of(Town), key=lambda t: (t.district, t.code))

    def add_town(self, town: Town) -> None:
        self.rows.add(town)

    def covers(self, venue: str, town: str) -> bool:
        return any(c.venue == venue and c.town == town for c in self.rows.of(VenueCoverage))

    def coverage(self) -> dict[str, list[str]]:
        covers: dict[str, list[str]] = defaultdict(list)
        for row in sorted(self.rows.of(VenueCoverage), key=lambda c: (c.venue, c.town)):
            covers[row.venue].append(row.town)
        return dict(covers)

    def venue_members(self, venue: str) -> list[str]:
        return sorted(m.member for m in self.rows.of(VenueMember) if m.venue == venue)

    def members_by_venue(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = defaultdict(list)
        for row in sorted(self.rows.of(VenueMember), key=lambda m: (m.venue, m.member)):
            members[row.venue].append(row.member)
        return dict(members)

    def add_venue_member(self, venue: str, member: str) -> None:
        self.rows.add(VenueMember(venue=venue, member=member))

    def cases_by_town(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for case in self.rows.of(Case):
            counts[case.town] += 1
        return dict(counts)

    def cases_by_venue(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for case in self.rows.of(Case):
            counts[case.venue] += 1
        return dict(counts)


class FakeAssignmentUnitOfWork(FakeUnitOfWork, AssignmentUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.assignments = FakeAssignmentRepository()
        self.cases = FakeCaseRepository()

    def publish_to_unit(self, unit: str, event: str, payload: Mapping[str, Any]) -> None:
        self.sent.append(
            {
                "kind": "unit",
                "exchange": contracts.UNITS_EXCHANGE,
                "routing_key": f"{unit}.{event}",
                "payload": dict(payload),
            }
        )

    def messages(self, name: str | None = None) -> list[dict[str, Any]]:
        """The BPMN messages sent so far (of ``name``, if given), in order."""
        return [m for m in self.sent if m["kind"] == "message" and (name is None or m["name"] == name)]

    def unit_events(self, unit: str) -> list[tuple[str, dict[str, Any]]]:
        """``(routing key, payload)`` of what went to ``unit``'s own queue, in order."""
        return [
            (m["routing_key"], m["payload"])
            for m in self.sent
            if m["kind"] == "unit" and m["routing_key"].startswith(f"{unit}.")
        ]
