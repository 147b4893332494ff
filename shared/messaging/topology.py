"""The bus: exchanges and queues, declared the same way by every process that uses them.

Every work queue is durable and dead-letters to ``ztc.dead``; messages are published persistent,
with publisher confirms. ``ZTC_QUEUE_TYPE`` (classic, the default, or quorum on a cluster) is the
``x-queue-type`` of every durable queue here. ``deploy/rabbitmq/definitions.json`` describes the same
topology for a broker set up ahead of time; it is generated from this module, never edited by hand:
``python -m shared.messaging.topology definitions --queue-type quorum > deploy/rabbitmq/definitions.json``
(with the broker users and their permissions, without passwords: :mod:`shared.messaging.access`).
"""
from __future__ import annotations

import json
import sys

from kombu import Connection, Exchange, Queue, binding

from shared import config, contracts

from .poison import QUORUM_DELIVERY_LIMIT

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


def queue_arguments(queue_type: str | None = None, dead_letters: bool = True) -> dict:
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
    return Queue(contracts.job_queue(service), JOBS, routing_key=f"{service}.#", durable=True,
                 queue_arguments=queue_arguments(queue_type))


def engine_results_queue(queue_type: str | None = None) -> Queue:
    return Queue(contracts.ENGINE_RESULTS_QUEUE, RESULTS, routing_key=contracts.RESULT_ROUTING_KEY,
                 durable=True, queue_arguments=queue_arguments(queue_type))


def engine_messages_queue(queue_type: str | None = None) -> Queue:
    return Queue(contracts.ENGINE_MESSAGES_QUEUE, MESSAGES, routing_key=contracts.MESSAGE_ROUTING_KEY,
                 durable=True, queue_arguments=queue_arguments(queue_type))


def engine_starts_queue(queue_type: str | None = None) -> Queue:
    return Queue(contracts.ENGINE_STARTS_QUEUE, MESSAGES, routing_key=contracts.START_ROUTING_KEY,
                 durable=True, queue_arguments=queue_arguments(queue_type))


def events_queue(service: str, names, queue_type: str | None = None) -> Queue:
    """``service``'s queue of domain events, bound to each event name (or pattern) in ``names``.
    Use it with ``@listen``: the queue and its bindings are declared when the service consumes."""
    return Queue(contracts.events_queue(service), EVENTS, durable=True,
                 queue_arguments=queue_arguments(queue_type),
                 bindings=[binding(EVENTS, routing_key=name) for name in names])


def unit_queue(unit: str, queue_type: str | None = None) -> Queue:
    """A unit's own queue of events, bound with ``<unit>.#``; its department's system reads it."""
    return Queue(contracts.unit_queue(unit), UNITS, routing_key=f"{unit}.#", durable=True,
                 queue_arguments=queue_arguments(queue_type))


def unit_commands_queue(queue_type: str | None = None) -> Queue:
    """Every department's commands (``<unit>.<command>``) for the assignment service. It takes every
    key (``#``), so a bad key is refused with a reason rather than dropped by the broker."""
    return Queue(contracts.UNIT_COMMANDS_QUEUE, UNIT_COMMANDS, routing_key="#", durable=True,
                 queue_arguments=queue_arguments(queue_type))


def opinion_submissions_queue(queue_type: str | None = None) -> Queue:
    """Opinion items (社情民意) submitted by members' and informants' apps, for the intake service."""
    return Queue(contracts.OPINION_SUBMISSIONS_QUEUE, MESSAGES, routing_key=contracts.OPINION_SUBMIT_ROUTING_KEY,
                 durable=True, queue_arguments=queue_arguments(queue_type))


def dead_letter_queue(queue_type: str | None = None) -> Queue:
    return Queue(contracts.DEAD_QUEUE, DEAD, routing_key="#", durable=True,
                 queue_arguments=queue_arguments(queue_type, dead_letters=False))


def all_queues(services=contracts.SERVICES, units=(), queue_type: str | None = None) -> list[Queue]:
    return [*(job_queue(s, queue_type) for s in services), engine_results_queue(queue_type),
            engine_messages_queue(queue_type), engine_starts_queue(queue_type),
            unit_commands_queue(queue_type), *(unit_queue(u, queue_type) for u in units),
            dead_letter_queue(queue_type)]


