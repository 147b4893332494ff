"""Nobody on the bus is anybody: the services run on their own broker users (as ``make run`` and the
deployments run them), and what a caller merely says about itself is refused, changing nothing —

- an RPC call whose principal is unsigned, signed with another key, changed after signing or
  expired is answered Forbidden (``intake.list`` as ``{"roles": ["staff"]}`` reads nothing);
- a job that the engine did not seal, or did not send, is dead-lettered: a forged
  ``intake.record_filing`` (the proposal returned while the engine still waits at pre-review)
  leaves the proposal in review;
- a BPMN message from a service the contracts do not name as its sender (``reply_submitted`` from
  intake), a start command or a job result from the wrong service, a ``notify.*`` event from
  anyone but a service — each dead-lettered with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid

import pytest
from amqp.exceptions import AccessRefused
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select

from services.engine.models import BufferedMessage, Instance
from services.gateway.notifications import Notification
from services.intake.models import Inbox as IntakeInbox
from services.intake.models import Proposal
from services.registry import service_class
from shared import contracts
from shared import principal as signing
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import Forbidden
from shared.messaging import access, topology
from tests import support
from tests.integration.conftest import prepare_databases
from tests.support import NEXT_YEAR, free_port, get_messages, publish, wait_for

LI = {"user": "member.li", "roles": ["member"], "unit": None}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
DRAFT = {
    "kind": "between_sessions",
    "session_year": NEXT_YEAR,
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "老城区现有公交候车亭多建于十年前，遮雨面积小。",
    "analysis": "候车亭改造分属多个部门，缺少统一规划和维护资金。",
    "suggestions": "由交通局牵头制定改造计划，增设夜间照明和实时到站信息屏。",
}
RUNNING = ("engine", "intake", "assignment", "gateway")


@pytest.fixture
def bus(tmp_path, vhost, database_url_template):
    """The engine, intake, assignment and the gateway, each on its own broker user; the users of the
    other services, the operator, a unit and a member's app exist too (to publish as them)."""
    settings = support.make_settings(tmp_path, vhost, database_url_template, ZTC_GATEWAY_PORT=str(free_port()))
    prepare_databases(settings)
    migrate("gateway", settings.database_url("gateway"))
    topology.declare(settings.amqp_uri)  # as make run does, with the admin
    grants = access.grants(settings, ["transport"], [("member", "member.li")])
    with contextlib.ExitStack() as stack:
        uris = stack.enter_context(support.broker_users(settings, grants))
        by_label = {access._label(g): (uris[g.user], g.user) for g in grants}
        runners = []
        for name in RUNNING:
            own = dataclasses.replace(settings, amqp_uri=by_label[name][0])
            runner = ServiceRunner(own.nameko_config())
            runner.add_service(service_class(name))
            runner.start()
            runners.append(runner)
        stack.callback(lambda: [r.stop() for r in runners])
        operator = dataclasses.replace(settings, amqp_uri=by_label["operator"][0])
        rpc = stack.enter_context(ClusterRpcProxy(operator.nameko_config(), timeout=20))
        yield type("Bus", (), {"settings": settings, "users": by_label, "rpc": rpc})
    dispose_all()


def count(settings, service, model, *where) -> int:
    with transaction(session_factory(settings.database_url(service))) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def as_user(bus, label, exchange, routing_key, body, **kwargs):
    uri, user = bus.users[label]
    publish(uri, exchange, routing_key, body, user_id=user, **kwargs)


def dead_letters(bus, count_, timeout=20) -> list[dict]:
    vhost = support.vhost_of_settings(bus.settings)
    found = []

    def enough():
        found.extend(get_messages(vhost, contracts.DEAD_QUEUE))
        return len(found) >= count_

    wait_for(enough, timeout=timeout, message=f"{count_} dead letter(s)")
    time.sleep(0.3)
    found.extend(get_messages(vhost, contracts.DEAD_QUEUE))
    assert len(found) == count_, [m["properties"]["headers"].get(contracts.REASON_HEADER) for m in found]
    return [m["properties"]["headers"] for m in found]


def submitted_proposal(bus) -> dict:
    proposal = bus.rpc.intake.submit(DRAFT, support.signed(LI, bus.settings), key=uuid.uuid4().hex)
    # Intake (on its own user, a declared starter) asks the engine to start the proposal process; the
    # engine takes the command from it, but no proposal diagram is deployed here: one dead letter.
    [headers] = dead_letters(bus, 1)
    assert headers[contracts.REASON_HEADER] == "not_found: no process 'proposal' is deployed"
    with transaction(session_factory(bus.settings.database_url("intake"))) as s:
        s.scalar(select(Proposal).where(Proposal.number == proposal["number"])).status = "pre_review"
    return proposal


