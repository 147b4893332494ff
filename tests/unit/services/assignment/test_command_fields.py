"""A unit command's fields are taken as the department sent them: a number that is not a whole
number (``1.9``, ``1.0``, ``"1"``, ``true``) is refused naming its field, never cut or read into an
integer — ``assignment_id: 1.9`` must not act on assignment 1, ``months: 1.5`` must not ask for one
month. A text has one limit, over AMQP as over HTTP, and docs/asyncapi.yaml states it."""

from __future__ import annotations

import pytest
import yaml
from marshmallow import fields, validate

from services.assignment import commands
from services.assignment.contracts import COMMAND_SCHEMAS
from services.assignment.models import Contact, ExtensionRequest
from shared.config import ROOT
from shared.contracts.rpc.assignments import EXTENSION_REASON_MAX, OBJECTION_REASON_MAX, UNIT_TEXT_MAX
from shared.errors import InvalidInput
from shared.messaging.identity import Sender
from shared.validation import load
from tests.unit.services.assignment.test_operations import (  # noqa: F401 - fixtures
    act,
    assign,
    id_of,
    rules,
    uow,
)

NOT_WHOLE = [1.9, 1.5, 1.0, "1", True]
# Every integer field of every unit command, found in the schemas, so a field added later is checked too.
INTEGER_FIELDS = [
    (command, name)
    for command, schema in COMMAND_SCHEMAS.items()
    for name, field in schema().fields.items()
    if isinstance(field, fields.Integer)
]
MEETING = {"kind": "face_to_face", "held_on": "2026-03-02", "participants": "王处长 met 委员 李明"}


def test_every_command_has_its_integer_fields_found():
    assert ("record_contact", "assignment_id") in INTEGER_FIELDS
    assert {("request_extension", "months"), ("report_milestone", "milestone")} <= set(INTEGER_FIELDS)


@pytest.mark.parametrize("value", NOT_WHOLE, ids=repr)
@pytest.mark.parametrize("command, name", INTEGER_FIELDS)
def test_an_integer_field_refuses_what_is_not_a_whole_number_naming_the_field(command, name, value):
    with pytest.raises(InvalidInput) as refused:
        load(COMMAND_SCHEMAS[command], {name: value}, f"command {command}")
    assert refused.value.code == "invalid_input"
    assert refused.value.details[name] == ["Not a valid integer."]


def test_a_contact_for_assignment_1_9_over_amqp_is_refused_and_records_nothing(uow, rules):
    unit_id = id_of(assign(uow), "transport")
    assert unit_id == 1
    with pytest.raises(InvalidInput) as refused:
        commands.from_unit_system(
            uow,
            rules,
            "transport.record_contact",
            {"assignment_id": 1.9, **MEETING},
            Sender("ztc-unit-transport", "unit", "transport"),
        )
    assert "assignment_id" in refused.value.details
    assert uow.assignments.rows.of(Contact) == []


def test_an_extension_for_1_5_months_is_refused_and_nothing_is_asked(uow, rules):
    unit_id = id_of(assign(uow), "transport")
    act(uow, rules, "sign", "transport", unit_id)
    with pytest.raises(InvalidInput) as refused:
        act(uow, rules, "request_extension", "transport", unit_id, months=1.5, reason="budget")
    assert "months" in refused.value.details
    assert uow.assignments.rows.of(ExtensionRequest) == []


# -- one limit for both doors, as docs/asyncapi.yaml states it ------------------------------------


@pytest.mark.parametrize(
    "command, name, most",
    [
        ("object", "reason", OBJECTION_REASON_MAX),
        ("send_input", "text", UNIT_TEXT_MAX),
        ("submit_followup", "text", UNIT_TEXT_MAX),
        ("request_extension", "reason", EXTENSION_REASON_MAX),
    ],
)
def test_a_text_is_taken_up_to_the_shared_limit_and_refused_past_it(command, name, most):
    def errors(text: str) -> dict:
        try:
            load(COMMAND_SCHEMAS[command], {name: text}, f"command {command}")
        except InvalidInput as refused:
            return dict(refused.details)
        return {}

    assert name not in errors("长" * most)
    assert name in errors("长" * (most + 1))


def _documented(field: fields.Field, documented: dict) -> None:
    """``documented`` (a JSON schema) states what ``field`` takes: its type's bounds, its lengths, its items."""
    lengths = [v for v in field.validators if isinstance(v, validate.Length)]
    ranges = [v for v in field.validators if isinstance(v, validate.Range)]
    stated = {key: documented.get(key) for key in ("minLength", "maxLength", "minimum", "maximum")}
    assert stated == {
        "minLength": lengths[0].min if lengths else None,
        "maxLength": lengths[0].max if lengths else None,
        "minimum": ranges[0].min if ranges else None,
        "maximum": ranges[0].max if ranges else None,
    }
    if isinstance(field, fields.Integer):
        assert documented["type"] == "integer"
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        items = documented["items"]["properties"]
        for name, inner in field.inner.schema.fields.items():
            _documented(inner, items[name])


def test_the_asyncapi_document_states_each_fields_limits_as_the_service_checks_them():
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    components = doc["components"]
    published = {key.split(".", 1)[1]: c["publish"] for key, c in doc["channels"].items() if "publish" in c}
    for command, schema in COMMAND_SCHEMAS.items():
        message = components["messages"][published[command]["message"]["$ref"].rsplit("/", 1)[1]]
        documented = components["schemas"][message["payload"]["$ref"].rsplit("/", 1)[1]]["properties"]
        for name, field in schema().fields.items():
            try:
                _documented(field, documented[name])
            except AssertionError as exc:
                raise AssertionError(f"{command}.{name}: {exc}") from None
