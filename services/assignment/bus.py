"""The units' side of the bus, as the assignment service uses it.

The names and declarations are shared (``shared/contracts.py``, ``shared/messaging/topology.py``,
so ``topology.declare`` covers them):

- Exchange ``ztc.units`` (topic): the service publishes ``<unit>.<event>``; each unit's durable
  queue ``ztc.unit.<unit>`` is bound with ``<unit>.#``. An event no queue takes goes to the
  alternate exchange ``ztc.dead`` instead of vanishing.
- Exchange ``ztc.unit-commands`` (topic): departments publish ``<unit>.<command>``; queue
  ``ztc.assignment.commands`` takes every key (``#``) so a bad key is refused with a reason
  rather than dropped by the broker. Both queues dead-letter to ``ztc.dead``.

Who may publish which key and read which queue is the broker's job (per-unit users with topic
permissions, ``shared/messaging/access.py``, ``docs/unit-integration.md``); the service takes the
acting unit from the broker-validated AMQP ``user_id`` of each command and refuses one whose
routing key names another unit.
"""

from __future__ import annotations

from nameko.extensions import DependencyProvider
from sqlalchemy import select

from shared.db import session_factory, transaction
from shared.messaging import topology
from shared.messaging.entrypoints import listen
from shared.messaging.topology import UNIT_COMMANDS, UNITS, unit_commands_queue, unit_queue

from .models import Unit

__all__ = ["UNITS", "UNIT_COMMANDS", "unit_queue", "commands_queue", "declare", "UnitQueues", "listen_to_units"]


def commands_queue():
    """The departments' commands queue (``topology.unit_commands_queue``)."""
    return unit_commands_queue()


def declare(amqp_uri: str, units=()) -> None:
    """Declare the units' exchange and the queues of ``units`` (idempotent): what the service's
    own broker user may declare."""
    topology.declare_units(amqp_uri, units)


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
    """``@listen`` that also hands the handler the routing key (``<unit>.<command>``), the
    broker-validated sender (``sender=``), which says which unit is acting, and the command's AMQP
    ``correlation_id`` and ``message_id`` (``ids=``), which a refusal told back to the unit names."""
    return listen(queue, with_routing_key=True, with_sender=True, with_ids=True)
