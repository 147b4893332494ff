"""Poison messages, the pure parts: which failures are refusals (dead-lettered at once) and which
are worth another attempt, how attempts are counted on classic and quorum queues, when to give up,
and what a message sent back or dead-lettered carries."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.message import Message
from marshmallow import ValidationError
from sqlalchemy import exc as sa

from shared import config, contracts
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, ZtcError
from shared.messaging import poison
from shared.messaging.deadletter import publish_again, publish_dead_letter
from shared.messaging.entrypoints import settle_failure


def db_error(cls, text="boom"):
    return cls("INSERT ...", {}, Exception(text))


@pytest.mark.parametrize(
    "exc",
    [
        InvalidInput("bad", {"x": ["Not a valid integer."]}),
        NotFound("no assignment 7"),
        Forbidden("not yours"),
        Conflict("already signed"),
        ValidationError({"id": ["Missing data for required field."]}),
        db_error(sa.DataError, "integer out of range"),
        db_error(sa.DataError, "value too long for type character varying(64)"),
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        sa.StatementError("wrapped", "SELECT", {}, OverflowError("too large")),
    ],
)
def test_what_can_never_succeed_is_a_refusal(exc):
    verdict = poison.classify(exc)
    assert verdict.kind == poison.REFUSAL
    assert poison.decide(verdict, attempt=1, max_attempts=5) == poison.DEAD_LETTER


def test_a_refusal_says_why():
    assert poison.classify(NotFound("no assignment 7")).reason == "not_found: no assignment 7"
    assert poison.classify(InvalidInput("bad", {"x": ["y"]})).reason == "invalid_input: bad: {'x': ['y']}"
    assert "integer out of range" in poison.classify(db_error(sa.DataError, "integer out of range")).reason


@pytest.mark.parametrize(
    "exc",
    [
        db_error(sa.OperationalError, "server closed the connection unexpectedly"),
        db_error(sa.InterfaceError),
        sa.TimeoutError("QueuePool limit"),
        ConnectionResetError(104, "reset"),
        KombuOperationalError("refused"),
        RuntimeError("a bug"),
        KeyError("x"),
        TypeError("'int' object is not subscriptable"),
        ZtcError("an internal error"),
        db_error(sa.ProgrammingError, 'relation "outcomes" does not exist'),
    ],
)
def test_other_failures_are_tried_again_up_to_the_limit(exc):
    verdict = poison.classify(exc)
    assert verdict.kind == poison.FAILURE
    assert [poison.decide(verdict, n, 3) for n in (1, 2, 3, 4)] == [
        poison.RETRY,
        poison.RETRY,
        poison.DEAD_LETTER,
        poison.DEAD_LETTER,
    ]
    kind, reason = poison.dead_reason(verdict, 3)
    assert kind == poison.EXHAUSTED and reason.startswith("failed 3 attempt(s); last: ")
    assert type(exc).__name__ in reason


def test_transient_failures_say_so():
    assert poison.classify(db_error(sa.OperationalError, "connection lost")).reason.startswith("transient: ")


def test_an_integrity_error_gets_one_more_attempt_then_is_refused():
    """Most often a second delivery racing the first: the next attempt finds it done. Twice, it is not."""
    verdict = poison.classify(db_error(sa.IntegrityError, "duplicate key value violates unique constraint"))
    assert verdict.kind == poison.CONFLICT
    assert poison.decide(verdict, 1, 5) == poison.RETRY
    assert poison.decide(verdict, 2, 5) == poison.DEAD_LETTER
    assert poison.decide(verdict, 1, 1) == poison.DEAD_LETTER
    assert poison.dead_reason(verdict, 2)[0] == poison.REFUSED


@pytest.mark.parametrize(
    "headers, attempt",
    [
        ({}, 1),
        (None, 1),
        ({poison.ATTEMPTS_HEADER: 2}, 3),
        ({poison.DELIVERY_COUNT_HEADER: 4}, 5),  # quorum: the broker's count
        ({poison.ATTEMPTS_HEADER: 2, poison.DELIVERY_COUNT_HEADER: 1}, 4),  # ours plus the broker's since
        ({poison.ATTEMPTS_HEADER: "3"}, 4),
        ({poison.ATTEMPTS_HEADER: b"3"}, 4),
        ({poison.ATTEMPTS_HEADER: "lots"}, 1),
        ({poison.ATTEMPTS_HEADER: -7}, 1),
        ({poison.ATTEMPTS_HEADER: [1]}, 1),
        ({poison.ATTEMPTS_HEADER: 10**30}, 1_000_001),
    ],
)
def test_attempts_are_counted_from_our_header_and_the_brokers(headers, attempt):
    assert poison.attempt_of(headers) == attempt


def test_the_pause_grows_and_is_bounded():
    assert [poison.retry_pause(n, 1.0, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert poison.retry_pause(10**9, 1.0, 10.0) == 10.0
    assert poison.retry_pause(3, 0, 10.0) == 0.0


def message(body=b'{"a": 1}', headers=None, exchange="ztc.unit-commands", routing_key="transport.sign", **properties):
    channel = SimpleNamespace(connection=object(), no_ack_consumers=None, acked=[], rejected=[])
    channel.basic_ack = lambda tag, multiple=False: channel.acked.append(tag)
    channel.basic_reject = lambda tag, requeue=False: channel.rejected.append(tag)
    return Message(
        body=body,
        channel=channel,
        delivery_tag=1,
        content_type="application/json",
        content_encoding="utf-8",
        headers=headers or {},
        properties=properties,
        delivery_info={"exchange": exchange, "routing_key": routing_key},
    )


class Producer:
    def __init__(self):
        self.sent = []

    def publish(self, body, **kwargs):
        self.sent.append((body, kwargs))


def test_a_message_sent_back_keeps_body_properties_headers_and_where_it_was_first_published():
    original = message(
        headers={"x-trace": "t1"}, correlation_id="c-1", message_id="m-1", user_id="unit-transport", expiration="60000"
    )
    producer = Producer()
    publish_again(producer, original, contracts.UNIT_COMMANDS_QUEUE, attempts=1)
    [(body, sent)] = producer.sent
    assert body == b'{"a": 1}'
    assert (sent["exchange"], sent["routing_key"]) == ("", contracts.UNIT_COMMANDS_QUEUE)
    assert sent["headers"] == {
        "x-trace": "t1",
        poison.ATTEMPTS_HEADER: 1,
        poison.ORIGINAL_EXCHANGE_HEADER: "ztc.unit-commands",
        poison.ORIGINAL_ROUTING_KEY_HEADER: "transport.sign",
    }
    assert (sent["correlation_id"], sent["message_id"], sent["delivery_mode"]) == ("c-1", "m-1", 2)
    assert "user_id" not in sent  # the broker would refuse another user's id on our connection
    assert sent["expiration"] == 60.0  # kombu takes seconds (and sends milliseconds again)

    # Its second time round, it still knows where it came from, and its handler gets that key.
    again = message(headers=sent["headers"], exchange="", routing_key=contracts.UNIT_COMMANDS_QUEUE)
    assert poison.origin(again) == ("ztc.unit-commands", "transport.sign")
    publish_again(producer, again, contracts.UNIT_COMMANDS_QUEUE, attempts=2)
    assert producer.sent[-1][1]["headers"][poison.ORIGINAL_ROUTING_KEY_HEADER] == "transport.sign"
    assert producer.sent[-1][1]["headers"][poison.ATTEMPTS_HEADER] == 2


def test_origin_headers_are_trusted_only_on_a_message_we_sent_back():
    """A department publishes to ztc.unit-commands (it may not use the default exchange): headers it
    sets itself cannot make its command look like another unit's."""
    forged = message(headers={poison.ATTEMPTS_HEADER: 1, poison.ORIGINAL_ROUTING_KEY_HEADER: "education.sign"})
    assert poison.origin(forged) == ("ztc.unit-commands", "transport.sign")


