"""The units' exchanges and queues are part of the shared topology: ``topology.declare`` declares
them with the rest of the bus, under the names the department documents and example client use."""

from __future__ import annotations

import importlib.util

import yaml
from kombu import Connection

from services.assignment import contracts as assignment_contracts
from shared import contracts
from shared.config import ROOT
from shared.messaging import topology
from tests import support


def test_declare_covers_the_units_exchanges_the_commands_queue_and_each_units_queue(vhost):
    amqp = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    topology.declare(amqp, units=["transport"])
    with Connection(amqp) as conn:
        channel = conn.default_channel
        for exchange in (contracts.UNITS_EXCHANGE, contracts.UNIT_COMMANDS_EXCHANGE):
            channel.exchange_declare(exchange=exchange, type="topic", durable=True, passive=True)
        for queue in (contracts.UNIT_COMMANDS_QUEUE, contracts.unit_queue("transport")):
            channel.queue_declare(queue=queue, passive=True)
    # An event for the unit reaches its queue; one for a unit without a queue goes to ztc.dead.
    support.publish(amqp, contracts.UNITS_EXCHANGE, "transport.assignment.created", {"x": 1})
    support.publish(amqp, contracts.UNITS_EXCHANGE, "nobody.assignment.created", {"x": 2})
    support.wait_for(lambda: support.ready_count(amqp, contracts.unit_queue("transport")) == 1)
    support.wait_for(lambda: support.ready_count(amqp, contracts.DEAD_QUEUE) == 1)


def test_the_documents_and_the_example_client_use_the_shared_names():
    spec = importlib.util.spec_from_file_location("unit_client", ROOT / "examples" / "unit_client.py")
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    assert client.COMMANDS_EXCHANGE == contracts.UNIT_COMMANDS_EXCHANGE
    assert client.UNITS_QUEUE.format(unit="transport") == contracts.unit_queue("transport")
    asyncapi = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    exchanges = {b["exchange"]["name"] for b in asyncapi["components"]["channelBindings"].values() if "exchange" in b}
    assert {contracts.UNITS_EXCHANGE, contracts.UNIT_COMMANDS_EXCHANGE} <= exchanges
    assert assignment_contracts.COMMANDS_QUEUE == contracts.UNIT_COMMANDS_QUEUE
