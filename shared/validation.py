"""Loading input through marshmallow schemas with one kind of refusal everywhere."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from marshmallow import Schema, ValidationError

from shared.errors import InvalidInput


# One instance per schema class: making a schema (its fields, nested schemas and hooks) costs more
# than loading a small message with it, and a schema keeps nothing of a load or a dump.
_MADE: dict[type[Schema], Schema] = {}
S = TypeVar("S", bound=Schema)


def made(cls: type[S]) -> S:
    """The one instance of the schema class ``cls`` (made with no arguments, on first use)."""
    schema = _MADE.get(cls)
    if schema is None:
        schema = _MADE[cls] = cls()
    return cast(S, schema)


def load(schema: Schema | type[Schema], data: object, what: str = "input") -> Any:
    """``schema.load(data)``, or InvalidInput with field-level messages. A schema class is made
    once (:func:`made`) and that instance serves every later call."""
    if isinstance(schema, type):
        schema = made(schema)
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object", {"_schema": ["Invalid input type."]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(f"{what} is not valid", exc.messages) from None
