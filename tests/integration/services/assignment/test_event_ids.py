"""The ids a unit's system drops duplicates by do not repeat when the database does: an event log
made anew (a new installation on the same broker, a database restored from a backup) numbers its
rows from 1 again, and events named by the row id had the ids of events the unit had already seen."""

from __future__ import annotations

import re

from sqlalchemy import select

from services.assignment import operations
from services.assignment.models import AssignmentEvent, Outbox
from services.assignment.records import event_key
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from shared import contracts
from shared.db import dispose_all, migrate, session_factory, transaction

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
PARAMS = {"proposal_id": 1, "number": "2026-0001", "mode": "single", "units": ["transport"]}


def first_assignment_on_a_new_database(url: str) -> tuple[int, list[Outbox]]:
    """Assign the first proposal on a database made from the migrations; the first log entry's id
    and the messages the assignment sends."""
    migrate("assignment", url)
    with transaction(session_factory(url)) as s:
        uow = SqlAssignmentUnitOfWork(s)
        operations.ensure_units(uow, {"transport": "Transport Bureau"})
        operations.assign(uow, PARAMS, STAFF)
    with transaction(session_factory(url)) as s:
        entry = s.scalars(select(AssignmentEvent).order_by(AssignmentEvent.id)).first()
        return entry.id, list(s.scalars(select(Outbox).order_by(Outbox.id)))


def unit_event_id(rows: list[Outbox]) -> str:
    [row] = [r for r in rows if r.exchange == contracts.UNITS_EXCHANGE]
    return row.payload["event_id"]


def test_a_database_made_anew_names_its_events_with_ids_never_used_before(tmp_path):
    try:
        first_id, first = first_assignment_on_a_new_database(f"sqlite:///{tmp_path}/one.db")
        again_id, again = first_assignment_on_a_new_database(f"sqlite:///{tmp_path}/again.db")
    finally:
        dispose_all()
    assert first_id == again_id == 1  # the log's rows are numbered alike...
    assert unit_event_id(first) != unit_event_id(again)  # ...the unit's events are not
    assert re.fullmatch(r"assignment-event-[0-9a-f]{32}", unit_event_id(first))
    # Every message the one entry causes carries the same key (a message sent again keeps its name).
    key = unit_event_id(first).removeprefix("assignment-event-")
    named = [r.payload.get("event_id") or r.payload.get("message_id") for r in first]
    assert named and all(key in name for name in named), named


def test_an_entry_written_before_the_key_was_kept_names_its_messages_by_its_id():
    assert event_key(AssignmentEvent(id=41, uid=None)) == "41"
    assert event_key(AssignmentEvent(id=41, uid="ab" * 16)) == "ab" * 16
