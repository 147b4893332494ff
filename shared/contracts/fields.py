"""Field types the contracts share."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, validate

from shared.contracts import field_types as fields

from shared import clock


def visible(value: str) -> bool:
    """``value`` holds a character a reader sees: a letter, a digit, a punctuation mark or a
    symbol. White space, zero-width and other format characters (``\u200b``, ``\u2060``,
    ``\ufeff``, direction marks), control characters and combining marks alone show nothing."""
    return any(unicodedata.category(char)[0] in "LNPS" for char in value)


def not_blank(value: str) -> None:
    """A text (already stripped of white space by :class:`Text`) that shows something."""
    if not visible(value):
        raise ValidationError("must not be empty")


def filled(value: str) -> None:
    """A free text that is more than white space or invisible characters (kept as written: a
    reply's layout is its own)."""
    if not visible(value):
        raise ValidationError("must not be blank")


# A person's or a system's login id (``member.li``, ``staff.wang``): it names files and pages
# (``/console/members/<user>``) and stands in notices, so no spaces, slashes or control characters.
USER_ID = validate.Regexp(
    r"^[^\s/\\\x00-\x1f\x7f]{1,100}\Z",
    error="a user id: 1 to 100 characters, none of them a space, a slash or a control character",
)

# Integers a database column holds: every integer a request carries is range-checked, so a number
# past the column is a 400 at the edge, not an overflow deep in a database call.
INT32_MAX = 2**31 - 1
ROW_ID = validate.Range(min=1, max=INT32_MAX)  # a row's id
POINTS = validate.Range(min=-10_000, max=10_000)  # points added or taken away in one correction


class Text(fields.String):
    """A string with surrounding white space removed, so blank counts as empty."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class UtcDateTime(fields.DateTime):
    """An ISO datetime in UTC (through :func:`shared.clock.as_utc`: naive is UTC, aware is converted)."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | float | None:
        return super()._serialize(clock.as_utc(value), attr, obj, **kwargs)


class Strict(Schema):
    """Refuses fields it does not know (a misspelt parameter is an error, not silence)."""

    class Meta:
        unknown = RAISE


def number() -> fields.String:
    """A proposal's number, e.g. ``2027-0001``."""
    return fields.String(required=True, validate=validate.Length(min=1, max=50))


UNIT_CODE = validate.Regexp(
    r"^[a-z0-9][a-z0-9_-]{0,99}\Z", error="a unit code is lower-case letters, digits, '_' or '-'"
)


def unit_code(**kwargs: Any) -> fields.String:
    return fields.String(validate=UNIT_CODE, **kwargs)
