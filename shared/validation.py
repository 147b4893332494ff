"""Loading input through marshmallow schemas with one kind of refusal everywhere."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from shared.errors import InvalidInput


# One instance per schema class given to load(): making a schema (its fields, nested schemas and
# hooks) cost more than loading a small message with it, and a schema keeps nothing of a load.
_MADE: dict[type[Schema], Schema] = {}


def load(schema: Schema | type[Schema], data: object, what: str = "input") -> Any:
    """``schema.load(data)``, or InvalidInput with field-level messages. A schema class is made
    once (with no arguments) and that instance serves every later call."""
    if isinstance(schema, type):
        made = _MADE.get(schema)
        if made is None:
            made = _MADE[schema] = schema()
        schema = made
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object", {"_schema": ["Invalid input type."]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(f"{what} is not valid", exc.messages) from None