def test_a_dead_letter_names_its_reason_kind_attempts_and_first_origin():
    sent_back = message(
        headers={
            poison.ATTEMPTS_HEADER: 4,
            poison.DELIVERY_COUNT_HEADER: 1,
            poison.ORIGINAL_EXCHANGE_HEADER: "ztc.unit-commands",
            poison.ORIGINAL_ROUTING_KEY_HEADER: "transport.sign",
        },
        exchange="",
        routing_key=contracts.UNIT_COMMANDS_QUEUE,
    )
    producer = Producer()
    publish_dead_letter(
        producer,
        sent_back,
        "failed 5 attempt(s); last: RuntimeError: x",
        contracts.UNIT_COMMANDS_QUEUE,
        poison.EXHAUSTED,
        5,
    )
    [(_, sent)] = producer.sent
    headers = sent["headers"]
    assert sent["routing_key"] == "transport.sign"
    assert headers[contracts.REASON_HEADER] == "failed 5 attempt(s); last: RuntimeError: x"
    assert headers[poison.REASON_KIND_HEADER] == poison.EXHAUSTED
    assert headers[poison.ATTEMPTS_HEADER] == 5
    assert headers["x-ztc-original-exchange"] == "ztc.unit-commands"
    assert headers["x-ztc-original-routing-key"] == "transport.sign"
    assert headers["x-ztc-original-queue"] == contracts.UNIT_COMMANDS_QUEUE
    assert poison.DELIVERY_COUNT_HEADER not in headers


GOOD_RPC = {"reply_to": "rpc.reply-gateway-1", "correlation_id": "c", "content_type": "application/json"}


