"""The bus: exchanges and queues, declared the same way by every process that uses them.

Every work queue is durable and dead-letters to ``ztc.dead``; messages are published persistent,
with publisher confirms. ``ZTC_QUEUE_TYPE`` (classic, the default, or quorum on a cluster) is the
``x-queue-type`` of every durable queue here. ``deploy/rabbitmq/definitions.json`` describes the same
topology for a broker set up ahead of time; :mod:`shared.messaging.definitions` (operators' and
deployment tooling, not the services' runtime) generates it from this module.
"""

from __future__ import annotations


from collections.abc import Iterable
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue, binding

from shared import config, contracts


JOBS = Exchange(contracts.JOBS_EXCHANGE, "topic", durable=True)
RESULTS = Exchange(contracts.RESULTS_EXCHANGE, "topic", durable=True)
DEAD = Exchange(contracts.DEAD_EXCHANGE, "topic", durable=True)
MESSAGES = Exchange(contracts.MESSAGES_EXCHANGE, "topic", durable=True)
EVENTS = Exchange(contracts.EVENTS_EXCHANGE, "topic", durable=True)
# An event for a unit no queue takes goes to ztc.dead instead of vanishing.
UNITS = Exchange(
    contracts.UNITS_EXCHANGE, "topic", durable=True, arguments={"alternate-exchange": contracts.DEAD_EXCHANGE}
)
UNIT_COMMANDS = Exchange(contracts.UNIT_COMMANDS_EXCHANGE, "topic", durable=True)
EXCHANGES = (JOBS, RESULTS, DEAD, MESSAGES, EVENTS, UNITS, UNIT_COMMANDS)
_DLX = {"x-dead-letter-exchange": contracts.DEAD_EXCHANGE}


def queue_arguments(queue_type: str | None = None, dead_letters: bool = True) -> dict[str, Any]:
    """The arguments of a durable work queue: dead letters to ``ztc.dead`` and, for quorum,
    ``x-queue-type``. ``queue_type`` None reads ``ZTC_QUEUE_TYPE`` (at the call: a queue built at
    import, as in ``@listen(...)``, takes the process's setting). The quorum queues' delivery limit
    is a policy (:func:`definitions`), not an argument: a policy reaches queues declared before it,
    where a changed argument would make the broker refuse the declaration."""
    args = dict(_DLX) if dead_letters else {}
    if (queue_type or config.load().queue_type) == "quorum":
        args["x-queue-type"] = "quorum"
    return args


