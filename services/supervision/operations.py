"""Supervision's rules, as plain functions of a session and validated input."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared import clock
from shared.validation import load

from .models import Escalation


class EscalateParams(Schema):
    submission_id = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=100))


def escalate(session, params: dict, principal: dict | None) -> dict:
    data = load(EscalateParams, params, "supervision.escalate parameters")
    row = Escalation(submission_id=data["submission_id"], unit=data["unit"], escalated_at=clock.now())
    session.add(row)
    session.flush()
    return {"escalation_id": row.id, "escalated_at": row.escalated_at.isoformat()}
