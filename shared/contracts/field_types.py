"""The marshmallow field types every schema of the project uses, imported as
``from shared.contracts import field_types as fields``: marshmallow's own, except these, which
refuse what a client did not mean instead of guessing.

- :class:`Integer`: a whole number. marshmallow's cuts ``5.5`` to ``5`` without a word (a
  correction of 3.7 points would book 3); here it is refused. A JSON number that is whole
  (``5`` or ``5.0``) and a string of digits (a query string's ``?page=2``, or a form's text) are taken.
- :class:`Boolean`: ``true`` or ``false``. marshmallow's also takes ``"yes"``, ``"on"``, ``"y"``,
  ``1`` and ``"0"``; a client that sends them is told to send ``true`` or ``false``. The words
  ``"true"`` and ``"false"`` are taken as strings too: a query string has no other way to say it.
- :class:`DateTime` and :class:`Date`: a moment or a day of the years 1900-2999, the years every
  route takes, written ``YYYY-MM-DD`` (a moment: then ``THH:MM[:SS[.ffffff]]`` and a zone ``Z`` or
  ``+08:00``). Python reads ``20261203`` and ``2026-W49-4`` as dates too; a client that sent them
  meant something the contract does not say. marshmallow's take year 1 and year 9999;
  ``9999-12-31T23:59:59-05:00`` is a moment past any the product can hold in UTC, and converting
  it failed deep in whatever used it. ``AwareDateTime`` is marshmallow's, within the same years.

Their refusals read as marshmallow's ("Not a valid integer.", "Not a valid boolean.").
``tests/unit/shared/test_field_types.py`` holds every schema to these (no module imports
marshmallow's ``fields`` directly).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from marshmallow import fields as _marshmallow_fields

# The rest of marshmallow's types, as they are.
from marshmallow.fields import (
    Constant,
    Decimal,
    Dict,
    Email,
    Field,
    Float,
    Function,
    List,
    Method,
    Nested,
    Number,
    Raw,
    String,
    Time,
    Tuple,
    Url,
)

from shared import clock

_DIGITS = re.compile(r"\s*[-+]?\d+\s*")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


class Integer(_marshmallow_fields.Integer):
    """A whole number (see the module's docstring)."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        if isinstance(value, str) and not _DIGITS.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Boolean(_marshmallow_fields.Boolean):
    """``true`` or ``false`` (see the module's docstring)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.make_error("invalid", input=value)


FIRST_YEAR, LAST_YEAR = 1900, 2999


def _in_years(field: Field[Any], day: dt.date) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise field.make_error("years")


class DateTime(_marshmallow_fields.DateTime):
    """A moment of the years 1900-2999, also once in UTC (see the module's docstring)."""

    default_error_messages = {"years": f"Not a valid datetime: a moment of the years {FIRST_YEAR}-{LAST_YEAR}."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> dt.datetime:
        if isinstance(value, str) and not _MOMENT.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        moment = super()._deserialize(value, attr, data, **kwargs)
        _in_years(self, moment)
        try:
            _in_years(self, clock.as_utc(moment))
        except OverflowError:  # past year 9999 in UTC
            raise self.make_error("years") from None
        return moment


class Date(_marshmallow_fields.Date):
    """A day of the years 1900-2999 (see the module's docstring)."""

    default_error_messages = {"years": f"Not a valid date: a day of the years {FIRST_YEAR}-{LAST_YEAR}."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> dt.date:
        if isinstance(value, str) and not _DAY.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        day = super()._deserialize(value, attr, data, **kwargs)
        _in_years(self, day)
        return day


class AwareDateTime(_marshmallow_fields.AwareDateTime, DateTime):
    """A moment with its zone (marshmallow's ``AwareDateTime``), of the years 1900-2999."""


__all__ = [
    "AwareDateTime",
    "Boolean",
    "Constant",
    "Date",
    "DateTime",
    "Decimal",
    "Dict",
    "Email",
    "Field",
    "Float",
    "Function",
    "Integer",
    "List",
    "Method",
    "Nested",
    "Number",
    "Raw",
    "String",
    "Time",
    "Tuple",
    "Url",
]
