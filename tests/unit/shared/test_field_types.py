"""Every schema's integers are whole numbers and its booleans true or false
(``shared/contracts/field_types.py``): what a client did not mean is refused, not guessed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from marshmallow import ValidationError

from shared import contracts
from shared.contracts import field_types as fields
from shared.contracts import jobs
from shared.contracts.rpc import proposals
from shared.forms import FORMS
from shared.errors import InvalidInput
from shared.validation import load

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("value, expected", [(5, 5), (5.0, 5), ("5", 5), (" -12 ", -12), ("+3", 3), (0, 0)])
def test_a_whole_number_is_taken_as_a_json_number_or_digits(value, expected):
    assert fields.Integer().deserialize(value) == expected


@pytest.mark.parametrize("value", [5.5, -0.1, "5.0", "5.5", "1e3", "", "five", True, False, [], {}, "0x10", "1_000"])
def test_anything_else_is_not_an_integer(value):
    with pytest.raises(ValidationError, match="Not a valid integer"):
        fields.Integer().deserialize(value)


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("true", True), ("FALSE", False)])
def test_a_boolean_is_true_or_false(value, expected):
    assert fields.Boolean().deserialize(value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "y", "1", "0", 1, 0, "", None, [], "truthy"])
def test_the_spellings_marshmallow_would_guess_at_are_refused(value):
    with pytest.raises(ValidationError):
        fields.Boolean().deserialize(value)


@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00"],
)
def test_a_moment_is_of_the_years_1900_to_2999_also_in_utc(value):
    with pytest.raises(ValidationError, match="years 1900-2999"):
        fields.DateTime().deserialize(value)


def test_a_moment_of_those_years_is_taken_as_given():
    moment = fields.DateTime().deserialize("2999-12-31T20:00:00-02:00")
    assert (moment.year, moment.utcoffset().total_seconds()) == (2999, -7200)
    assert fields.Date().deserialize("1900-01-01").year == 1900
    with pytest.raises(ValidationError, match="years 1900-2999"):
        fields.Date().deserialize("0001-01-01")


def test_a_bus_event_from_past_the_years_is_refused_as_invalid_input():
    event = {"event_id": "x", "name": "handling.assigned", "subject": "2027-0001", "payload": {}}
    with pytest.raises(InvalidInput) as refused:
        load(contracts.EventSchema, {**event, "occurred_at": "9999-12-31T23:59:59-05:00"}, "the event")
    assert "occurred_at" in refused.value.details


def test_the_contracts_use_these_types():
    """A job's payload, an RPC request and a task's form: a fraction is refused with the field
    named, not cut, and "yes" is not taken for true."""
    with pytest.raises(InvalidInput) as refused:
        load(jobs.evaluation.RecordOutcome, {"submission_id": 1.5, "outcome": "answered"}, "the job")
    assert "submission_id" in refused.value.details
    with pytest.raises(InvalidInput) as refused:
        load(proposals.ContentSchema, {"publish_consent": "yes"}, "the proposal")
    assert "Not a valid boolean" in str(refused.value.details["publish_consent"])
    form = next(schema for schema in FORMS.values() if "approved" in schema().fields)
    assert "approved" in form().validate({"approved": "on"})


def test_no_module_takes_marshmallows_own_fields():
    """Held for every module of the product: marshmallow's ``fields`` is imported only by
    ``field_types`` itself."""
    pattern = re.compile(
        r"^\s*(from marshmallow import [^\n]*\bfields\b|from marshmallow\.fields import|import marshmallow\.fields)",
        re.M,
    )
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("shared", "services")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "field_types.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize("value", ["20261203", "2026-W49-4", "2026-337", "2026-12-03\n", " 2026-12-03"])
def test_a_day_is_written_year_month_day(value):
    with pytest.raises(ValidationError, match="Not a valid date"):
        fields.Date().deserialize(value)


@pytest.mark.parametrize("value", ["20261203T100000", "2026-W49-4T10:00", "2026-12-03T10:00:00+0800", "2026-12-03T10"])
def test_a_moment_is_written_as_rfc_3339_says(value):
    with pytest.raises(ValidationError, match="Not a valid datetime"):
        fields.DateTime().deserialize(value)


@pytest.mark.parametrize(
    "value", ["2026-12-03T10:00:00+08:00", "2026-12-03T10:00:00.123456+00:00", "2026-12-03T02:00Z", "2026-12-03 10:00"]
)
def test_the_moments_clients_write_are_taken(value):
    assert fields.DateTime().deserialize(value).date().isoformat() == "2026-12-03"
