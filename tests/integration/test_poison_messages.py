"""Poison messages, against the real broker and every service running: any message on any queue
the services consume — no ``reply_to``, not JSON, JSON of the wrong type, a value out of range or
one the database cannot hold, a content type we do not take, a body too large — ends in ``ztc.dead``
with its reason, and the service that took it keeps working. A handler that keeps failing on one
message gives up after exactly ``ZTC_MESSAGE_MAX_ATTEMPTS`` attempts and the next message is handled.

One system per database kind serves every test here (each row only adds one message)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy

from shared import clock, contracts
from shared.db import migrate
from shared.messaging import poison
from tests import support
from tests.integration.conftest import DOMAIN_SERVICES, System
from tests.support import SigningRpc, free_port, get_messages, wait_for

from .test_smoke_over_the_bus import DATA

MAX_BYTES = 64 * 1024
LI = {"user": "member.li", "roles": ["member"], "unit": None}
OPERATOR = {"user": "ops.sun", "roles": ["operator"], "unit": None}  # raw starts are for operators
ITEM = {
    "title": "关于老旧小区加装电梯的建议",
    "situation": "老旧小区多为六层以下住宅，老年住户上下楼困难。",
    "analysis": "加装电梯需要全体业主同意，费用分摊和低层住户补偿难以协调。",
    "suggestion": "出台费用分摊指引，设立加装电梯协调专班，给予财政补贴。",
}
LONE_SURROGATE = "\ud800"  # JSON can carry it ("\ud800"); no database encoding can


@pytest.fixture(scope="module")
def running(db_kind, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"poison-{db_kind}")
    with contextlib.ExitStack() as stack:
        vhost = stack.enter_context(support.rabbit_vhost())
        template = (
            f"sqlite:///{tmp}/{{service}}.db"
            if db_kind == "sqlite"
            else stack.enter_context(support.postgres_databases())
        )
        settings = support.make_settings(
            tmp, vhost, template, ZTC_GATEWAY_PORT=str(free_port()), ZTC_MESSAGE_MAX_BYTES=str(MAX_BYTES)
        )
        migrate("gateway", settings.database_url("gateway"))
        system = System(settings, ("engine", *DOMAIN_SERVICES, "gateway"))
        stack.callback(system.stop)
        # A department's system and a member's app, each on its own broker user (its user_id).
        from shared.messaging import access

        unit, app = access.unit_grant(settings, "transport"), access.submitter_grant(settings, "member", "member.li")
        uris = stack.enter_context(support.broker_users(settings, [unit, app]))
        proxy = ClusterRpcProxy(settings.nameko_config(), timeout=15)  # a dead service fails, not hangs
        rpc = SigningRpc(proxy.start(), settings)
        stack.callback(proxy.stop)
        yield SimpleNamespace(
            settings=settings,
            vhost=vhost,
            system=system,
            rpc=rpc,
            db_kind=db_kind,
            gateway=f"http://127.0.0.1:{settings.gateway_port}",
            senders={"assignment": (uris[unit.user], unit.user), "intake": (uris[app.user], app.user)},
        )


def send(amqp_uri, exchange, routing_key, body, content_type="application/json", headers=None, **properties):
    """One persistent message, published with confirms, exactly as given (bytes), with the user_id
    of the connection's user unless told otherwise (as every process of ours sends)."""
    from shared.messaging.identity import user_of

    properties.setdefault("user_id", user_of(amqp_uri))
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        target = Exchange(exchange, "topic", durable=True, passive=True) if exchange else ""
        conn.Producer().publish(
            body,
            exchange=target,
            routing_key=routing_key,
            content_type=content_type,
            content_encoding="utf-8",
            headers=headers or {},
            delivery_mode=2,
            **properties,
        )


def take_dead_letters(running):
    return get_messages(running.vhost, contracts.DEAD_QUEUE)


