"""How every JSON column is written and read (shared/db.py): orjson, reading back what the
standard library's writing read back, falling back to the standard library for what orjson
refuses, and reading what the standard library wrote before."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared.db import json_dumps, json_loads


def stdlib(value: object) -> str:
    """How every JSON column was written before orjson."""
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass
class Point:
    x: int


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=st.sampled_from([timezone.utc, None]))
    | st.dates()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
)
KEYS = st.text() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.booleans() | st.none()
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4) | st.tuples(inner, inner),
    max_leaves=20,
)


@given(VALUES)
def test_what_is_read_back_is_what_the_standard_librarys_writing_read_back(value):
    assert json_loads(json_dumps(value)) == json.loads(stdlib(value))


def test_values_that_are_not_json_become_their_str_as_before():
    at = datetime(2026, 11, 30, 17, 30, tzinfo=timezone.utc)
    value = {"at": at, "day": date(2026, 11, 30), "id": uuid.UUID(int=7), "n": Decimal("1.50"), "p": Point(3)}
    assert json_loads(json_dumps(value)) == {
        "at": "2026-11-30 17:30:00+00:00",
        "day": "2026-11-30",
        "id": "00000000-0000-0000-0000-000000000007",
        "n": "1.50",
        "p": "Point(x=3)",
    }
    assert json_dumps({"标题": "候车亭"}) == '{"标题":"候车亭"}'  # UTF-8, not escaped


def test_what_orjson_refuses_is_written_by_the_standard_library():
    big = {"n": 2**70, "s": "\ud800"}
    assert json_dumps(big) == "\n" + stdlib(big)  # marked, and still JSON
    assert json.loads(json_dumps(big)) == json.loads(stdlib(big))


@given(st.integers(min_value=2**64) | st.integers(max_value=-(2**63) - 1))
def test_an_integer_past_64_bits_is_read_back_exactly_as_an_integer(n):
    # A diagram's script may compute one; read as a float it would lose its last digits and its type.
    for value in ({"n": n, "list": [n, 1.5, "x"]}, [n]):
        back = json_loads(json_dumps(value))
        assert back == value and type(back["n"] if isinstance(back, dict) else back[0]) is int
        assert json_loads(json_dumps(value).encode()) == value


def test_what_the_standard_library_wrote_before_is_read():
    assert math.isnan(json_loads('{"x": NaN}')["x"])
    # An integer past 64 bits written before json_dumps marked what the standard library wrote is
    # read as orjson reads it (documented in json_loads); marked, it is exact (the test above).
    assert json_loads('{"n": 1180591620717411303425}')["n"] == float(2**70 + 1)
    assert json_loads('\n{"n": 1180591620717411303425}')["n"] == 2**70 + 1
    assert json_loads(b'{"a": [1, 2.5, "\\u5019"]}') == {"a": [1, 2.5, "候"]}


def test_a_float_that_is_not_a_number_is_written_null():
    assert json_loads(json_dumps({"x": math.nan, "y": math.inf})) == {"x": None, "y": None}
