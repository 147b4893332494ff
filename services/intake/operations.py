"""Intake's rules, as plain functions of a session and validated input."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared import clock
from shared.validation import load

from .models import Submission


class RecordSubmissionParams(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    business_key = fields.String(allow_none=True, load_default=None)


def record_submission(session, params: dict, principal: dict | None) -> dict:
    data = load(RecordSubmissionParams, params, "intake.record_submission parameters")
    row = Submission(title=data["title"], business_key=data["business_key"],
                     submitted_by=(principal or {}).get("user") or "system", created_at=clock.now())
    session.add(row)
    session.flush()
    return {"id": row.id, "title": row.title}
