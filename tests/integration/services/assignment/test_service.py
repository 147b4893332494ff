"""The assignment service on the real broker: jobs in, unit events out, unit commands over AMQP."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime

import pytest
from amqp.exceptions import AccessRefused, PreconditionFailed
from nameko.runners import ServiceRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from services.assignment import commands, contracts, operations
from services.assignment.models import Assignment, Contact, Outbox
from services.assignment.operations import ensure_units
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.assignment.rules import RulebookRules
from services.assignment.service import AssignmentService
from shared import contracts as shared_contracts
from shared.config import ROOT
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import Forbidden, InvalidInput
from shared.messaging import access, topology
from tests.support import FAR_YEAR, broker_users, get_messages, publish, ready_count, sealed_job, signing_rpc, wait_for

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
TRANSPORT = {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"}


# Each unit's broker user in the running test: settings.amqp_uri -> {unit: (amqp URI, user)}.
UNIT_USERS: dict = {}


@pytest.fixture
def assignment_service(settings, skipping_clock):
    """AssignmentService running in this process, on a fresh database and a throwaway vhost, and
    the two units' own broker users (their departments' systems send commands with them)."""
    migrate("assignment", settings.database_url("assignment"))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        ensure_units(
            SqlAssignmentUnitOfWork(s),
            {"transport": "Municipal Transport Bureau", "education": "Municipal Education Bureau"},
        )
    topology.declare(settings.amqp_uri)
    grants = {unit: access.unit_grant(settings, unit) for unit in ("transport", "education")}
    with broker_users(settings, list(grants.values())) as uris:
        UNIT_USERS[settings.amqp_uri] = {unit: (uris[g.user], g.user) for unit, g in grants.items()}
        runner = ServiceRunner(settings.nameko_config())
        runner.add_service(AssignmentService)
        runner.start()
        yield settings
        runner.stop()
        UNIT_USERS.pop(settings.amqp_uri, None)
    dispose_all()


def vhost_of(settings) -> str:
    return settings.amqp_uri.rsplit("/", 1)[1]


def send_job(settings, operation: str, params: dict, instance_id: str = "instance-1") -> str:
    job_id = uuid.uuid4().hex
    publish(
        settings.amqp_uri,
        shared_contracts.JOBS_EXCHANGE,
        operation,
        sealed_job(
            {
                "job_id": job_id,
                "instance_id": instance_id,
                "task_id": "task-1",
                "operation": operation,
                "params": params,
                "attempt": 1,
                "business_key": params.get("number"),
                "principal": STAFF,
            },
            settings,
        ),
    )
    return job_id


def unit_command(settings, routing_key: str, body, as_unit: str | None = None) -> None:
    """A command from a department's system, on its unit's own broker user (by default the unit
    the routing key names), with its user_id."""
    uri, user = UNIT_USERS[settings.amqp_uri][as_unit or routing_key.split(".", 1)[0]]
    publish(uri, contracts.UNIT_COMMANDS_EXCHANGE, routing_key, body, user_id=user)


def taken(settings, queue: str, count: int = 1) -> list[dict]:
    """Wait until ``count`` messages can be taken off ``queue``; returns them all."""
    got: list[dict] = []

    def enough():
        got.extend(get_messages(vhost_of(settings), queue))
        return len(got) >= count

    wait_for(enough, message=f"{count} message(s) on {queue}")
    return got


def assignment(settings, assignment_id: int) -> Assignment:
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        return s.get(Assignment, assignment_id)


def outbox_is_empty(settings) -> bool:
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        return s.scalar(select(func.count()).select_from(Outbox)) == 0


def assign_several(settings, number="2026-0001") -> dict:
    """Assign a proposal to transport and education; returns {unit: assignment_id} from their queues."""
    send_job(
        settings,
        "assignment.assign",
        {"proposal_id": 1, "number": number, "mode": "several", "units": ["transport", "education"]},
    )
    ids = {}
    for unit in ("transport", "education"):
        [event] = taken(settings, contracts.unit_queue(unit))
        body = json.loads(event["payload"])
        assert event["routing_key"] == f"{unit}.assignment.created"
        assert body["event"] == "assignment.created" and body["assignment"]["number"] == number
        ids[unit] = body["assignment"]["id"]
    return ids


def test_an_assignment_job_reaches_each_units_own_queue(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    [result] = taken(settings, shared_contracts.ENGINE_RESULTS_QUEUE)
    answer = json.loads(result["payload"])
    assert answer["status"] == "ok" and answer["result"]["answering_units"] == ["transport", "education"]
    assert {a["id"] for a in answer["result"]["assignments"]} == set(ids.values())


def test_a_unit_system_signs_over_amqp_with_its_own_routing_key(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    unit_command(settings, "transport.sign", {"assignment_id": ids["transport"]})
    wait_for(lambda: assignment(settings, ids["transport"]).status == "signed", message="transport signed")
    assert assignment(settings, ids["transport"]).signed_by == "system:transport"
    assert assignment(settings, ids["education"]).status == "assigned"


def refused_command(settings, reason_start: str) -> dict:
    [dead] = taken(settings, shared_contracts.DEAD_QUEUE)
    headers = dead["properties"]["headers"]
    assert headers[shared_contracts.REASON_HEADER].startswith(reason_start), headers[shared_contracts.REASON_HEADER]
    assert headers["x-ztc-original-queue"] == contracts.COMMANDS_QUEUE
    return headers


def test_a_command_without_a_user_id_or_from_a_user_that_is_no_unit_is_refused_and_changes_nothing(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    uri, _ = UNIT_USERS[settings.amqp_uri]["transport"]
    publish(uri, contracts.UNIT_COMMANDS_EXCHANGE, "transport.sign", {"assignment_id": ids["transport"]}, user_id=None)
    assert "without a user_id" in refused_command(settings, "forbidden: ")[shared_contracts.REASON_HEADER]
    # The services' own (here shared) user is no unit: it cannot act for one either.
    publish(
        settings.amqp_uri,
        contracts.UNIT_COMMANDS_EXCHANGE,
        "transport.sign",
        {"assignment_id": ids["transport"]},
        user_id="guest",
    )
    assert "broker user 'guest'" in refused_command(settings, "forbidden: ")[shared_contracts.REASON_HEADER]
    assert assignment(settings, ids["transport"]).status == "assigned"
    assert ready_count(settings.amqp_uri, shared_contracts.ENGINE_MESSAGES_QUEUE) == 0


def test_a_command_whose_user_id_is_another_units_is_refused_by_the_broker_and_by_the_service(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    # The broker: education's user may publish only education.<command>, and only as itself.
    with pytest.raises(AccessRefused):
        unit_command(settings, "transport.sign", {"assignment_id": ids["transport"]}, as_unit="education")
    uri, user = UNIT_USERS[settings.amqp_uri]["education"]
    with pytest.raises(PreconditionFailed):
        publish(
            uri,
            contracts.UNIT_COMMANDS_EXCHANGE,
            "education.sign",
            {"assignment_id": ids["education"]},
            user_id=UNIT_USERS[settings.amqp_uri]["transport"][1],
        )
    # The service, should a broker let it through (a user given too wide a topic permission):
    # the key names transport, the user is education's.
    wide = access.unit_grant(settings, "education")
    wide.user = wide.user + "-wide"
    wide.topic_write[contracts.UNIT_COMMANDS_EXCHANGE] = {".*"}
    with broker_users(settings, [wide]) as uris:
        publish(
            uris[wide.user],
            contracts.UNIT_COMMANDS_EXCHANGE,
            "transport.sign",
            {"assignment_id": ids["transport"]},
            user_id=wide.user,
        )
        headers = refused_command(settings, "forbidden: ")
    assert (
        "names no unit" in headers[shared_contracts.REASON_HEADER]
        or "acts for itself only" in headers[shared_contracts.REASON_HEADER]
    )
    assert assignment(settings, ids["transport"]).status == "assigned"
    assert ready_count(settings.amqp_uri, shared_contracts.ENGINE_MESSAGES_QUEUE) == 0


def test_a_command_forged_for_another_units_assignment_is_dead_lettered_and_changes_nothing(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    unit_command(settings, "transport.object", {"assignment_id": ids["education"], "reason": "Not theirs"})
    [dead] = taken(settings, shared_contracts.DEAD_QUEUE)
    headers = dead["properties"]["headers"]
    assert headers[shared_contracts.REASON_HEADER].startswith("forbidden: ")
    assert headers["x-ztc-original-routing-key"] == "transport.object"
    assert headers["x-ztc-original-queue"] == contracts.COMMANDS_QUEUE
    education = assignment(settings, ids["education"])
    assert (education.status, education.objection_reason) == ("assigned", None)
    assert ready_count(settings.amqp_uri, shared_contracts.ENGINE_MESSAGES_QUEUE) == 0


def test_a_malformed_command_is_dead_lettered_with_the_reason_for_each_field(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    unit_command(settings, "transport.object", {"assignment_id": "the bus one"})
    [dead] = taken(settings, shared_contracts.DEAD_QUEUE)
    reason = dead["properties"]["headers"][shared_contracts.REASON_HEADER]
    assert reason.startswith("invalid_input: command object is not valid")
    assert "'assignment_id': ['Not a valid integer.']" in reason
    assert "'reason': ['Missing data for required field.']" in reason
    assert json.loads(dead["payload"]) == {"assignment_id": "the bus one"}
    assert assignment(settings, ids["transport"]).status == "assigned"
    assert ready_count(settings.amqp_uri, shared_contracts.ENGINE_MESSAGES_QUEUE) == 0


def test_an_objection_over_amqp_reaches_the_engine_as_a_bpmn_message(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    unit_command(settings, "education.object", {"assignment_id": ids["education"], "reason": "Housing's remit"})
    [message] = taken(settings, shared_contracts.ENGINE_MESSAGES_QUEUE)
    body = json.loads(message["payload"])
    assert (body["name"], body["correlation_key"]) == ("objection_raised", "2026-0001")
    assert body["payload"] == {"unit": "education", "reason": "Housing's remit", "assignment_id": ids["education"]}


def test_a_units_handler_over_rpc_sees_and_acts_on_its_own_assignments_only(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    with signing_rpc(settings) as rpc:
        assert [a["unit"] for a in rpc.assignment.list_assignments(TRANSPORT)] == ["transport"]
        assert rpc.assignment.sign(ids["transport"], principal=TRANSPORT)["status"] == "signed"
        with pytest.raises(Forbidden):
            rpc.assignment.sign(ids["education"], principal=TRANSPORT)
    assert assignment(settings, ids["education"]).status == "assigned"
    assert {a.status for a in (assignment(settings, i) for i in ids.values())} == {"signed", "assigned"}


MEETING = {"kind": "face_to_face", "held_on": "2026-03-02", "participants": "王处长 met 委员 李明"}


def contacts_of(settings, assignment_id: int) -> list:
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        return [
            (c.kind, c.face_to_face) for c in s.scalars(select(Contact).where(Contact.assignment_id == assignment_id))
        ]


def test_a_units_handler_records_a_contact_over_rpc_on_its_own_assignment_only(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    with signing_rpc(settings) as rpc:
        shown = rpc.assignment.record_contact(ids["transport"], **MEETING, note="现场", principal=TRANSPORT)
        assert (shown["kind"], shown["face_to_face"], shown["note"]) == ("face_to_face", True, "现场")
        listed = rpc.assignment.get_assignment(ids["transport"], principal=TRANSPORT)["contacts"]
        assert [c["id"] for c in listed] == [shown["id"]]
        with pytest.raises(InvalidInput) as refused:
            rpc.assignment.record_contact(ids["transport"], **{**MEETING, "held_on": "2026-03-03"}, principal=TRANSPORT)
        assert "held_on" in refused.value.details
        with pytest.raises(Forbidden):
            rpc.assignment.record_contact(ids["education"], **MEETING, principal=TRANSPORT)
    assert contacts_of(settings, ids["transport"]) == [("face_to_face", True)]
    assert contacts_of(settings, ids["education"]) == []


def test_a_unit_system_records_a_contact_over_amqp_and_a_bad_one_is_refused_on_its_own_queue(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    unit_command(settings, "education.record_contact", {"assignment_id": ids["education"], **MEETING})
    wait_for(lambda: contacts_of(settings, ids["education"]), message="education's contact recorded")
    unit_command(settings, "education.record_contact", {"assignment_id": ids["education"], **MEETING, "kind": "pigeon"})
    [told] = taken(settings, contracts.unit_queue("education"))
    body = json.loads(told["payload"])
    assert told["routing_key"] == f"education.{contracts.COMMAND_REFUSED}"
    assert (body["command"], body["kind"]) == ("education.record_contact", "invalid_input")
    assert "pigeon" in body["message"] and "kind" in body["details"]
    refused_command(settings, "invalid_input: ")
    assert contacts_of(settings, ids["education"]) == [("face_to_face", True)]  # the bad one left nothing


@pytest.mark.both_databases
def test_two_units_submitting_at_the_same_moment_tell_the_engine_exactly_once(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    with signing_rpc(settings) as rpc:
        for unit, category in (("transport", "A"), ("education", "B")):
            handler = {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}
            rpc.assignment.sign(ids[unit], principal=handler)
            promised = [{"what": "完成改造", "due": f"{FAR_YEAR}-06-30"}] if category == "B" else None
            rpc.assignment.draft_reply(ids[unit], category, f"{unit} answers", principal=handler, milestones=promised)
    for unit in ("transport", "education"):
        unit_command(settings, f"{unit}.submit_reply", {"assignment_id": ids[unit]})
    wait_for(
        lambda: {assignment(settings, i).status for i in ids.values()} == {"replied"}, message="both replies submitted"
    )
    [message] = taken(settings, shared_contracts.ENGINE_MESSAGES_QUEUE)
    body = json.loads(message["payload"])
    assert body["name"] == "reply_submitted" and body["payload"]["category"] == "B"
    assert sorted(r["unit"] for r in body["payload"]["replies"]) == ["education", "transport"]
    wait_for(lambda: outbox_is_empty(settings), message="the outbox relay to publish everything")
    assert ready_count(settings.amqp_uri, shared_contracts.ENGINE_MESSAGES_QUEUE) == 0


@pytest.mark.both_databases
def test_a_second_submitter_waits_for_the_first_on_postgresql(database_url_template, db_kind, skipping_clock):
    """The race the row lock closes: without it, two units submitting together could each miss the
    other's reply, and reply_submitted would never be sent."""
    if db_kind != "postgresql":
        pytest.skip("SQLite admits one writer at a time; the row lock is PostgreSQL's")
    url = database_url_template.replace("{service}", "assignment")
    migrate("assignment", url)
    sessions, rules = session_factory(url), RulebookRules()
    with transaction(sessions) as s:
        ensure_units(SqlAssignmentUnitOfWork(s), {"transport": "Transport", "education": "Education"})
        s.flush()
        result = operations.assign(
            SqlAssignmentUnitOfWork(s),
            {"proposal_id": 1, "number": "2026-0009", "mode": "several", "units": ["transport", "education"]},
            STAFF,
        )
        ids = {a["unit"]: a["id"] for a in result["assignments"]}
        for unit in ids:
            handler = {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}
            commands.run(SqlAssignmentUnitOfWork(s), rules, "sign", {"assignment_id": ids[unit]}, handler)
            commands.run(
                SqlAssignmentUnitOfWork(s),
                rules,
                "draft_reply",
                {"assignment_id": ids[unit], "category": "A", "text": "Done"},
                handler,
            )
    first, second = sessions(), sessions()
    try:
        commands.run(
            SqlAssignmentUnitOfWork(first),
            rules,
            "submit_reply",
            {"assignment_id": ids["transport"]},
            {"user": "t", "roles": ["unit"], "unit": "transport"},
        )
        second.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            commands.run(
                SqlAssignmentUnitOfWork(second),
                rules,
                "submit_reply",
                {"assignment_id": ids["education"]},
                {"user": "e", "roles": ["unit"], "unit": "education"},
            )
        second.rollback()
        first.commit()
        done = commands.run(
            SqlAssignmentUnitOfWork(second),
            rules,
            "submit_reply",
            {"assignment_id": ids["education"]},
            {"user": "e", "roles": ["unit"], "unit": "education"},
        )
        second.commit()
    finally:
        first.close()
        second.close()
    assert done["all_units_replied"] is True
    with transaction(sessions) as s:
        sent = [
            row.payload["name"]
            for row in s.scalars(select(Outbox))
            if row.exchange == shared_contracts.MESSAGES_EXCHANGE
        ]
    assert sent == ["reply_submitted"]
    dispose_all()


