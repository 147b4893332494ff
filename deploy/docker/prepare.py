"""The one-shot preparation of a deployment (docker-compose's ``migrate`` service, Kubernetes'
``ztc-migrate`` Job), run before the services start and again on every upgrade; every step is
idempotent:

1. wait for PostgreSQL and RabbitMQ's management API (``--wait`` seconds);
2. migrate every service's database (``ZTC_DB_<SERVICE>`` / ``ZTC_DATABASE_URL``);
3. load the broker definitions (``shared.messaging.definitions``, queues of ``ZTC_QUEUE_TYPE``) into
   the vhost of ``ZTC_AMQP_URI`` through ``ZTC_RABBIT_MANAGEMENT_URL``;
4. deploy every diagram in ``ZTC_BPMN_DIR`` (an unchanged file keeps its version);
5. seed the unit and members directories from ``deploy/seed`` when they are empty;
6. install the broker users (each service's, the operator's, each unit's of the directory) with
   their permissions and topic permissions (``shared/messaging/access.py``), the services' and the
   operator's passwords from ``ZTC_BUS_PASSWORD_<NAME>`` (secrets); a unit's user gets no password
   here (``ztc units credentials issue UNIT``). ``ZTC_BUS_USERS=shared`` skips this step.

``--wait-for SERVICE`` does none of this: it waits until that service's database is at the newest
migration (a Kubernetes init container, so a service never starts on a schema older than its code).

Unlike ``make run`` it issues no demo tokens: an operator issues the first ones with
``ztc token --user NAME --role operator`` (see docs/deployment.md).
"""

from __future__ import annotations

import argparse
import sys
import time

import yaml

from services.registry import DATABASES
from shared import config


def say(message: str) -> None:
    print(f"[prepare] {message}", flush=True)


def _retry(what: str, action, seconds: float):
    from shared.messaging.access import UsersOfAnotherVhost

    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except UsersOfAnotherVhost as exc:  # waiting will not change it
            raise SystemExit(f"[prepare] {exc}") from None
        except Exception as exc:  # not up yet: a fresh cluster starts its parts in any order
            if time.monotonic() >= deadline:
                raise SystemExit(f"[prepare] {what} still failing after {seconds:.0f}s: {exc}") from None
            say(f"waiting for {what}: {type(exc).__name__}: {str(exc)[:200]}")
            time.sleep(3)


def at_newest_migration(service: str, url: str) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from shared.db import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(service, url)).get_heads())
    engine = create_engine(config.normalize_database_url(url))
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == heads
    finally:
        engine.dispose()


def wait_for_migration(service: str, url: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if at_newest_migration(service, url):
                say(f"{service}: database at the newest migration")
                return 0
            problem = "not at the newest migration yet"
        except Exception as exc:  # the database is not up yet
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        if time.monotonic() >= deadline:
            say(f"{service}: gave up after {seconds:.0f}s: {problem}")
            return 1
        say(f"{service}: waiting: {problem}")
        time.sleep(3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python deploy/docker/prepare.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=180,
        help="seconds to keep retrying while the database or the broker is not up (default 180)",
    )
    parser.add_argument("--no-seed", action="store_true", help="skip seeding the unit and members directories")
    parser.add_argument(
        "--wait-for",
        metavar="SERVICE",
        choices=DATABASES,
        help="only wait until SERVICE's database is at the newest migration, then exit",
    )
    args = parser.parse_args(argv)
    settings = config.load()
    if args.wait_for:
        return wait_for_migration(args.wait_for, settings.database_url(args.wait_for), args.wait)

    from shared.db import migrate, session_factory, transaction
    from shared.messaging import definitions

    if settings.bus_users != "shared":
        require_bus_passwords(settings)  # before anything changes
    for service in DATABASES:
        _retry(f"the {service} database", lambda s=service: migrate(s, settings.database_url(s)), args.wait)
        say(f"{service}: database migrated")

    document = definitions.definitions(queue_type=settings.queue_type)
    _retry("RabbitMQ's management API", lambda: definitions.load_definitions(settings, document), args.wait)
    say(
        f"broker definitions loaded: {len(document['exchanges'])} exchanges, {len(document['queues'])} "
        f"{settings.queue_type} queues, {len(document['bindings'])} bindings"
    )

    from services.engine.engine import Engine

    engine = Engine(session_factory(settings.database_url("engine")), settings)
    dmn = {p.name: p.read_bytes() for p in sorted(settings.bpmn_dir.glob("*.dmn"))}
    for path in sorted(settings.bpmn_dir.glob("*.bpmn")):
        for row in engine.deploy({path.name: path.read_bytes(), **dmn}, "deploy"):
            say(
                f"diagram {path.name}: {row['process_id']} version {row['version']}"
                f"{' (new)' if row['new'] else ' (unchanged)'}"
            )

    if not args.no_seed:
        from services.assignment.operations import ensure_units
        from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
        from services.evaluation.points.directory import ensure_members
        from services.evaluation.points.rules import RulebookPointsRules
        from services.evaluation.unit_of_work import SqlEvaluationUnitOfWork

        seed = config.ROOT / "deploy" / "seed"
        units = yaml.safe_load((seed / "units.yaml").read_text(encoding="utf-8"))["units"]
        with transaction(session_factory(settings.database_url("assignment"))) as s:
            say(f"unit directory: {ensure_units(SqlAssignmentUnitOfWork(s), units)} units added")
        members = yaml.safe_load((seed / "members.yaml").read_text(encoding="utf-8"))["members"]
        with transaction(session_factory(settings.database_url("evaluation"))) as s:
            added = ensure_members(SqlEvaluationUnitOfWork(s), RulebookPointsRules(), members)
            say(f"members directory: {added} members added")

    if settings.bus_users == "shared":
        say("ZTC_BUS_USERS=shared: no broker users installed; every service uses ZTC_AMQP_URI's user")
    else:
        install_bus_users(settings, args.wait)
    say("ready for the services")
    return 0


def require_bus_passwords(settings) -> None:
    missing = [
        f"ZTC_BUS_PASSWORD_{n.upper()}"
        for n in (*config.SERVICES, config.OPERATOR)
        if not settings.bus_passwords.get(n)
    ]
    if missing:
        raise SystemExit(
            f"[prepare] the broker users need their passwords: set {', '.join(missing)} "
            "(or ZTC_BUS_USERS=shared to run every service on ZTC_AMQP_URI's user)"
        )


def install_bus_users(settings, wait: float) -> None:
    """Every broker user with its permissions; the services' and the operator's passwords from the
    environment (a missing one is an error: a service without one could not connect)."""
    from sqlalchemy import select

    from services.assignment.models import Unit
    from shared.db import session_factory, transaction
    from shared.messaging import access, identity

    names = (*config.SERVICES, config.OPERATOR)
    require_bus_passwords(settings)
    if not settings.bus_key:
        say("WARNING: ZTC_BUS_KEY is not set: give every service the same deployment key (a secret)")
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        units = sorted(s.scalars(select(Unit.code)))
    grant_list = access.grants(settings, units)

    def user(name):  # the operator's broker user is named apart from the services'
        return identity.operator_user(settings) if name == config.OPERATOR else identity.service_user(settings, name)

    passwords = {user(n): settings.bus_passwords[n] for n in names}
    _retry("RabbitMQ's management API", lambda: access.install(settings, grant_list, passwords), wait)
    say(
        f"broker users: {len(config.SERVICES)} services, the operator and {len(units)} units "
        f"({identity.unit_user(settings, '<code>')}, no password until 'ztc units credentials issue')"
    )


if __name__ == "__main__":
    sys.exit(main())