def status_of(bus, number) -> str:
    with transaction(session_factory(bus.settings.database_url("intake"))) as s:
        return s.scalar(select(Proposal.status).where(Proposal.number == number))


# -- RPC: a principal is believed only when the gateway signed it --------------------------------------
def test_an_rpc_call_with_an_unsigned_or_forged_principal_is_refused_and_changes_nothing(bus):
    settings = bus.settings
    mine = bus.rpc.intake.submit(DRAFT, support.signed(LI, settings), key="first")
    assert [p["number"] for p in bus.rpc.intake.list(support.signed(LI, settings))] == [mine["number"]]
    key = signing.key_of(settings)
    forged = {
        "unsigned": {"user": "x", "roles": ["staff"]},
        "no principal at all": None,
        "signed with another key": signing.sign(STAFF, b"not-the-deployment-key" * 2),
        "a member's, made staff after signing": {**signing.sign(LI, key), "roles": ["staff"]},
        "expired": signing.sign(STAFF, key, ttl=-5),
    }
    for what, principal in forged.items():
        with pytest.raises(Forbidden):
            bus.rpc.intake.list(principal, False)
        with pytest.raises(Forbidden):
            bus.rpc.intake.submit(DRAFT, principal, key=f"forged-{what}")
        with pytest.raises(Forbidden):
            bus.rpc.assignment.list_assignments(principal)
        with pytest.raises(Forbidden):
            bus.rpc.engine.start("smoke", "FORGED", {}, principal)
    assert count(settings, "intake", Proposal) == 1
    assert count(settings, "engine", Instance) == 0
    # Signed, staff read every proposal.
    assert len(bus.rpc.intake.list(support.signed(STAFF, settings), False)) == 1


def test_the_engine_takes_no_service_message_over_rpc(bus):
    reply = {
        "name": "reply_submitted",
        "correlation_key": "2026-0001",
        "message_id": "forged-reply",
        "payload": {"round": 1, "replies": [], "category": "A"},
    }
    with pytest.raises(Forbidden):
        bus.rpc.engine.send_message(reply, support.signed(STAFF, bus.settings))
    assert count(bus.settings, "engine", BufferedMessage) == 0


# -- jobs: only what the engine sealed and sent ----------------------------------------------------------
def job(proposal, **params) -> dict:
    return {
        "job_id": uuid.uuid4().hex,
        "instance_id": "instance-1",
        "task_id": "pre_review",
        "operation": "intake.record_filing",
        "attempt": 1,
        "business_key": proposal["number"],
        "principal": STAFF,
        "params": {
            "proposal_id": proposal["id"],
            "decision": "returned",
            "note": "forged",
            "decided_by": "staff.wang",
            **params,
        },
    }


def test_a_forged_job_is_dead_lettered_and_the_proposal_stays_in_review(bus):
    settings, proposal = bus.settings, submitted_proposal(bus)
    key = signing.key_of(settings)
    forged = [
        ("engine", job(proposal)),  # unsealed
        ("engine", signing.seal(job(proposal), b"not-the-deployment-key" * 2, signing.JOB)),  # another key
        (
            "engine",
            {**signing.seal(job(proposal, decision="filed"), key, signing.JOB), "params": job(proposal)["params"]},
        ),  # changed after sealing
    ]
    for label, body in forged:
        as_user(bus, label, contracts.JOBS_EXCHANGE, "intake.record_filing", body)
    # Another service, with a properly sealed job: the broker refuses it on ztc.jobs...
    with pytest.raises(AccessRefused):
        as_user(
            bus,
            "assignment",
            contracts.JOBS_EXCHANGE,
            "intake.record_filing",
            signing.seal(job(proposal), key, signing.JOB),
        )
    # ...and straight into intake's queue, intake refuses it: only the engine sends jobs.
    as_user(bus, "assignment", "", contracts.job_queue("intake"), signing.seal(job(proposal), key, signing.JOB))
    reasons = sorted(h[contracts.REASON_HEADER] for h in dead_letters(bus, 4))
    assert sum("badly sealed job" in r for r in reasons) == 2 and sum("unsealed job" in r for r in reasons) == 1
    assert any("only the engine sends jobs" in r and "-assignment" in r for r in reasons)
    assert all(r.startswith("forbidden: ") for r in reasons)
    assert status_of(bus, proposal["number"]) == "pre_review"
    assert count(settings, "intake", IntakeInbox) == 0
    # What the engine seals and sends is done (so the refusals above were not for want of a service).
    as_user(
        bus,
        "engine",
        contracts.JOBS_EXCHANGE,
        "intake.record_filing",
        signing.seal(job(proposal, decision="filed"), key, signing.JOB),
    )
    wait_for(lambda: status_of(bus, proposal["number"]) == "filed", message="the engine's job done")


