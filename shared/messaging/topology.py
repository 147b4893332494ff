"""The bus: exchanges and queues, declared the same way by every process that uses them.

Every work queue is durable and dead-letters to ``ztc.dead``; messages are published persistent,
with publisher confirms. ``deploy/rabbitmq/definitions.json`` describes the same topology for a
broker set up ahead of time.
"""
from __future__ import annotations

from kombu import Connection, Exchange, Queue, binding

from shared import contracts

JOBS = Exchange(contracts.JOBS_EXCHANGE, "topic", durable=True)
RESULTS = Exchange(contracts.RESULTS_EXCHANGE, "topic", durable=True)
DEAD = Exchange(contracts.DEAD_EXCHANGE, "topic", durable=True)
MESSAGES = Exchange(contracts.MESSAGES_EXCHANGE, "topic", durable=True)
EVENTS = Exchange(contracts.EVENTS_EXCHANGE, "topic", durable=True)
# An event for a unit no queue takes goes to ztc.dead instead of vanishing.
UNITS = Exchange(contracts.UNITS_EXCHANGE, "topic", durable=True,
                 arguments={"alternate-exchange": contracts.DEAD_EXCHANGE})
UNIT_COMMANDS = Exchange(contracts.UNIT_COMMANDS_EXCHANGE, "topic", durable=True)
EXCHANGES = (JOBS, RESULTS, DEAD, MESSAGES, EVENTS, UNITS, UNIT_COMMANDS)
_DLX = {"x-dead-letter-exchange": contracts.DEAD_EXCHANGE}


def job_queue(service: str) -> Queue:
    return Queue(contracts.job_queue(service), JOBS, routing_key=f"{service}.#", durable=True,
                 queue_arguments=_DLX)


def engine_results_queue() -> Queue:
    return Queue(contracts.ENGINE_RESULTS_QUEUE, RESULTS, routing_key=contracts.RESULT_ROUTING_KEY,
                 durable=True, queue_arguments=_DLX)


def engine_messages_queue() -> Queue:
    return Queue(contracts.ENGINE_MESSAGES_QUEUE, MESSAGES, routing_key=contracts.MESSAGE_ROUTING_KEY,
                 durable=True, queue_arguments=_DLX)


def engine_starts_queue() -> Queue:
    return Queue(contracts.ENGINE_STARTS_QUEUE, MESSAGES, routing_key=contracts.START_ROUTING_KEY,
                 durable=True, queue_arguments=_DLX)


def events_queue(service: str, names) -> Queue:
    """``service``'s queue of domain events, bound to each event name (or pattern) in ``names``.
    Use it with ``@listen``: the queue and its bindings are declared when the service consumes."""
    return Queue(contracts.events_queue(service), EVENTS, durable=True, queue_arguments=_DLX,
                 bindings=[binding(EVENTS, routing_key=name) for name in names])


def unit_queue(unit: str) -> Queue:
    """A unit's own queue of events, bound with ``<unit>.#``; its department's system reads it."""
    return Queue(contracts.unit_queue(unit), UNITS, routing_key=f"{unit}.#", durable=True,
                 queue_arguments=_DLX)


def unit_commands_queue() -> Queue:
    """Every department's commands (``<unit>.<command>``) for the assignment service. It takes every
    key (``#``), so a bad key is refused with a reason rather than dropped by the broker."""
    return Queue(contracts.UNIT_COMMANDS_QUEUE, UNIT_COMMANDS, routing_key="#", durable=True,
                 queue_arguments=_DLX)


def dead_letter_queue() -> Queue:
    return Queue(contracts.DEAD_QUEUE, DEAD, routing_key="#", durable=True)


def all_queues(services=contracts.SERVICES, units=()) -> list[Queue]:
    return [*(job_queue(s) for s in services), engine_results_queue(), engine_messages_queue(),
            engine_starts_queue(), unit_commands_queue(), *(unit_queue(u) for u in units),
            dead_letter_queue()]


def declare(amqp_uri: str, services=contracts.SERVICES, units=()) -> None:
    """Declare every exchange and queue (idempotent), with the queues of ``units`` (the unit
    directory's codes; the assignment service declares a new unit's queue when it first assigns)."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for exchange in EXCHANGES:
            exchange(channel).declare()
        for queue in all_queues(services, units):
            queue(channel).declare()


def connect(amqp_uri: str) -> Connection:
    """A connection whose publishes wait for the broker's confirm."""
    return Connection(amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=5)
