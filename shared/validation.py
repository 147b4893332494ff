"""Loading input through marshmallow schemas with one kind of refusal everywhere."""

from __future__ import annotations

import json
import math

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from marshmallow import Schema, ValidationError, validate

from shared.contracts import field_types as fields

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
    nul = nul_at(data)
    if nul is not None:
        raise InvalidInput(f"{what} is not valid", {nul: [NUL_MESSAGE]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(f"{what} is not valid", exc.messages) from None


NUL_MESSAGE = "holds the NUL character (\\u0000), which no text of the product may hold"


def nul_at(data: object) -> str | None:
    """The path (``title``, ``items[2].name``) of the first string of ``data`` holding the NUL
    character, keys included, or None. No text field takes one: PostgreSQL cannot store it in text,
    and SQLite would store it where every reader then trips over it."""
    stack: list[tuple[object, str]] = [(data, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "_schema"
        elif isinstance(item, Mapping):
            for key, value in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and "\x00" in key:
                    return path or "_schema"
                stack.append((value, where))
        elif isinstance(item, (list, tuple)):
            stack.extend((value, f"{path}[{i}]") for i, value in enumerate(item))
    return None


MAX_PER_PAGE = 200  # the most rows a page of a list answers


class PageQuery(Schema):
    """Which page of a list is asked for and how long it is: ``page`` from 1, ``per_page`` 1-200
    (default 50). A list's own query schema adds its filters to these two."""

    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PER_PAGE))


def page_window(query: Mapping[str, Any]) -> tuple[int, int]:
    """``(offset, limit)`` of the page a loaded query (``page``, ``per_page``) asks for."""
    return (query["page"] - 1) * query["per_page"], query["per_page"]


def page_answer(query: Mapping[str, Any], total: int | tuple[int, bool], items: list[Any]) -> dict[str, Any]:
    """A list's answer: the page asked for, its length, how many there are in all, and its items.
    ``total`` is a count, or ``(count, exact)`` from a bounded count (``shared.db.bounded_count``):
    ``total_exact`` false says there are more than ``total``."""
    count, exact = total if isinstance(total, tuple) else (total, True)
    return {"page": query["page"], "per_page": query["per_page"], "total": count, "total_exact": exact, "items": items}


class DuplicateKey(ValueError):
    """A JSON object names the same key twice (``{"email": "a", "email": "b"}``): Python's decoder
    keeps the last without a word, so what the sender meant is unknown."""


# The integers every JSON column keeps exactly: orjson, which reads them back, reads a larger one
# as a float (99999999999999999999 came back 1e+20, and a job sealed with it no longer matched).
INT_MIN, INT_MAX = -(2**63), 2**64 - 1


class NumberNotKept(ValueError):
    """A JSON number that would not be kept as it was sent: an integer beyond 64 bits, a float too
    large, NaN or Infinity."""


def exact_int(text: str) -> int:
    """``json.loads``' ``parse_int`` that refuses an integer beyond 64 bits (:class:`NumberNotKept`)."""
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise NumberNotKept(
            f"the integer {text[:30]}{'…' if len(text) > 30 else ''} is beyond 64 bits: send it as a string"
        )
    return value


def finite_float(text: str) -> float:
    """``json.loads``' ``parse_float`` that refuses a number too large for a float (``1e400``,
    which would be kept as ``null``)."""
    value = float(text)
    if not math.isfinite(value):
        raise NumberNotKept(f"the number {text[:30]} is too large to be kept")
    return value


def no_constant(name: str) -> float:
    """``json.loads``' ``parse_constant``: ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON."""
    raise NumberNotKept(f"{name} is not a JSON number")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' ``object_pairs_hook`` that refuses a key given twice (:class:`DuplicateKey`)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(f"the key {key!r} is given twice in one object")
        found[key] = value
    return found


def json_from_outside(text: str, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] = unique_keys) -> Any:
    """JSON as it comes in (an HTTP body, a message on the bus): a key given twice and a number
    that would not be kept as sent are refused (``ValueError``), whatever the ``object_pairs_hook``."""
    return json.loads(
        text,
        object_pairs_hook=object_pairs_hook,
        parse_int=exact_int,
        parse_float=finite_float,
        parse_constant=no_constant,
    )