def run_example_client(settings, *args, unit="transport", timeout=30) -> subprocess.CompletedProcess:
    """The example client on ``unit``'s own broker credentials, as a department runs it."""
    client = ROOT / "examples" / "unit_client.py"
    uri, _ = UNIT_USERS[settings.amqp_uri][unit]
    return subprocess.run(
        [sys.executable, str(client), "--amqp", uri, *args], capture_output=True, text=True, timeout=timeout
    )


def test_the_example_client_listens_signs_and_replies_for_its_unit(assignment_service):
    settings = assignment_service
    send_job(
        settings,
        "assignment.assign",
        {"proposal_id": 5, "number": "2026-0005", "mode": "single", "units": ["transport"]},
    )
    heard = run_example_client(
        settings, "--unit", "transport", "listen", "--auto-sign", "--count", "1", "--timeout", "20"
    )
    assert heard.returncode == 0, heard.stderr
    event = json.loads(heard.stdout.splitlines()[0])
    assert event["routing_key"] == "transport.assignment.created"
    assignment_id = event["event"]["assignment"]["id"]
    wait_for(lambda: assignment(settings, assignment_id).status == "signed", message="signed by the client")
    drafted = run_example_client(
        settings,
        "--unit",
        "transport",
        "draft-reply",
        str(assignment_id),
        "--category",
        "B",
        "--text",
        "已列入2027年改造计划",
        "--milestone",
        f"完成设计招标@{FAR_YEAR}-03-31",
    )
    assert drafted.returncode == 0, drafted.stderr
    met = run_example_client(
        settings,
        *("--unit", "transport", "record-contact", str(assignment_id), "--kind", "face_to_face"),
        *("--held-on", "2026-03-02", "--participants", "王处长与张委员"),
    )
    assert met.returncode == 0, met.stderr
    wait_for(lambda: contacts_of(settings, assignment_id), message="the contact recorded by the client")
    submitted = run_example_client(settings, "--unit", "transport", "submit-reply", str(assignment_id))
    assert submitted.returncode == 0, submitted.stderr
    wait_for(lambda: assignment(settings, assignment_id).status == "replied", message="replied by the client")
    [message] = taken(settings, shared_contracts.ENGINE_MESSAGES_QUEUE)
    [reply] = json.loads(message["payload"])["payload"]["replies"]
    submitted_at = reply.pop("submitted_at")  # each unit's reply is judged on time at its own submission
    assert datetime.fromisoformat(submitted_at).tzinfo is not None
    assert reply == {
        "unit": "transport",
        "category": "B",
        "text": "已列入2027年改造计划",
        "milestones": [{"milestone": 1, "what": "完成设计招标", "due": f"{FAR_YEAR}-03-31"}],
        "face_to_face": True,  # the contact the client recorded before submitting
    }


