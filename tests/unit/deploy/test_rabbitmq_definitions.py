"""The broker's definitions (deploy/rabbitmq/definitions.json) are generated from the topology the
services declare, and the committed file is exactly what the code generates now."""

from __future__ import annotations

import re

import json
import subprocess
import sys

import pytest

from shared import config, contracts
from shared.messaging import definitions, poison, topology

REGENERATE = "python -m shared.messaging.definitions generate --queue-type quorum > deploy/rabbitmq/definitions.json"


@pytest.fixture(scope="module")
def quorum():
    return definitions.definitions(queue_type="quorum")


def by_name(items):
    return {item["name"]: item for item in items}


def test_committed_definitions_are_what_the_code_generates():
    committed = definitions.DEFINITIONS_FILE.read_text(encoding="utf-8")
    assert committed == definitions.definitions_json(queue_type="quorum"), (
        f"deploy/rabbitmq/definitions.json is stale: regenerate it with `{REGENERATE}`"
    )


def test_every_exchange_the_services_use_is_defined(quorum):
    exchanges = by_name(quorum["exchanges"])
    assert set(exchanges) == {
        contracts.JOBS_EXCHANGE,
        contracts.RESULTS_EXCHANGE,
        contracts.DEAD_EXCHANGE,
        contracts.MESSAGES_EXCHANGE,
        contracts.EVENTS_EXCHANGE,
        contracts.UNITS_EXCHANGE,
        contracts.UNIT_COMMANDS_EXCHANGE,
    }
    assert all(e["type"] == "topic" and e["durable"] for e in exchanges.values())
    # An exchange declared with other arguments than the broker has is refused, like a queue.
    assert exchanges[contracts.UNITS_EXCHANGE]["arguments"] == {"alternate-exchange": contracts.DEAD_EXCHANGE}


def test_quorum_queues_dead_letter_to_ztc_dead(quorum):
    queues = by_name(quorum["queues"])
    for name, queue in queues.items():
        assert queue["durable"] and not queue["auto_delete"], name
        assert queue["arguments"]["x-queue-type"] == "quorum", name
        if name != contracts.DEAD_QUEUE:
            assert queue["arguments"]["x-dead-letter-exchange"] == contracts.DEAD_EXCHANGE, name
            assert "x-delivery-limit" not in queue["arguments"], name  # a policy: no queue to recreate
    assert queues[contracts.DEAD_QUEUE]["arguments"] == {"x-queue-type": "quorum"}
    # A message that kills its consumer before it is counted is dead-lettered by the broker; no
    # limit on the dead letters themselves: reading them must never drop one.
    work, box = quorum["policies"]
    assert work["definition"] == {
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
        "delivery-limit": poison.QUORUM_DELIVERY_LIMIT,
    }
    assert box["definition"] == {"overflow": "reject-publish"} and box["priority"] > work["priority"]
    pattern = re.compile(work["pattern"])
    assert all(pattern.match(name) for name in queues if name != contracts.DEAD_QUEUE)
    assert not pattern.match(contracts.DEAD_QUEUE) and re.match(box["pattern"], contracts.DEAD_QUEUE)


