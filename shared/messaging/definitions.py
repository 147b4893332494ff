"""RabbitMQ's definitions document for the product's topology: operators' and deployment tooling,
apart from the services' runtime (:mod:`shared.messaging.topology`, which the services import).

``deploy/rabbitmq/definitions.json`` is generated from here, never edited by hand:
``python -m shared.messaging.definitions generate --queue-type quorum > deploy/rabbitmq/definitions.json``
(with the broker users and their permissions, without passwords: :mod:`shared.messaging.access`);
``python -m shared.messaging.definitions load`` imports it into a broker's vhost.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from shared import config

from . import access, management
from .poison import QUORUM_DELIVERY_LIMIT
from .topology import EXCHANGES, _bindings_of, product_queues, seeded_units

DEFINITIONS_FILE = config.ROOT / "deploy" / "rabbitmq" / "definitions.json"


def definitions(
    vhost: str = "/", queue_type: str = "quorum", units: Iterable[str] | None = None, users: bool = True
) -> dict[str, Any]:
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
    doc: dict[str, list[Any]] = {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type,
                "durable": e.durable,
                "auto_delete": e.auto_delete,
                "internal": False,
                "arguments": dict(getattr(e, "arguments", None) or {}),
            }
            for e in sorted(EXCHANGES, key=lambda e: e.name)
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": dict(getattr(q, "queue_arguments", None) or {}),
            }
            for q in queues
        ],
        "bindings": [
            {
                "source": source,
                "vhost": vhost,
                "destination": q.name,
                "destination_type": "queue",
                "routing_key": key,
                "arguments": {},
            }
            for q in queues
            for source, key in _bindings_of(q)
        ],
        "policies": [],
    }
    if users:
        doc.update(access.definitions_part(config.load({}), vhost, seeded_units() if units is None else units))
    if queue_type == "quorum":
        # A message delivered QUORUM_DELIVERY_LIMIT times without being settled (one that ends its
        # consumer's process before the consumer can count it, see poison.py) is dead-lettered by
        # the broker. Not on ztc.dead, whose letters are read (and given back) by operators.
        doc["policies"].append(
            {
                "name": "ztc-dead-letters-at-least-once",
                "vhost": vhost,
                "pattern": r"^ztc\.(?!dead$)",
                "apply-to": "queues",
                "priority": 0,
                "definition": {
                    "dead-letter-strategy": "at-least-once",
                    "overflow": "reject-publish",
                    "delivery-limit": QUORUM_DELIVERY_LIMIT,
                },
            }
        )
        doc["policies"].append(
            {
                "name": "ztc-dead-letter-box",
                "vhost": vhost,
                "pattern": r"^ztc\.dead$",
                "apply-to": "queues",
                "priority": 1,
                "definition": {"overflow": "reject-publish"},
            }
        )
    return doc


def definitions_json(
    vhost: str = "/", queue_type: str = "quorum", units: Iterable[str] | None = None, users: bool = True
) -> str:
    return json.dumps(definitions(vhost, queue_type, units, users), indent=2, ensure_ascii=False) + "\n"


def load_definitions(settings: config.Settings, document: Mapping[str, Any]) -> None:
    """Import ``document`` into the vhost of ``ZTC_AMQP_URI`` through the management API
    (``ZTC_RABBIT_MANAGEMENT_URL``); idempotent for queues declared with the same arguments.
    Users and permissions in the document are left out (they would lose their passwords):
    ``shared.messaging.access.install`` sets them."""
    from urllib.parse import quote

    import requests

    document = {k: v for k, v in document.items() if k not in ("users", "permissions", "topic_permissions")}
    base, auth = management._api(settings)
    url = f"{base}/definitions/{quote(management.vhost_of(settings.amqp_uri), safe='')}"
    try:
        resp = requests.post(url, json=document, auth=auth, timeout=60, verify=settings.amqp_ca_file or True)
    except requests.RequestException as exc:
        raise management.ManagementUnavailable(f"RabbitMQ's management API at {base} did not answer: {exc}") from None
    if resp.status_code >= 400:  # 204 when imported
        raise management.ManagementUnavailable(
            f"RabbitMQ refused the definitions ({resp.status_code}): {resp.text[:500]}"
        )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m shared.messaging.definitions", description="The bus topology as RabbitMQ definitions."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser(
        "generate",
        help="print the definitions document (JSON) on stdout",
        description="Print RabbitMQ's definitions document for every exchange, queue "
        "and binding the product declares (units: deploy/seed/units.yaml).",
    )
    gen.add_argument("--vhost", default="/", help="the vhost the objects name (default /)")
    gen.add_argument(
        "--queue-type",
        choices=config.QUEUE_TYPES,
        default="quorum",
        help="x-queue-type of the durable queues (default quorum, for a cluster); the "
        "services must run with the same ZTC_QUEUE_TYPE",
    )
    gen.add_argument("--no-users", action="store_true", help="leave out the broker users and their permissions")
    load = sub.add_parser(
        "load",
        help="import the definitions into the broker of ZTC_AMQP_URI",
        description="Import the definitions into the vhost of ZTC_AMQP_URI through "
        "the management API (ZTC_RABBIT_MANAGEMENT_URL), with "
        "ZTC_QUEUE_TYPE's queues, or the file given.",
    )
    load.add_argument(
        "--file",
        type=argparse.FileType("r", encoding="utf-8"),
        help="a definitions file (default: generated now with ZTC_QUEUE_TYPE)",
    )
    args = parser.parse_args(argv)
    if args.command == "generate":
        sys.stdout.write(definitions_json(args.vhost, args.queue_type, users=not args.no_users))
        return 0
    settings = config.load()
    document = json.load(args.file) if args.file else definitions(queue_type=settings.queue_type)
    load_definitions(settings, document)
    print(
        f"definitions loaded: {len(document['exchanges'])} exchanges, {len(document['queues'])} queues, "
        f"{len(document['bindings'])} bindings",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
