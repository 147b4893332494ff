"""Evaluation's rules, as plain functions of a session and validated input."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared import clock
from shared.validation import load

from .models import Outcome


class RecordOutcomeParams(Schema):
    submission_id = fields.Integer(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["answered", "overdue", "rejected"]))


def record_outcome(session, params: dict, principal: dict | None) -> dict:
    data = load(RecordOutcomeParams, params, "evaluation.record_outcome parameters")
    row = Outcome(submission_id=data["submission_id"], outcome=data["outcome"], recorded_at=clock.now())
    session.add(row)
    session.flush()
    return {"outcome_id": row.id, "outcome": row.outcome}