def test_every_queue_the_product_consumes_is_there_with_its_bindings(quorum):
    queues = set(by_name(quorum["queues"]))
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in quorum["bindings"]}
    for service in contracts.SERVICES:
        assert (contracts.JOBS_EXCHANGE, contracts.job_queue(service), f"{service}.#") in bindings
    assert {
        (contracts.RESULTS_EXCHANGE, contracts.ENGINE_RESULTS_QUEUE, contracts.RESULT_ROUTING_KEY),
        (contracts.MESSAGES_EXCHANGE, contracts.ENGINE_MESSAGES_QUEUE, contracts.MESSAGE_ROUTING_KEY),
        (contracts.MESSAGES_EXCHANGE, contracts.ENGINE_STARTS_QUEUE, contracts.START_ROUTING_KEY),
        (contracts.MESSAGES_EXCHANGE, contracts.OPINION_SUBMISSIONS_QUEUE, contracts.OPINION_SUBMIT_ROUTING_KEY),
        (contracts.UNIT_COMMANDS_EXCHANGE, contracts.UNIT_COMMANDS_QUEUE, "#"),
        (contracts.DEAD_EXCHANGE, contracts.DEAD_QUEUE, "#"),
        (contracts.EVENTS_EXCHANGE, contracts.events_queue("gateway"), contracts.NOTIFY_PREFIX + "#"),
        (contracts.EVENTS_EXCHANGE, contracts.events_queue("supervision"), contracts.ASSIGNMENT_SIGNED),
        (contracts.EVENTS_EXCHANGE, contracts.events_queue("evaluation"), "opinion.#"),
    } <= bindings
    for unit in topology.seeded_units():
        assert contracts.unit_queue(unit) in queues
        assert (contracts.UNITS_EXCHANGE, contracts.unit_queue(unit), f"{unit}.#") in bindings
    # Every binding names a defined queue.
    assert {destination for _, destination, _ in bindings} == queues


def test_every_listener_of_every_service_is_covered(quorum):
    """Walked from the service classes: a new ``@listen`` shows up here without anyone listing it."""
    listened = topology.listened_queues()
    assert {q.name for q in listened} >= {
        contracts.events_queue("gateway"),
        contracts.UNIT_COMMANDS_QUEUE,
        contracts.OPINION_SUBMISSIONS_QUEUE,
        contracts.ENGINE_RESULTS_QUEUE,
    }
    defined = by_name(quorum["queues"])
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in quorum["bindings"]}
    for queue in listened:
        assert queue.name in defined
        keys = [(b.exchange.name, b.routing_key) for b in queue.bindings] or [(queue.exchange.name, queue.routing_key)]
        for exchange, key in keys:
            assert (exchange, queue.name, key) in bindings


def test_classic_definitions_carry_no_queue_type_and_no_policy():
    classic = definitions.definitions(vhost="ztc", queue_type="classic")
    assert all("x-queue-type" not in q["arguments"] for q in classic["queues"])
    assert classic["policies"] == []
    assert {item["vhost"] for key in ("exchanges", "queues", "bindings") for item in classic[key]} == {"ztc"}
    assert classic["vhosts"] == [{"name": "ztc"}]


def test_queue_type_is_a_setting_read_by_the_queues():
    assert config.load({}).queue_type == "classic"
    assert config.load({"ZTC_QUEUE_TYPE": "quorum"}).queue_type == "quorum"
    with pytest.raises(ValueError, match="ZTC_QUEUE_TYPE"):
        config.load({"ZTC_QUEUE_TYPE": "mirrored"})
    assert topology.job_queue("intake", "quorum").queue_arguments == {
        "x-dead-letter-exchange": contracts.DEAD_EXCHANGE,
        "x-queue-type": "quorum",
    }
    assert topology.job_queue("intake", "classic").queue_arguments == {
        "x-dead-letter-exchange": contracts.DEAD_EXCHANGE
    }


def test_queue_type_follows_the_environment(monkeypatch):
    monkeypatch.setenv("ZTC_QUEUE_TYPE", "quorum")
    assert topology.events_queue("gateway", ["notify.#"]).queue_arguments["x-queue-type"] == "quorum"
    monkeypatch.setenv("ZTC_QUEUE_TYPE", "classic")
    assert "x-queue-type" not in topology.unit_queue("transport").queue_arguments


def test_command_line_prints_the_same_document():
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "shared.messaging.definitions",
            "generate",
            "--vhost",
            "ztc",
            "--queue-type",
            "classic",
        ],
        cwd=config.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert json.loads(out) == definitions.definitions(vhost="ztc", queue_type="classic")
    refused = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "shared.messaging.definitions", "generate", "--queue-type", "mirrored"],
        cwd=config.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "invalid choice" in refused.stderr