def declare(amqp_uri: str, services=contracts.SERVICES, units=(), queue_type: str | None = None,
            listeners: bool = True) -> None:
    """Declare every exchange and queue (idempotent), with the queues of ``units`` (the unit
    directory's codes; the assignment service declares a new unit's queue when it first assigns)
    and, with ``listeners``, every ``@listen`` queue with its bindings — so a domain event published
    before its listener first consumes is kept, not dropped by an exchange with no queue bound."""
    queues = all_queues(services, units, queue_type)
    if listeners:
        declared = {q.name for q in queues}
        queues += [_with_type(q, queue_type) for q in listened_queues() if q.name not in declared]
    with Connection(amqp_uri, ssl=config.amqp_ssl(amqp_uri)) as conn:
        channel = conn.channel()
        for exchange in EXCHANGES:
            exchange(channel).declare()
        for queue in queues:
            queue(channel).declare()


def declare_units(amqp_uri: str, units=(), queue_type: str | None = None) -> None:
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
    return Connection(amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=5,
                      ssl=config.amqp_ssl(amqp_uri))


# -- the broker set up ahead of time: deploy/rabbitmq/definitions.json ---------------------------
DEFINITIONS_FILE = config.ROOT / "deploy" / "rabbitmq" / "definitions.json"
SEED_UNITS_FILE = config.ROOT / "deploy" / "seed" / "units.yaml"


def seeded_units() -> list[str]:
    """The unit codes ``make run`` seeds (``deploy/seed/units.yaml``)."""
    import yaml

    return sorted(yaml.safe_load(SEED_UNITS_FILE.read_text(encoding="utf-8"))["units"])


def listened_queues() -> list[Queue]:
    """The queues the services' ``@listen`` entrypoints name (events, units' commands, opinion
    submissions...), read from the service classes themselves so a new listener is never missed.
    Imported lazily: it loads every service."""
    import inspect

    from services.registry import SERVICE_CLASSES, service_class

    found: dict[str, Queue] = {}
    for name in SERVICE_CLASSES:
        for _, member in inspect.getmembers(service_class(name), inspect.isfunction):
            for entrypoint in getattr(member, "nameko_entrypoints", ()):
                queue = getattr(entrypoint, "queue", None)
                if isinstance(queue, Queue):
                    found.setdefault(queue.name, queue)
    return [found[name] for name in sorted(found)]


def _with_type(queue: Queue, queue_type: str | None) -> Queue:
    """``queue`` (a ``@listen`` queue, built at import) rebuilt as a durable queue of ``queue_type``."""
    return Queue(queue.name, queue.exchange, routing_key=queue.routing_key, durable=True,
                 bindings=queue.bindings or None, queue_arguments=queue_arguments(queue_type))


def product_queues(queue_type: str, units=None) -> list[Queue]:
    """Every durable queue the product declares, built with ``queue_type``: the job, engine, units'
    and dead-letter queues, the units' own queues (``units``, default the seeded ones) and each
    ``@listen`` queue (rebuilt here with ``queue_type``, whatever this process's setting)."""
    queues = {q.name: q for q in all_queues(contracts.SERVICES, seeded_units() if units is None else units,
                                            queue_type)}
    for queue in listened_queues():
        if queue.name not in queues:
            queues[queue.name] = _with_type(queue, queue_type)
    return [queues[name] for name in sorted(queues)]


def _bindings_of(queue: Queue) -> list[tuple[str, str]]:
    if queue.bindings:
        return sorted((b.exchange.name, b.routing_key) for b in queue.bindings)
    return [(queue.exchange.name, queue.routing_key)]