def one_dead_letter(running, timeout=20, queue=None, properties=False):
    """The headers (or all the properties) of the one dead letter (from ``queue``, if given) that
    arrives now."""
    found = []

    def take():
        found.extend(
            m
            for m in take_dead_letters(running)
            if queue is None or m["properties"]["headers"].get("x-ztc-original-queue") == queue
        )

    def arrived():
        take()
        return found

    wait_for(arrived, timeout=timeout, message="the dead letter")
    time.sleep(0.3)  # a second one would have come by now
    take()
    assert len(found) == 1, [m["properties"]["headers"].get(contracts.REASON_HEADER) for m in found]
    return found[0]["properties"] if properties else found[0]["properties"]["headers"]


def consumers(amqp_uri, queue) -> int:
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True)[2]


def still_up(running, owner, queue):
    """The service that took the message still consumes ``queue`` and answers."""
    assert consumers(running.settings.amqp_uri, queue) >= 1, f"nobody consumes {queue} any more"
    if owner == "gateway":
        assert requests.get(running.gateway + "/health", timeout=10).status_code == 200
        ready = requests.get(running.gateway + "/ready", timeout=30)  # RPC to every service and back
        assert ready.status_code == 200, ready.text
    else:
        assert getattr(running.rpc, owner).ping() == {"service": owner, "status": "ok"}


def reply_queue(running):
    """The gateway's RPC reply queue (its name ends with the routing key replies use)."""
    resp = requests.get(f"{support.RABBIT_API}/queues/{running.vhost}", auth=support.RABBIT_AUTH, timeout=10)
    [name] = [q["name"] for q in resp.json() if q["name"].startswith("rpc.reply-gateway-")]
    return name


# -- the queue kinds, each with what can be wrong with a message ------------------------------------
def event(name, payload, subject="2026-0001"):
    return {
        "event_id": uuid.uuid4().hex,
        "name": name,
        "occurred_at": clock.now().isoformat(),
        "subject": subject,
        "thread": None,
        "members": [],
        "payload": payload,
    }


def signed(**payload):
    return event(
        contracts.ASSIGNMENT_SIGNED,
        {"unit": "transport", "assignment_id": 1, "at": clock.now().isoformat(), "by": "handler.zhao", **payload},
    )


NOT_JSON = b'{"not json'
JOBS = (contracts.JOBS_EXCHANGE, "intake.record_submission", contracts.job_queue("intake"), "intake")
RESULTS = (contracts.RESULTS_EXCHANGE, contracts.RESULT_ROUTING_KEY, contracts.ENGINE_RESULTS_QUEUE, "engine")
MESSAGES = (contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, contracts.ENGINE_MESSAGES_QUEUE, "engine")
STARTS = (contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY, contracts.ENGINE_STARTS_QUEUE, "engine")
EVENTS = (contracts.EVENTS_EXCHANGE, contracts.ASSIGNMENT_SIGNED, contracts.events_queue("supervision"), "supervision")
UNITS = (contracts.UNIT_COMMANDS_EXCHANGE, "transport.sign", contracts.UNIT_COMMANDS_QUEUE, "assignment")
OPINIONS = (
    contracts.MESSAGES_EXCHANGE,
    contracts.OPINION_SUBMIT_ROUTING_KEY,
    contracts.OPINION_SUBMISSIONS_QUEUE,
    "intake",
)
NOTIFICATIONS = (contracts.EVENTS_EXCHANGE, "notify.reminder", contracts.events_queue("gateway"), "gateway")
REPLIES = ("nameko-rpc", None, None, "gateway")  # the gateway's reply queue, found when the test runs
JOB = {
    "job_id": "poison-1",
    "instance_id": "i-1",
    "task_id": "t-1",
    "operation": "intake.record_submission",
    "params": {},
    "attempt": 1,
}


def sealed(job):
    """A job as the engine seals it (what a bad job that got past the seal would be)."""
    from shared import principal as signing

    return signing.seal(job, support.TEST_BUS_KEY.encode(), signing.JOB)