def test_the_example_client_cannot_act_for_another_unit_or_read_its_queue(assignment_service):
    settings = assignment_service
    ids = assign_several(settings)
    sneaky = run_example_client(settings, "--unit", "education", "sign", str(ids["education"]))
    assert sneaky.returncode != 0 and "ACCESS_REFUSED" in sneaky.stderr
    peeking = run_example_client(settings, "--unit", "education", "listen", "--count", "1", "--timeout", "5")
    assert peeking.returncode != 0 and "ACCESS_REFUSED" in peeking.stderr
    assert assignment(settings, ids["education"]).status == "assigned"


def test_the_example_client_explains_itself():
    shown = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "unit_client.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.returncode == 0 and "listen" in shown.stdout and "submit-reply" in shown.stdout


def test_a_job_still_queued_when_its_instance_was_cancelled_is_answered_without_running(assignment_service):
    """The engine sent the job, then an operator cancelled the instance; the service heard the
    cancellation first. The job makes no assignment after the assignments were closed: it is
    answered ``process_cancelled`` (the engine drops that answer) and a redelivery changes nothing."""
    from shared.db import transaction as in_transaction
    from services.assignment.models import Inbox
    from tests.support import process_cancelled

    settings = assignment_service
    number = "2026-0077"
    publish(
        settings.amqp_uri,
        shared_contracts.EVENTS_EXCHANGE,
        shared_contracts.PROCESS_CANCELLED,
        process_cancelled(number, "撤销：重复立案", "ops.sun", process_id="proposal", instance_id="instance-1"),
    )
    db = session_factory(settings.database_url("assignment"))

    def heard():
        with in_transaction(db) as s:
            return s.get(Inbox, "cancelled:instance-1") is not None

    wait_for(heard, timeout=30, message="the cancellation remembered")
    job = {"proposal_id": 1, "number": number, "mode": "several", "units": ["transport", "education"]}
    job_id = send_job(settings, "assignment.assign", job)
    [result] = taken(settings, shared_contracts.ENGINE_RESULTS_QUEUE)
    answer = json.loads(result["payload"])
    assert answer["job_id"] == job_id and answer["status"] == "error"
    assert answer["error"]["code"] == "process_cancelled" and "ops.sun" in answer["error"]["message"]
    with in_transaction(db) as s:
        assert s.scalar(select(func.count()).select_from(Assignment).where(Assignment.number == number)) == 0
        assert s.get(Inbox, job_id).status == "error"
    # No unit heard of an assignment.
    assert get_messages(vhost_of(settings), contracts.unit_queue("transport")) == []
    # A job of another instance runs as ever.
    other = send_job(settings, "assignment.assign", {**job, "number": "2026-0078"}, instance_id="instance-2")
    [result] = taken(settings, shared_contracts.ENGINE_RESULTS_QUEUE)
    answer = json.loads(result["payload"])
    assert answer["job_id"] == other and answer["status"] == "ok"
