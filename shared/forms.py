"""Form schemas that user tasks name in diagrams (``formSchema`` property).

A task completed with data that does not fit its schema is refused with field-level messages and
nothing changes. Diagrams naming a schema that is not here are refused at deploy.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class SmokeReviewForm(Schema):
    class Meta:
        unknown = RAISE

    approved = fields.Boolean(required=True)
    comment = fields.String(load_default="")


FORMS: dict[str, type[Schema]] = {
    "smoke.review": SmokeReviewForm,
}