ROWS = [
    # queue, what is wrong, body, content type, reason (any of), kind
    (JOBS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (JOBS, "wrong type", [1, 2], "application/json", ["malformed job", "JSON object"], poison.MALFORMED),
    (
        JOBS,
        "integer out of range",
        sealed({**JOB, "attempt": 10**30}),
        "application/json",
        ["undecodable message", "is beyond 64 bits"],
        poison.UNDECODABLE,
    ),
    (
        JOBS,
        "lone surrogate",
        sealed({**JOB, "job_id": LONE_SURROGATE}),
        "application/json",
        ["the database cannot hold it"],
        poison.REFUSED,
    ),
    (JOBS, "not sealed by the engine", JOB, "application/json", ["forbidden: an unsealed job"], poison.REFUSED),
    (RESULTS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (RESULTS, "wrong type", "done", "application/json", ["malformed job result"], poison.REFUSED),
    (
        RESULTS,
        "integer out of range",
        {**JOB, "status": "ok", "attempt": 10**30},
        "application/json",
        ["undecodable message", "is beyond 64 bits"],
        poison.UNDECODABLE,
    ),
    (MESSAGES, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (MESSAGES, "wrong type", [1], "application/json", ["malformed message"], poison.REFUSED),
    (
        MESSAGES,
        "lone surrogate",
        {"name": "unit_reply", "correlation_key": LONE_SURROGATE, "message_id": "m-1"},
        "application/json",
        ["the database cannot hold it"],
        poison.REFUSED,
    ),
    (STARTS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (
        STARTS,
        "content type we do not take",
        b"\x80\x04K\x01.",
        "application/x-python-serialize",
        ["undecodable message", "content type is application/x-python-serialize"],
        poison.UNDECODABLE,
    ),
    (STARTS, "wrong type", "start", "application/json", ["malformed start command"], poison.REFUSED),
    (
        STARTS,
        "lone surrogate",
        {"command_id": "c-1", "process_id": "smoke", "business_key": LONE_SURROGATE, "data": DATA},
        "application/json",
        ["the database cannot hold it"],
        poison.REFUSED,
    ),
    (EVENTS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (EVENTS, "wrong type", "signed", "application/json", ["invalid_input"], poison.REFUSED),
    (
        EVENTS,
        "lone surrogate",
        signed(by=LONE_SURROGATE),
        "application/json",
        ["the database cannot hold it"],
        poison.REFUSED,
    ),
    (
        EVENTS,
        "value too long for its column",
        {**signed(), "subject": "X" * 80},
        "application/json",
        ["the database cannot hold it", "too long"],
        poison.REFUSED,
    ),  # PostgreSQL: SQLite keeps it
    (UNITS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (UNITS, "wrong type", [1], "application/json", ["invalid_input"], poison.REFUSED),
    # Beyond 64 bits: no JSON column keeps it exactly (it came back a float), so it is refused as
    # it is read, on both databases (SQLite had refused it as a value it cannot bind, PostgreSQL as
    # an unknown assignment).
    (
        UNITS,
        "integer out of range",
        {"assignment_id": 10**30},
        "application/json",
        ["undecodable message", "is beyond 64 bits: send it as a string"],
        poison.UNDECODABLE,
    ),
    (
        UNITS,
        "not a number",
        b'{"assignment_id": NaN}',
        "application/json",
        ["undecodable message", "NaN is not a JSON number"],
        poison.UNDECODABLE,
    ),
    (
        UNITS,
        "too large",
        {"assignment_id": 1, "padding": "x" * MAX_BYTES},
        "application/json",
        ["too large"],
        poison.TOO_LARGE,
    ),
    (
        UNITS,
        "a key twice",
        b'{"assignment_id": 1, "assignment_id": 2}',
        "application/json",
        ["undecodable message", "'assignment_id' is given twice"],
        poison.UNDECODABLE,
    ),
    (UNITS, "no content type", b'{"assignment_id": 1}', None, ["it has no content type"], poison.UNDECODABLE),
    (UNITS, "text", b'{"assignment_id": 1}', "text/plain", ["content type is text/plain"], poison.UNDECODABLE),
    (OPINIONS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (OPINIONS, "wrong type", [1], "application/json", ["invalid_input"], poison.REFUSED),
    (
        OPINIONS,
        "lone surrogate",
        {"reference": LONE_SURROGATE, "principal": LI, "item": ITEM},
        "application/json",
        ["the database cannot hold it"],
        poison.REFUSED,
    ),
    (NOTIFICATIONS, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (NOTIFICATIONS, "wrong type", 42, "application/json", ["invalid_input"], poison.REFUSED),
    (
        NOTIFICATIONS,
        "lone surrogate",
        event("notify.reminder", {"recipients": [LONE_SURROGATE], "title": "t"}),
        "application/json",
        ["the database cannot hold it"],
        poison.REFUSED,
    ),
    (REPLIES, "not JSON", NOT_JSON, "application/json", ["undecodable message"], poison.UNDECODABLE),
    (REPLIES, "not a reply", [1], "application/json", ["not a nameko RPC reply"], poison.MALFORMED),
]


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "where, wrong, body, content_type, reasons, kind",
    ROWS,
    ids=[f"{row[0][2] or 'rpc.reply-gateway'}: {row[1]}" for row in ROWS],
)
def test_a_malformed_message_is_dead_lettered_with_its_reason_and_the_service_stays_up(
    running, where, wrong, body, content_type, reasons, kind
):
    if wrong == "value too long for its column" and running.db_kind == "sqlite":
        pytest.skip("SQLite does not enforce a column's length")
    exchange, routing_key, queue, owner = where
    if queue is None:
        queue = reply_queue(running)
        routing_key = queue.split("rpc.reply-gateway-", 1)[1]
    take_dead_letters(running)
    if (exchange, owner) in ((contracts.UNIT_COMMANDS_EXCHANGE, "assignment"), (contracts.MESSAGES_EXCHANGE, "intake")):
        uri, user = running.senders[owner]  # a department's system, a member's app: their own user
        send(uri, exchange, routing_key, body, content_type, user_id=user)
    else:
        send(running.settings.amqp_uri, exchange, routing_key, body, content_type)

    headers = one_dead_letter(running)
    reason = headers[contracts.REASON_HEADER]
    assert any(r in reason for r in reasons), reason
    if len(reasons) > 1 and reasons[0] in ("malformed job", "malformed job result", "undecodable message"):
        assert reasons[1] in reason, reason
    assert headers[poison.REASON_KIND_HEADER] == kind
    assert headers["x-ztc-original-queue"] == queue
    assert headers["x-ztc-original-routing-key"] == routing_key
    still_up(running, owner, queue)


# -- RPC ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def reply_to(amqp_uri):
    """A reply queue of our own on nameko's RPC exchange, as a caller would have."""
    key = uuid.uuid4().hex
    with Connection(amqp_uri) as conn:
        queue = Queue(
            f"rpc.reply-test-{key}", Exchange("nameko-rpc", "topic", durable=True), routing_key=key, auto_delete=True
        )(conn.default_channel)
        queue.declare()
        yield key, queue


RPC_ROWS = [
    # what is wrong, routing key, body, content type, properties, headers, reason
    (
        "no reply_to, sent straight to rpc-engine",
        "",
        {"args": [], "kwargs": {}},
        "application/json",
        {"correlation_id": "c-1"},
        {},
        "without reply_to",
    ),
    (
        "no correlation_id",
        "engine.versions",
        {"args": [], "kwargs": {}},
        "application/json",
        {"reply_to": "nobody"},
        {},
        "without correlation_id",
    ),
    (
        "not JSON",
        "engine.ping",
        NOT_JSON,
        "application/json",
        {"reply_to": "nobody", "correlation_id": "c-3"},
        {},
        "undecodable message",
    ),
    (
        "JSON but not args and kwargs",
        "engine.ping",
        [1, 2, 3],
        "application/json",
        {"reply_to": "nobody", "correlation_id": "c-4"},
        {},
        "not a nameko RPC payload",
    ),
    ("args not a list", "engine.versions", {"args": 5, "kwargs": {}}, "application/json", {}, {}, "without reply_to"),
    (
        "a call stack header nameko cannot read",
        "engine.ping",
        {"args": [], "kwargs": {}},
        "application/json",
        {"reply_to": "nobody", "correlation_id": "c-6"},
        {"nameko.call_id_stack": 7},
        "call_id_stack",
    ),
]


@pytest.mark.parametrize(
    "wrong, routing_key, body, content_type, properties, headers, reason", RPC_ROWS, ids=[row[0] for row in RPC_ROWS]
)
def test_an_rpc_request_the_engine_cannot_answer_is_dead_lettered_and_the_engine_answers_on(
    running, wrong, routing_key, body, content_type, properties, headers, reason
):
    take_dead_letters(running)
    if routing_key:
        send(running.settings.amqp_uri, "nameko-rpc", routing_key, body, content_type, headers, **properties)
    else:
        send(running.settings.amqp_uri, "", "rpc-engine", body, content_type, headers, **properties)
    dead = one_dead_letter(running)
    assert reason in dead[contracts.REASON_HEADER]
    assert dead["x-ztc-original-queue"] == "rpc-engine"
    assert running.rpc.engine.ping() == {"service": "engine", "status": "ok"}
    assert [v["process_id"] for v in running.rpc.engine.versions()] == ["smoke"]
    assert consumers(running.settings.amqp_uri, "rpc-engine") >= 1


def test_a_caller_that_sent_a_malformed_request_is_answered_with_an_error_not_left_waiting(running):
    take_dead_letters(running)
    with reply_to(running.settings.amqp_uri) as (key, queue):
        send(
            running.settings.amqp_uri,
            "nameko-rpc",
            "engine.versions",
            {"kwargs": {}},
            reply_to=key,
            correlation_id="c-answer",
        )
        answer = wait_for(lambda: queue.get(no_ack=True), message="the error reply")
        assert answer.properties["correlation_id"] == "c-answer"
        assert answer.payload["result"] is None
        assert answer.payload["error"]["exc_type"] == "MalformedRequest"
        assert "args or kwargs missing" in answer.payload["error"]["value"]
    assert "args or kwargs missing" in one_dead_letter(running)[contracts.REASON_HEADER]
    assert running.rpc.engine.ping()["status"] == "ok"


# -- bounded attempts ------------------------------------------------------------------------------
def test_a_handler_that_keeps_failing_gives_up_after_the_bounded_attempts_and_the_next_message_is_handled(
    running, monkeypatch
):
    from services.intake import opinions

    real, calls = opinions.submit_command, []

    def breaks_on_poison(uow, rules, body, sender):
        calls.append((body.get("reference"), sender.kind, sender.name))
        if body.get("reference") == "poison":
            raise RuntimeError("the handler broke")
        return real(uow, rules, body, sender)

    monkeypatch.setattr(opinions, "submit_command", breaks_on_poison)
    take_dead_letters(running)
    uri = running.settings.amqp_uri
    app_uri, app_user = running.senders["intake"]
    send(
        app_uri,
        contracts.MESSAGES_EXCHANGE,
        contracts.OPINION_SUBMIT_ROUTING_KEY,
        {"reference": "poison", "item": ITEM},
        headers={"x-trace": "keep-me"},
        user_id=app_user,
    )
    send(
        app_uri,
        contracts.MESSAGES_EXCHANGE,
        contracts.OPINION_SUBMIT_ROUTING_KEY,
        {"reference": "good-after-poison", "item": {**ITEM, "title": "关于夜市管理的建议"}},
        user_id=app_user,
    )

    # (The good item's start command finds no opinion process deployed here: a dead letter of its own.)
    dead = one_dead_letter(running, queue=contracts.OPINION_SUBMISSIONS_QUEUE)
    limit = running.settings.message_max_attempts
    assert limit == 5
    assert dead[poison.ATTEMPTS_HEADER] == limit
    assert dead[poison.REASON_KIND_HEADER] == poison.EXHAUSTED
    assert dead[contracts.REASON_HEADER] == f"failed {limit} attempt(s); last: RuntimeError: the handler broke"
    assert dead["x-ztc-original-exchange"] == contracts.MESSAGES_EXCHANGE  # where it was first sent,
    assert dead["x-ztc-original-routing-key"] == contracts.OPINION_SUBMIT_ROUTING_KEY  # for a replay
    assert dead["x-trace"] == "keep-me"
    assert dead["x-ztc-sender"] == app_user  # a replay still acts for the app's member
    # Every attempt (each a copy sent back by intake itself) still knew who had sent it.
    assert calls.count(("poison", "member", "member.li")) == limit
    titles = wait_for(
        lambda: [
            i["title"]
            for i in running.rpc.intake.opinion_page(LI, {"mine": True})["items"]
            if i["title"] == "关于夜市管理的建议"
        ],
        message="the good message handled",
    )
    assert titles == ["关于夜市管理的建议"] and calls.count(("good-after-poison", "member", "member.li")) == 1
    assert support.ready_count(uri, contracts.OPINION_SUBMISSIONS_QUEUE) == 0


def test_a_failure_that_passes_is_tried_again_and_the_message_handled_once(running, monkeypatch):
    from services.assignment import commands

    real, calls = commands.from_unit_system, []

    def fails_twice(uow, rules, routing_key, body, sender, *args, **kwargs):
        calls.append(routing_key)
        if len(calls) <= 2:
            raise ConnectionResetError(104, "the database went away")
        return real(uow, rules, routing_key, body, sender, *args, **kwargs)

    monkeypatch.setattr(commands, "from_unit_system", fails_twice)
    take_dead_letters(running)
    unit_uri, unit_user = running.senders["assignment"]
    send(
        unit_uri,
        contracts.UNIT_COMMANDS_EXCHANGE,
        "transport.sign",
        {"assignment_id": 424242},
        message_id="cmd-424242",
        expiration=600,
        timestamp=1_700_000_000,
        app_id="transport-system",
        user_id=unit_user,
    )

    # The third attempt runs the command, with the routing key it was first sent with; it is refused
    # (no such assignment) and dead-lettered, which shows it got there and after how many attempts.
    dead_properties = one_dead_letter(running, properties=True)
    dead = dead_properties["headers"]
    assert calls == ["transport.sign"] * 3
    assert dead[contracts.REASON_HEADER].startswith("not_found")
    assert dead[poison.ATTEMPTS_HEADER] == 3
    assert dead["x-ztc-original-routing-key"] == "transport.sign"
    assert (dead_properties["message_id"], dead_properties["app_id"]) == ("cmd-424242", "transport-system")
    assert dead["x-ztc-sender"] == unit_user


@pytest.mark.both_databases
def test_a_job_whose_effects_the_database_refuses_at_commit_answers_failed_and_becomes_an_incident(
    running, monkeypatch
):
    """Not a dead letter and not a retry of the message: the engine hears that the job failed, retries
    it as it does any failed job, and raises an incident an operator can see."""
    from services.intake import operations
    from services.intake.models import Submission

    real = operations.record_submission

    def refused_at_commit(uow, params, principal):
        done = real(uow, params, principal)
        uow.session.get(Submission, done["id"]).title = LONE_SURROGATE  # flushed only by the commit
        return done

    monkeypatch.setattr(operations, "record_submission", refused_at_commit)
    take_dead_letters(running)
    inst = running.rpc.engine.start("smoke", "REFUSED-AT-COMMIT", DATA, OPERATOR)
    instance = wait_for(
        lambda: (lambda i: i if i["status"] == "incident" else None)(running.rpc.engine.get_instance(inst["id"])),
        timeout=30,
        message="the incident",
    )
    [incident] = instance["incidents"]
    assert incident["operation"] == "intake.record_submission"
    assert "surrogates not allowed" in incident["error"]
    retries = [h for h in running.rpc.engine.history(inst["id"]) if h["action"] == "job_retry"]
    assert len(retries) == running.settings.job_max_attempts - 1
    assert take_dead_letters(running) == []
    assert support.ready_count(running.settings.amqp_uri, contracts.job_queue("intake")) == 0
    still_up(running, "intake", contracts.job_queue("intake"))
