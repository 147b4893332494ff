"""办理沟通: a unit records its contact with the proposer on its assignment, and whether it met the
proposer face to face — the fact the handling checklist's face-to-face item scores (见面沟通率).

The kinds of contact, and which of them count as meeting face to face, are the proposal rulebook's
``contact_kinds``. A contact is kept as recorded; what counts for a reply is whether a face-to-face
one was recorded on the assignment before the reply was submitted (``met_face_to_face``).
"""

from __future__ import annotations

from shared import clock
from shared.calendar import local_date
from shared.errors import InvalidInput
from shared.validation import load

from .contracts import COMMAND_SCHEMAS
from .models import Assignment, Contact
from .records import iso, not_closed, own_assignment, principal_of, record
from .unit_of_work import AssignmentUnitOfWork
from .rules import AssignmentRules


def describe_contact(item: Contact) -> dict:
    return {
        "id": item.id,
        "assignment_id": item.assignment_id,
        "round": item.round,
        "kind": item.kind,
        "face_to_face": item.face_to_face,
        "held_on": iso(item.held_on),
        "participants": item.participants,
        "note": item.note,
        "recorded_at": iso(item.recorded_at),
        "recorded_by": item.recorded_by,
    }


def record_contact(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """The unit records a contact with the proposer: a kind of the rulebook's, on a day between the
    assignment and today (China time), who met whom and a note. InvalidInput names the field;
    a cancelled assignment, or one whose objection waits for staff, is a Conflict, as for every
    other command; another unit's is Forbidden. Nothing is kept on a refusal."""
    principal = principal_of(principal)
    data = load(COMMAND_SCHEMAS["record_contact"], params, "command record_contact")
    row = own_assignment(uow, data["assignment_id"], principal)
    not_closed(uow, row)
    kinds = {kind.code: kind for kind in rules.contact_kinds()}
    if data["kind"] not in kinds:
        raise InvalidInput(
            f"contact kind {data['kind']!r} is not in the rulebook",
            {"kind": [f"must be one of: {', '.join(kinds)}"]},
        )
    today, assigned_on = local_date(clock.now()), local_date(row.created_at)
    if data["held_on"] > today:
        raise InvalidInput("a contact is recorded once it took place", {"held_on": [f"must not be after {today}"]})
    if data["held_on"] < assigned_on:
        raise InvalidInput(
            f"assignment {row.id} was made on {assigned_on}; a contact before it is not part of its handling",
            {"held_on": [f"must not be before {assigned_on}"]},
        )
    item = Contact(
        assignment_id=row.id,
        round=row.round,
        kind=data["kind"],
        face_to_face=kinds[data["kind"]].face_to_face,
        held_on=data["held_on"],
        participants=data["participants"],
        note=data["note"],
        recorded_at=clock.now(),
        recorded_by=principal["user"],
    )
    uow.assignments.add_contact(item)
    uow.flush()
    shown = describe_contact(item)
    record(uow, row, principal["user"], "contact_recorded", shown)
    return shown


def contacts_of(uow: AssignmentUnitOfWork, assignment_id: int) -> list[dict]:
    return [describe_contact(item) for item in uow.assignments.contacts(assignment_id)]


def met_face_to_face(uow: AssignmentUnitOfWork, row: Assignment) -> bool:
    """Whether a face-to-face contact was recorded on the assignment so far (in any round)."""
    return uow.assignments.met_face_to_face(row.id)