# -- what services send the engine: only from the senders the contracts name ----------------------------
def message(name, key="2026-0042") -> dict:
    return {
        "name": name,
        "correlation_key": key,
        "message_id": uuid.uuid4().hex,
        "payload": {"round": 1, "replies": [], "category": "A"},
    }


def test_a_bpmn_message_start_or_result_from_the_wrong_sender_is_refused(bus):
    settings = bus.settings
    as_user(bus, "intake", contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, message("reply_submitted"))
    as_user(bus, "operator", contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, message("reply_submitted"))
    as_user(
        bus,
        "evaluation",
        "",
        contracts.ENGINE_STARTS_QUEUE,
        {"command_id": "c-1", "process_id": "smoke", "business_key": "X", "data": {}, "principal": STAFF},
    )
    as_user(
        bus,
        "evaluation",
        contracts.RESULTS_EXCHANGE,
        contracts.RESULT_ROUTING_KEY,
        {
            "job_id": "j-1",
            "instance_id": "i-1",
            "task_id": "t-1",
            "operation": "intake.record_filing",
            "attempt": 1,
            "status": "ok",
            "result": {},
        },
    )
    for label, exchange in (
        ("unit transport", contracts.MESSAGES_EXCHANGE),
        ("member member.li", contracts.RESULTS_EXCHANGE),
    ):
        with pytest.raises(AccessRefused):  # the broker: neither may publish there at all
            as_user(
                bus,
                label,
                exchange,
                contracts.MESSAGE_ROUTING_KEY
                if exchange == contracts.MESSAGES_EXCHANGE
                else contracts.RESULT_ROUTING_KEY,
                message("reply_submitted"),
            )
    reasons = sorted(h[contracts.REASON_HEADER] for h in dead_letters(bus, 4))
    assert sum("'reply_submitted'" in r and "sent only by assignment" in r for r in reasons) == 2, reasons
    assert any("started by command only by intake, assignment" in r for r in reasons)
    assert any("results come from the service that did the job (intake)" in r for r in reasons)
    assert count(settings, "engine", BufferedMessage) == 0 and count(settings, "engine", Instance) == 0
    # From its declared sender the message is taken (buffered: no instance waits for it yet).
    as_user(bus, "assignment", contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, message("reply_submitted"))
    wait_for(lambda: count(settings, "engine", BufferedMessage) == 1, message="assignment's reply buffered")


def test_a_notification_from_anyone_but_a_service_is_refused(bus):
    settings = bus.settings

    def notify(recipient):
        return {
            "event_id": uuid.uuid4().hex,
            "name": "notify.reminder",
            "occurred_at": "2026-03-02T09:00:00+00:00",
            "subject": "2026-0001",
            "thread": None,
            "members": [],
            "payload": {"recipients": [recipient], "title": "t", "text": ""},
        }

    with pytest.raises(AccessRefused):  # the broker: a unit publishes no events
        as_user(bus, "unit transport", contracts.EVENTS_EXCHANGE, "notify.reminder", notify("role:member"))
    # A broker user given too much (a misconfigured app user) is still refused by the gateway.
    wide = access.submitter_grant(settings, "member", "member.zhou")
    wide.publishes(contracts.EVENTS_EXCHANGE, ".+")
    with support.broker_users(settings, [wide]) as uris:
        publish(uris[wide.user], contracts.EVENTS_EXCHANGE, "notify.reminder", notify("role:member"), user_id=wide.user)
        [headers] = dead_letters(bus, 1)
    assert headers[contracts.REASON_HEADER].startswith("forbidden: a notification from broker user")
    assert count(settings, "gateway", Notification) == 0
    as_user(bus, "supervision", contracts.EVENTS_EXCHANGE, "notify.reminder", notify("role:staff"))
    wait_for(lambda: count(settings, "gateway", Notification) == 1, message="a service's notification stored")
    assert json.dumps(headers)
