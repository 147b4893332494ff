"""A department's refused command is told back to the unit that sent it (services/assignment/refusals.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session

from services.assignment import commands, refusals
from services.assignment.models import Base, Outbox, Unit
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.assignment.rules import RulebookRules
from shared import contracts
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.messaging.identity import Sender

TRANSPORT = Sender("ztc-unit-transport", "unit", "transport")
IDS = {"correlation_id": "corr-7", "message_id": "msg-7"}


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'assignment.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Unit(code="transport", name="市交通运输局"))
        s.flush()
        yield s
    engine.dispose()


@pytest.mark.parametrize(
    "error, kind",
    [
        (
            InvalidInput("command sign is not valid", {"assignment_id": ["Missing data for required field."]}),
            "invalid_input",
        ),
        (Forbidden("assignment 18 belongs to another unit"), "forbidden"),
        (NotFound("there is no assignment 99"), "not_found"),
        (Conflict("sign for assignment 3 (签收) before you draft a reply"), "conflict"),
    ],
)
def test_a_refused_command_is_told_to_its_unit_with_its_kind_message_and_correlation_id(error, kind):
    told = refusals.refusal_of(error, "transport.sign", TRANSPORT, IDS)
    assert told["unit"] == "transport" and told["command"] == "transport.sign"
    assert told["kind"] == kind and told["message"] == error.message and told["details"] == error.details
    assert (told["correlation_id"], told["message_id"]) == ("corr-7", "msg-7")
    assert told["event"] == contracts.UNIT_COMMAND_REFUSED


def test_a_refusal_goes_to_the_sending_unit_never_to_the_unit_its_key_names():
    told = refusals.refusal_of(Forbidden("a unit acts for itself only"), "education.sign", TRANSPORT, IDS)
    assert told["unit"] == "transport"


@pytest.mark.parametrize(
    "sender", [None, Sender(None, "nobody"), Sender("guest", "unknown"), Sender("ztc-intake", "service", "intake")]
)
def test_a_command_from_no_units_user_has_nobody_to_tell(sender):
    assert refusals.refusal_of(Forbidden("no user_id"), "transport.sign", sender, IDS) is None


def test_a_failure_worth_another_attempt_is_not_a_refusal():
    lost = OperationalError("SELECT 1", {}, ConnectionError("the database went away"))
    assert refusals.refusal_of(lost, "transport.sign", TRANSPORT, IDS) is None
    assert refusals.refusal_of(RuntimeError("a bug"), "transport.sign", TRANSPORT, IDS) is None


def test_a_value_the_database_cannot_hold_is_refused_as_invalid_input():
    too_long = DataError("INSERT", {}, ValueError("value too long for type character varying(100)"))
    told = refusals.refusal_of(too_long, "transport.object", TRANSPORT, {})
    assert told["kind"] == "invalid_input" and told["correlation_id"] is None


def test_the_refusal_of_a_real_command_leaves_by_the_units_own_routing_key(session):
    try:
        commands.from_unit_system(
            SqlAssignmentUnitOfWork(session), RulebookRules(), "transport.sign", {"assignment_id": "x"}, TRANSPORT
        )
    except InvalidInput as exc:
        refused = exc
    told = refusals.refusal_of(refused, "transport.sign", TRANSPORT, IDS)
    assert told["kind"] == "invalid_input" and "assignment_id" in told["details"]
    assert refusals.tell(SqlAssignmentUnitOfWork(session), told)
    session.flush()
    [row] = session.scalars(select(Outbox)).all()
    assert (row.exchange, row.routing_key) == (contracts.UNITS_EXCHANGE, "transport.command.refused")
    assert contracts.UnitRefusalSchema().load(row.payload)["correlation_id"] == "corr-7"


def test_the_asyncapi_document_describes_the_refusal_as_the_service_sends_it():
    import yaml

    from shared.config import ROOT

    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    documented = doc["components"]["schemas"]["CommandRefused"]
    fields = contracts.UnitRefusalSchema().fields
    assert set(documented["properties"]) == set(fields)
    assert set(documented["required"]) == {name for name, field in fields.items() if field.required}
    assert documented["properties"]["kind"]["enum"] == list(contracts.REFUSAL_KINDS)
    for example in doc["components"]["messages"]["commandRefused"]["examples"]:
        contracts.UnitRefusalSchema().load(example["payload"])


def test_a_unit_outside_the_directory_has_no_queue_and_is_told_nothing(session):
    stranger = Sender("ztc-unit-nowhere", "unit", "nowhere")
    told = refusals.refusal_of(Forbidden("unit 'nowhere' is not in the directory"), "nowhere.sign", stranger, IDS)
    assert not refusals.tell(SqlAssignmentUnitOfWork(session), told)
    session.flush()
    assert session.scalars(select(Outbox)).all() == []