def definitions(vhost: str = "/", queue_type: str = "quorum", units=None, users: bool = True) -> dict:
    """RabbitMQ's definitions document (``POST /api/definitions/<vhost>``, or ``load_definitions``
    at boot) for every exchange, queue and binding the product declares. With quorum queues it
    adds one policy: at-least-once dead-lettering (the broker's own dead letters, for a rejected
    or expired message, are otherwise at-most-once from a quorum queue).

    ``users``: also the broker users (the services, the operator, each unit) with their
    permissions and topic permissions (:mod:`shared.messaging.access`), without passwords — a user
    in the file cannot log in until its password is set (``make run``, ``prepare.py`` or
    ``ztc units credentials issue``); importing it over a broker that has the users would clear
    their passwords, so ``load_definitions`` is given the document without them."""
    config._queue_type(queue_type)
    queues = product_queues(queue_type, units)
    doc: dict[str, list] = {
        "vhosts": [{"name": vhost}],
        "exchanges": [{"name": e.name, "vhost": vhost, "type": e.type, "durable": e.durable,
                       "auto_delete": e.auto_delete, "internal": False, "arguments": dict(getattr(e, "arguments", None) or {})}
                      for e in sorted(EXCHANGES, key=lambda e: e.name)],
        "queues": [{"name": q.name, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": dict(getattr(q, "queue_arguments", None) or {})} for q in queues],
        "bindings": [{"source": source, "vhost": vhost, "destination": q.name, "destination_type": "queue",
                      "routing_key": key, "arguments": {}}
                     for q in queues for source, key in _bindings_of(q)],
        "policies": [],
    }
    if users:
        from . import access

        doc.update(access.definitions_part(config.load({}), vhost,
                                           seeded_units() if units is None else units))
    if queue_type == "quorum":
        # A message delivered QUORUM_DELIVERY_LIMIT times without being settled (one that ends its
        # consumer's process before the consumer can count it, see poison.py) is dead-lettered by
        # the broker. Not on ztc.dead, whose letters are read (and given back) by operators.
        doc["policies"].append({
            "name": "ztc-dead-letters-at-least-once", "vhost": vhost, "pattern": r"^ztc\.(?!dead$)",
            "apply-to": "queues", "priority": 0,
            "definition": {"dead-letter-strategy": "at-least-once", "overflow": "reject-publish",
                           "delivery-limit": QUORUM_DELIVERY_LIMIT}})
        doc["policies"].append({
            "name": "ztc-dead-letter-box", "vhost": vhost, "pattern": r"^ztc\.dead$",
            "apply-to": "queues", "priority": 1,
            "definition": {"overflow": "reject-publish"}})
    return doc


def definitions_json(vhost: str = "/", queue_type: str = "quorum", units=None, users: bool = True) -> str:
    return json.dumps(definitions(vhost, queue_type, units, users), indent=2, ensure_ascii=False) + "\n"


def load_definitions(settings, document: dict) -> None:
    """Import ``document`` into the vhost of ``ZTC_AMQP_URI`` through the management API
    (``ZTC_RABBIT_MANAGEMENT_URL``); idempotent for queues declared with the same arguments.
    Users and permissions in the document are left out (they would lose their passwords):
    ``shared.messaging.access.install`` sets them."""
    from urllib.parse import quote

    import requests

    from shared.messaging import management

    document = {k: v for k, v in document.items() if k not in ("users", "permissions", "topic_permissions")}
    base, auth = management._api(settings)
    url = f"{base}/definitions/{quote(management.vhost_of(settings.amqp_uri), safe='')}"
    try:
        resp = requests.post(url, json=document, auth=auth, timeout=60, verify=settings.amqp_ca_file or True)
    except requests.RequestException as exc:
        raise management.ManagementUnavailable(f"RabbitMQ's management API at {base} did not answer: {exc}") from None
    if resp.status_code >= 400:   # 204 when imported
        raise management.ManagementUnavailable(f"RabbitMQ refused the definitions ({resp.status_code}): "
                                               f"{resp.text[:500]}")


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m shared.messaging.topology",
                                     description="The bus topology as RabbitMQ definitions.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("definitions", help="print the definitions document (JSON) on stdout",
                         description="Print RabbitMQ's definitions document for every exchange, queue "
                                     "and binding the product declares (units: deploy/seed/units.yaml).")
    gen.add_argument("--vhost", default="/", help="the vhost the objects name (default /)")
    gen.add_argument("--queue-type", choices=config.QUEUE_TYPES, default="quorum",
                     help="x-queue-type of the durable queues (default quorum, for a cluster); the "
                          "services must run with the same ZTC_QUEUE_TYPE")
    gen.add_argument("--no-users", action="store_true",
                     help="leave out the broker users and their permissions")
    load = sub.add_parser("load", help="import the definitions into the broker of ZTC_AMQP_URI",
                          description="Import the definitions into the vhost of ZTC_AMQP_URI through "
                                      "the management API (ZTC_RABBIT_MANAGEMENT_URL), with "
                                      "ZTC_QUEUE_TYPE's queues, or the file given.")
    load.add_argument("--file", type=argparse.FileType("r", encoding="utf-8"),
                      help="a definitions file (default: generated now with ZTC_QUEUE_TYPE)")
    args = parser.parse_args(argv)
    if args.command == "definitions":
        sys.stdout.write(definitions_json(args.vhost, args.queue_type, users=not args.no_users))
        return 0
    settings = config.load()
    document = json.load(args.file) if args.file else definitions(queue_type=settings.queue_type)
    load_definitions(settings, document)
    print(f"definitions loaded: {len(document['exchanges'])} exchanges, {len(document['queues'])} queues, "
          f"{len(document['bindings'])} bindings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from shared.messaging import topology as _topology  # the module the services import, not __main__

    sys.exit(_topology.main())
