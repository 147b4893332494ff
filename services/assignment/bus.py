"""The units' side of the bus: their event queues, the command queue, and how commands are consumed.

- Exchange ``ztc.units`` (topic): the service publishes ``<unit>.<event>``; each unit's durable
  queue ``ztc.unit.<unit>`` is bound with ``<unit>.#``. An event no queue takes goes to the
  alternate exchange ``ztc.dead`` instead of vanishing.
- Exchange ``ztc.unit-commands`` (topic): departments publish ``<unit>.<command>``; queue
  ``ztc.assignment.commands`` takes every key (``#``) so a bad key is refused with a reason
  rather than dropped by the broker. Both queues dead-letter to ``ztc.dead``.

Who may publish which key and read which queue is the broker's job (per-unit users with topic
permissions, see ``docs/unit-integration.md``); the service checks the key's unit all the same.
"""
from __future__ import annotations

from kombu import Exchange, Queue
from nameko.extensions import DependencyProvider
from sqlalchemy import select

from shared import contracts as shared_contracts
from shared.db import session_factory, transaction
from shared.messaging.entrypoints import listen
from shared.messaging.topology import DEAD, connect, dead_letter_queue

from . import contracts
from .models import Unit

_DLX = {"x-dead-letter-exchange": shared_contracts.DEAD_EXCHANGE}
UNITS = Exchange(contracts.UNITS_EXCHANGE, "topic", durable=True,
                 arguments={"alternate-exchange": shared_contracts.DEAD_EXCHANGE})
UNIT_COMMANDS = Exchange(contracts.UNIT_COMMANDS_EXCHANGE, "topic", durable=True)


def unit_queue(unit: str) -> Queue:
    return Queue(contracts.unit_queue(unit), UNITS, routing_key=f"{unit}.#", durable=True,
                 queue_arguments=_DLX)


def commands_queue() -> Queue:
    return Queue(contracts.COMMANDS_QUEUE, UNIT_COMMANDS, routing_key="#", durable=True,
                 queue_arguments=_DLX)


def declare(amqp_uri: str, units=()) -> None:
    """Declare the units' exchanges, the command queue and each unit's queue (idempotent)."""
    with connect(amqp_uri) as conn:
        channel = conn.channel()
        DEAD(channel).declare()
        dead_letter_queue()(channel).declare()
        for exchange in (UNITS, UNIT_COMMANDS):
            exchange(channel).declare()
        commands_queue()(channel).declare()
        for unit in units:
            unit_queue(unit)(channel).declare()


class UnitQueuesWrapper:
    def __init__(self, provider):
        self._provider = provider

    def ensure(self, units) -> None:
        """Declare the queues of units that have none yet (a unit added after the service started)."""
        self._provider.ensure(units)


class UnitQueues(DependencyProvider):
    """Declares the units' topology when the service starts: one queue per unit in the directory."""

    def setup(self):
        settings = self.container.config["ZTC_SETTINGS"]
        self.amqp_uri = settings.amqp_uri
        with transaction(session_factory(settings.database_url("assignment"))) as session:
            units = list(session.scalars(select(Unit.code)))
        declare(self.amqp_uri, units)
        self.declared = set(units)

    def ensure(self, units) -> None:
        missing = sorted(set(units) - self.declared)
        if missing:
            declare(self.amqp_uri, missing)
            self.declared.update(missing)

    def get_dependency(self, worker_ctx):
        return UnitQueuesWrapper(self)


def listen_to_units(queue):
    """``@listen`` that also hands the handler the routing key, which names the acting unit."""
    return listen(queue, with_routing_key=True)
