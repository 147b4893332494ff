"""Assignment's rules, as plain functions of a session and validated input."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared import clock
from shared.errors import BusinessError
from shared.validation import load

from .models import Assignment, Unit


class AssignUnitParams(Schema):
    submission_id = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))


def assign_unit(session, params: dict, principal: dict | None) -> dict:
    data = load(AssignUnitParams, params, "assignment.assign_unit parameters")
    if session.get(Unit, data["unit"]) is None:
        raise BusinessError("no_unit", f"there is no unit '{data['unit']}' in the directory")
    row = Assignment(submission_id=data["submission_id"], unit=data["unit"],
                     assigned_by=(principal or {}).get("user") or "system", created_at=clock.now())
    session.add(row)
    session.flush()
    return {"assignment_id": row.id, "unit": row.unit}


def ensure_units(session, units: dict) -> int:
    """Add the units in ``{code: name}`` that the directory lacks; returns how many were added."""
    added = 0
    for code, name in units.items():
        if session.get(Unit, code) is None:
            session.add(Unit(code=code, name=name))
            added += 1
    return added
