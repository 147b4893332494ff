"""Attendance, recorded by the office that organised the activity (谁组织谁记录).

Recording writes the attendance row and publishes ``attendance.recorded`` in the same transaction;
the ledger books points when it hears that event, as it does for every other event — attendance
is never typed into the ledger directly.
"""

from __future__ import annotations

from marshmallow import Schema, validate, validates_schema, ValidationError

from shared.contracts import field_types as fields

from shared import clock
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.validation import load

from ..access import principal_of
from ..unit_of_work import EvaluationUnitOfWork
from . import spans
from .files import iso
from .models import Attendance
from .rules import PointsRules

EVENT = "attendance.recorded"
ROLES = {"present": "present", "excused": "absent_excused", "absent": "absent_unexcused"}


class _People(fields.List):
    def __init__(self, **kwargs):
        super().__init__(fields.String(validate=validate.Length(min=1, max=100)), load_default=list, **kwargs)


class AttendanceInput(Schema):
    kind = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z][a-z0-9_]*\Z"),
        metadata={"description": "the activity's kind, one of the term rulebook's activity kinds"},
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    held_on = fields.Date(required=True)
    half_days = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=20))
    present = _People(metadata={"description": "members who attended"})
    excused = _People(metadata={"description": "members absent with leave (请假)"})
    absent = _People(metadata={"description": "members absent without leave (无故缺席)"})

    @validates_schema
    def _each_once(self, data, **kwargs):
        people = [u for key in ROLES for u in data.get(key, [])]
        if not people:
            raise ValidationError("name at least one member", field_name="present")
        twice = sorted({u for u in people if people.count(u) > 1})
        if twice:
            raise ValidationError(f"listed more than once: {', '.join(twice)}", field_name="present")


def as_dict(row: Attendance) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "held_on": row.held_on.isoformat(),
        "half_days": row.half_days,
        "organiser": row.organiser,
        "office": row.office,
        "attendees": row.attendees,
        "recorded_at": iso(row.recorded_at),
        "event_id": f"{EVENT}:{row.id}",
    }


def record(uow: EvaluationUnitOfWork, rules: PointsRules, data, principal, key: str | None = None) -> dict:
    """Staff of the organising office record who attended, who was excused, who was absent.

    ``key``: the recording's idempotency key. A repeat by the same organiser with the same key (a
    retry, a redelivered RPC request) answers the record already made and publishes nothing again;
    its body is not compared (the first wins)."""
    who = principal_of(principal)
    if "staff" not in who["roles"]:
        raise Forbidden("attendance is recorded by the staff of the office that organised the activity")
    if key is not None:
        if not isinstance(key, str) or not 1 <= len(key) <= 100:
            raise InvalidInput("the idempotency key", {"key": ["1 to 100 characters"]})
        existing = uow.points.attendance_recorded(who["user"], key)
        if existing is not None:
            return as_dict(existing)
    data = load(AttendanceInput, data, "the attendance record")
    if data["held_on"] > spans.today():
        raise InvalidInput(
            "attendance is recorded after the activity",
            {"held_on": [f"{data['held_on'].isoformat()} is in the future"]},
        )
    try:
        book = rules.term_for(data["held_on"])
    except InvalidInput as exc:
        raise InvalidInput(exc.message, {"held_on": exc.details["date"]}) from None
    if data["kind"] not in book.activity_kinds:
        raise InvalidInput(
            "unknown kind of activity",
            {"kind": [f"'{data['kind']}' is not one of term {book.term}'s: {', '.join(book.activity_kinds)}"]},
        )
    people = [u for key in ROLES for u in data[key]]
    known = {m.user for m in uow.points.members_among(people)}
    unknown = [u for u in people if u not in known]
    if unknown:
        raise InvalidInput("not in the members directory", {"present": [f"unknown member(s): {', '.join(unknown)}"]})
    from .periods import closed_period_covering

    closed = closed_period_covering(uow, rules, data["held_on"])
    if closed:
        raise Conflict(
            f"period {closed} is closed: attendance on {data['held_on'].isoformat()} can no longer be recorded"
        )
    # One activity is recorded once: a second record of it would book its points again. Two sent
    # at once wait for each other here, and the second finds the first.
    uow.lock(f"attendance:{data['kind']}:{data['held_on'].isoformat()}:{data['title']}")
    earlier = uow.points.attendance_of(data["kind"], data["held_on"], data["title"])
    if earlier is not None:
        raise Conflict(
            f"attendance at '{earlier.title}' ({earlier.kind}) on {earlier.held_on.isoformat()} is recorded "
            f"already (record {earlier.id}, by {earlier.organiser}); correct a member's points instead of "
            "recording the activity again",
            {"attendance_id": earlier.id},
        )
    attendees = [{"member": u, "role": role} for key, role in ROLES.items() for u in data[key]]
    row = Attendance(
        kind=data["kind"],
        title=data["title"],
        held_on=data["held_on"],
        half_days=data["half_days"],
        organiser=who["user"],
        office=who.get("unit"),
        attendees=attendees,
        recorded_at=clock.now(),
        client_reference=key,
    )
    uow.points.add_attendance(row)
    uow.flush()
    uow.publish_event(
        EVENT,
        f"{EVENT}:{row.id}",
        f"attendance:{row.id}",
        members=attendees,
        payload={
            "kind": row.kind,
            "title": row.title,
            "held_on": row.held_on.isoformat(),
            "half_days": row.half_days,
            "organiser": row.organiser,
            "office": row.office,
            "term": book.term,
        },
    )
    return as_dict(row)


def list_records(uow: EvaluationUnitOfWork, principal) -> list[dict]:
    who = principal_of(principal)
    if not {"staff", "committee", "leader"} & set(who["roles"]):
        raise Forbidden("only staff, committee and leaders see attendance records")
    return [as_dict(r) for r in uow.points.attendance_records()]