@pytest.mark.parametrize(
    "body, properties, headers, problem",
    [
        ({"args": [], "kwargs": {}}, {**GOOD_RPC, "reply_to": None}, {}, "without reply_to"),
        ({"args": [], "kwargs": {}}, {k: v for k, v in GOOD_RPC.items() if k != "reply_to"}, {}, "without reply_to"),
        (
            {"args": [], "kwargs": {}},
            {k: v for k, v in GOOD_RPC.items() if k != "correlation_id"},
            {},
            "without correlation_id",
        ),
        ({"args": [], "kwargs": {}}, {**GOOD_RPC, "content_type": "text/x-nothing"}, {}, "cannot be answered"),
        ([1, 2], GOOD_RPC, {}, "not a nameko RPC payload: a JSON list"),
        ("ping", GOOD_RPC, {}, "not a nameko RPC payload: a JSON str"),
        ({"args": []}, GOOD_RPC, {}, "args or kwargs missing"),
        ({"args": 5, "kwargs": {}}, GOOD_RPC, {}, "args must be a list"),
        ({"args": [], "kwargs": [1]}, GOOD_RPC, {}, "kwargs an object"),
        ({"args": [], "kwargs": {}}, GOOD_RPC, {"nameko.call_id_stack": 7}, "call_id_stack"),
        ({"args": [], "kwargs": {}}, GOOD_RPC, {"nameko.call_id_stack": [1]}, "call_id_stack"),
    ],
)
def test_an_rpc_request_nameko_cannot_answer_is_named(body, properties, headers, problem):
    assert problem in poison.rpc_request_problem(body, properties, headers)


def test_a_good_rpc_request_has_no_problem():
    assert (
        poison.rpc_request_problem(
            {"args": [1], "kwargs": {"a": 2}}, GOOD_RPC, {"nameko.call_id_stack": ["gateway.x.1"]}
        )
        is None
    )


class DeadLetters:
    def __init__(self, works=True):
        self.works = works
        self.letters, self.sent_back = [], []

    def dead_letter(self, message, reason, queue, kind, attempts=None):
        self.letters.append((reason, queue, kind, attempts))
        return self.works

    def send_back(self, message, queue, attempts):
        self.sent_back.append((queue, attempts))
        return self.works


def container(**env):
    settings = config.load({"ZTC_MESSAGE_RETRY_PAUSE_SECONDS": "0", **env})
    return SimpleNamespace(config={"ZTC_SETTINGS": settings})


def test_settling_a_refusal_dead_letters_it_at_once():
    letters = DeadLetters()
    outcome = settle_failure(container(), letters, message(), "q", NotFound("no assignment 7"))
    assert outcome == "dead_lettered"
    assert letters.letters == [("not_found: no assignment 7", "q", poison.REFUSED, 1)] and not letters.sent_back


def test_settling_a_failure_sends_it_back_counted_until_the_last_attempt():
    letters = DeadLetters()
    c = container(ZTC_MESSAGE_MAX_ATTEMPTS="3")
    assert settle_failure(c, letters, message(), "q", RuntimeError("x")) == "retried"
    assert settle_failure(c, letters, message(headers={poison.ATTEMPTS_HEADER: 1}), "q", RuntimeError("x")) == "retried"
    assert (
        settle_failure(c, letters, message(headers={poison.ATTEMPTS_HEADER: 2}), "q", RuntimeError("x"))
        == "dead_lettered"
    )
    assert letters.sent_back == [("q", 1), ("q", 2)]
    assert letters.letters == [("failed 3 attempt(s); last: RuntimeError: x", "q", poison.EXHAUSTED, 3)]


def test_when_the_broker_refuses_the_copy_the_message_is_given_back_as_it_was():
    m = message()
    assert settle_failure(container(), DeadLetters(works=False), m, "q", RuntimeError("x")) == "requeued"
    assert m.channel.rejected == [1] and m.channel.acked == []


def test_message_settings_have_defaults_and_come_from_the_environment():
    defaults = config.load({})
    assert (
        defaults.message_max_attempts,
        defaults.message_retry_pause_seconds,
        defaults.message_retry_pause_max_seconds,
        defaults.message_max_bytes,
    ) == (5, 1.0, 10.0, 16 * 1024 * 1024)
    set_ = config.load(
        {
            "ZTC_MESSAGE_MAX_ATTEMPTS": "3",
            "ZTC_MESSAGE_RETRY_PAUSE_SECONDS": "0.1",
            "ZTC_MESSAGE_RETRY_PAUSE_MAX_SECONDS": "2",
            "ZTC_MESSAGE_MAX_BYTES": "1000",
        }
    )
    assert (
        set_.message_max_attempts,
        set_.message_retry_pause_seconds,
        set_.message_retry_pause_max_seconds,
        set_.message_max_bytes,
    ) == (3, 0.1, 2.0, 1000)
    assert config.load({"ZTC_MESSAGE_MAX_ATTEMPTS": "0"}).message_max_attempts == 1
