"""Loading input through marshmallow schemas with one kind of refusal everywhere."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from shared.errors import InvalidInput


def load(schema: Schema | type[Schema], data: object, what: str = "input") -> Any:
    """``schema.load(data)``, or InvalidInput with field-level messages."""
    if isinstance(schema, type):
        schema = schema()
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object", {"_schema": ["Invalid input type."]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(f"{what} is not valid", exc.messages) from None
