"""The marshmallow field types every schema of the project uses, imported as
``from shared.contracts import field_types as fields``: marshmallow's own, except two that refuse
what a client did not mean instead of guessing.

- :class:`Integer`: a whole number. marshmallow's cuts ``5.5`` to ``5`` without a word (a
  correction of 3.7 points would book 3); here it is refused. A JSON number that is whole
  (``5`` or ``5.0``) and a string of digits (a query string's ``?page=2``, or a form's text) are taken.
- :class:`Boolean`: ``true`` or ``false``. marshmallow's also takes ``"yes"``, ``"on"``, ``"y"``,
  ``1`` and ``"0"``; a client that sends them is told to send ``true`` or ``false``. The words
  ``"true"`` and ``"false"`` are taken as strings too: a query string has no other way to say it.

Their refusals read as marshmallow's ("Not a valid integer.", "Not a valid boolean.").
``tests/unit/shared/test_field_types.py`` holds every schema to these (no module imports
marshmallow's ``fields`` directly).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import fields as _marshmallow_fields
from marshmallow.fields import *  # noqa: F401,F403 - the rest of marshmallow's types, as they are

_DIGITS = re.compile(r"\s*[-+]?\d+\s*")


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


Int = Integer
Bool = Boolean