def job_queue(service: str, queue_type: str | None = None) -> Queue:
    return Queue(
        contracts.job_queue(service),
        JOBS,
        routing_key=f"{service}.#",
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def engine_results_queue(queue_type: str | None = None) -> Queue:
    return Queue(
        contracts.ENGINE_RESULTS_QUEUE,
        RESULTS,
        routing_key=contracts.RESULT_ROUTING_KEY,
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def engine_messages_queue(queue_type: str | None = None) -> Queue:
    return Queue(
        contracts.ENGINE_MESSAGES_QUEUE,
        MESSAGES,
        routing_key=contracts.MESSAGE_ROUTING_KEY,
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def engine_starts_queue(queue_type: str | None = None) -> Queue:
    return Queue(
        contracts.ENGINE_STARTS_QUEUE,
        MESSAGES,
        routing_key=contracts.START_ROUTING_KEY,
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def events_queue(service: str, names: Iterable[str] | None = None, queue_type: str | None = None) -> Queue:
    """``service``'s queue of domain events, bound to each event name (or pattern) in ``names``:
    by default the ones ``shared.contracts.subscriptions`` declares ``service`` hears. Use it with
    ``@listen``: the queue and its bindings are declared when the service consumes."""
    if names is None:
        names = contracts.subscriptions.BUS_USE[service].listened(contracts.events_queue(service)).keys
    return Queue(
        contracts.events_queue(service),
        EVENTS,
        durable=True,
        queue_arguments=queue_arguments(queue_type),
        bindings=[binding(EVENTS, routing_key=name) for name in names],
    )


def unit_queue(unit: str, queue_type: str | None = None) -> Queue:
    """A unit's own queue of events, bound with ``<unit>.#``; its department's system reads it."""
    return Queue(
        contracts.unit_queue(unit),
        UNITS,
        routing_key=f"{unit}.#",
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def unit_commands_queue(queue_type: str | None = None) -> Queue:
    """Every department's commands (``<unit>.<command>``) for the assignment service. It takes every
    key (``#``), so a bad key is refused with a reason rather than dropped by the broker."""
    return Queue(
        contracts.UNIT_COMMANDS_QUEUE,
        UNIT_COMMANDS,
        routing_key="#",
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def opinion_submissions_queue(queue_type: str | None = None) -> Queue:
    """Opinion items (社情民意) submitted by members' and informants' apps, for the intake service."""
    return Queue(
        contracts.OPINION_SUBMISSIONS_QUEUE,
        MESSAGES,
        routing_key=contracts.OPINION_SUBMIT_ROUTING_KEY,
        durable=True,
        queue_arguments=queue_arguments(queue_type),
    )


def dead_letter_queue(queue_type: str | None = None) -> Queue:
    return Queue(
        contracts.DEAD_QUEUE,
        DEAD,
        routing_key="#",
        durable=True,
        queue_arguments=queue_arguments(queue_type, dead_letters=False),
    )


def all_queues(
    services: Iterable[str] = contracts.SERVICES, units: Iterable[str] = (), queue_type: str | None = None
) -> list[Queue]:
    return [
        *(job_queue(s, queue_type) for s in services),
        engine_results_queue(queue_type),
        engine_messages_queue(queue_type),
        engine_starts_queue(queue_type),
        unit_commands_queue(queue_type),
        *(unit_queue(u, queue_type) for u in units),
        dead_letter_queue(queue_type),
    ]


def declare(
    amqp_uri: str,
    services: Iterable[str] = contracts.SERVICES,
    units: Iterable[str] = (),
    queue_type: str | None = None,
    listeners: bool = True,
) -> None:
    """Declare every exchange and queue (idempotent), with the queues of ``units`` (the unit
    directory's codes; the assignment service declares a new unit's queue when it first assigns)
    and, with ``listeners``, every ``@listen`` queue with its bindings — so a domain event published
    before its listener first consumes is kept, not dropped by an exchange with no queue bound."""
    queues = all_queues(services, units, queue_type)
    if listeners:
        declared = {q.name for q in queues}
        queues += [q for q in listened_queues(queue_type) if q.name not in declared]
    with Connection(amqp_uri, ssl=config.amqp_ssl(amqp_uri)) as conn:
        channel = conn.channel()
        for exchange in EXCHANGES:
            exchange(channel).declare()
        for queue in queues:
            queue(channel).declare()


def declare_units(amqp_uri: str, units: Iterable[str] = (), queue_type: str | None = None) -> None:
    """Declare the units' exchange and the queues of ``units`` (what the assignment service may
    declare with its own broker user; the rest of the bus is declared by ``make run`` or the
    deployment's preparation)."""
    with Connection(amqp_uri, ssl=config.amqp_ssl(amqp_uri)) as conn:
        channel = conn.channel()
        UNITS(channel).declare()
        for unit in units:
            unit_queue(unit, queue_type)(channel).declare()


def connect(amqp_uri: str) -> Connection:
    """A connection whose publishes wait for the broker's confirm (TLS for ``amqps://``)."""
    return Connection(
        amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=5, ssl=config.amqp_ssl(amqp_uri)
    )


# -- the broker set up ahead of time: deploy/rabbitmq/definitions.json ---------------------------
SEED_UNITS_FILE = config.ROOT / "deploy" / "seed" / "units.yaml"


def seeded_units() -> list[str]:
    """The unit codes ``make run`` seeds (``deploy/seed/units.yaml``)."""
    from shared import yamlio

    return sorted(yamlio.safe_load(SEED_UNITS_FILE.read_text(encoding="utf-8"))["units"])


_EXCHANGES_BY_NAME = {exchange.name: exchange for exchange in EXCHANGES}


def listened_queue(listened: contracts.subscriptions.Listened, queue_type: str | None = None) -> Queue:
    """The durable queue of a ``@listen`` entrypoint as the contracts declare it (its bindings)."""
    exchange = _EXCHANGES_BY_NAME[listened.exchange]
    return Queue(
        listened.queue,
        exchange,
        durable=True,
        queue_arguments=queue_arguments(queue_type),
        bindings=[binding(exchange, routing_key=key) for key in listened.keys],
    )


def listened_queues(queue_type: str | None = None) -> list[Queue]:
    """The queues the services' ``@listen`` entrypoints consume (events, units' commands, opinion
    submissions...), as ``shared.contracts.subscriptions`` declares them; a contract test holds
    every service class to that table, so a new listener is never missed here."""
    found: dict[str, Queue] = {}
    for use in contracts.subscriptions.BUS_USE.values():
        for listened in use.listens:
            found.setdefault(listened.queue, listened_queue(listened, queue_type))
    return [found[name] for name in sorted(found)]


def product_queues(queue_type: str, units: Iterable[str] | None = None) -> list[Queue]:
    """Every durable queue the product declares, built with ``queue_type``: the job, engine, units'
    and dead-letter queues, the units' own queues (``units``, default the seeded ones) and each
    ``@listen`` queue (built here with ``queue_type``, whatever this process's setting)."""
    queues = {q.name: q for q in all_queues(contracts.SERVICES, seeded_units() if units is None else units, queue_type)}
    for queue in listened_queues(queue_type):
        queues.setdefault(queue.name, queue)
    return [queues[name] for name in sorted(queues)]


def _bindings_of(queue: Queue) -> list[tuple[str, str]]:
    if queue.bindings:
        return sorted((b.exchange.name, b.routing_key) for b in queue.bindings)
    return [(queue.exchange.name, queue.routing_key)]
