"""Integration fixtures: the engine on a real database, and the services on the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy

from services.assignment.operations import ensure_units
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.engine.engine import Engine
from services.registry import service_class
from shared.db import alembic_config, dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
from tests import support
from tests.support import SigningRpc, read_bpmn

DOMAIN_SERVICES = ("intake", "assignment", "supervision", "evaluation")


def _consumers_notice_a_stop_sooner(interval=0.1):
    """The services in this process consume through kombu's ``ConsumerMixin``, which looks whether
    it should stop once per ``safety_interval`` (a second): stopping a service gracefully took up
    to three of them (cancel each consumer, then end the loop), most of a bus test's time. A tenth
    of a second gives the same graceful stop (running workers still finish and ack first) sooner.
    Service processes (the launcher's, the harness's) keep kombu's second."""
    from kombu.mixins import ConsumerMixin

    limit, timeout, _ = ConsumerMixin.consume.__defaults__
    ConsumerMixin.consume.__defaults__ = (limit, timeout, interval)


_consumers_notice_a_stop_sooner()


@pytest.fixture(scope="session", autouse=True)
def migrated_copies(tmp_path_factory):
    """Alembic takes most of a second to migrate a fresh database of one service, and the tests make
    hundreds. Each test still gets databases of its own: a migration to head of a service's new
    database in this process copies one migrated once in this session (the same schema and alembic
    version) — a new SQLite file is a copy of a migrated file, a new PostgreSQL database is created
    from a migrated template database (``CREATE DATABASE … TEMPLATE``, dropped when the session ends).
    Everything else migrates as it does in production: other revisions, existing databases, and
    every other process (the launcher, ``ztc``, ``deploy/docker/prepare.py``)."""
    import shutil
    import uuid

    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import shared.db

    real_upgrade, real_ensure = command.upgrade, shared.db.ensure_postgres_database
    made = tmp_path_factory.mktemp("migrated")
    prefix = f"ztc_t_tpl_{uuid.uuid4().hex[:8]}"
    templates: dict[str, str] = {}
    fresh: set[str] = set()  # PostgreSQL databases asked for that the server does not have yet
    admin = create_engine(make_url(support.POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")

    def exists(name):
        with admin.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()

    def ensure(url):
        target = make_url(url)
        if target.get_backend_name() == "postgresql" and not exists(target.database):
            fresh.add(target.database)  # made by the upgrade below, from the template
            return
        real_ensure(url)

    def upgrade(cfg, revision, *args, **kwargs):
        url = make_url(cfg.get_main_option("sqlalchemy.url"))
        service = cfg.attributes.get("service")
        plain = revision != "head" or args or kwargs or not service
        if url.get_backend_name() == "postgresql" and url.database in fresh:
            fresh.discard(url.database)
            if plain:
                real_ensure(str(url))
                return real_upgrade(cfg, revision, *args, **kwargs)
            if service not in templates:
                template = f"{prefix}_{service}"
                real_ensure(str(url.set(database=template)))
                real_upgrade(alembic_config(service, str(url.set(database=template))), "head")
                templates[service] = template
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{templates[service]}"'))
            return None
        path = url.database if url.get_backend_name() == "sqlite" else None
        if plain or not path or path == ":memory:" or Path(path).exists():
            return real_upgrade(cfg, revision, *args, **kwargs)
        template = made / f"{service}.db"
        if not template.exists():
            real_upgrade(alembic_config(service, f"sqlite:///{template}"), "head")
        shutil.copyfile(template, path)
        return None

    command.upgrade, shared.db.ensure_postgres_database = upgrade, ensure
    yield
    command.upgrade, shared.db.ensure_postgres_database = real_upgrade, real_ensure
    with admin.connect() as conn:
        for template in templates.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def tables_of(database_url_template):
    """``tables_of(service, Base)``: a session maker on a fresh database of ``service`` with ``Base``'s
    tables created (no migrations: for tests of a repository adapter against its fakes)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import sessionmaker

    from shared.db import get_engine

    engines = []

    def make(service, base):
        url = database_url_template.format(service=service)
        if url.startswith("postgresql"):  # made here, not by a migration (``migrated_copies``)
            admin = create_engine(support.POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
            admin.dispose()
        engine = get_engine(url)
        base.metadata.create_all(engine)
        engines.append(engine)
        return sessionmaker(bind=engine, expire_on_commit=False)

    yield make
    for engine in engines:
        engine.dispose()


def prepare_databases(settings, services=("engine", *DOMAIN_SERVICES)):
    for service in services:
        migrate(service, settings.database_url(service))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        ensure_units(
            SqlAssignmentUnitOfWork(s),
            {"transport": "Municipal Transport Bureau", "education": "Municipal Education Bureau"},
        )


@pytest.fixture
def engine(settings):
    """The engine's rules on a fresh database, without the bus."""
    migrate("engine", settings.database_url("engine"))
    yield Engine(session_factory(settings.database_url("engine")), settings)
    dispose_all()


class System:
    """Engine and the four services running in this process on a throwaway vhost."""

    def __init__(self, settings, services):
        self.settings = settings
        prepare_databases(settings)
        topology.declare(settings.amqp_uri)
        self.engine = Engine(session_factory(settings.database_url("engine")), settings)
        self.engine.deploy(read_bpmn("smoke.bpmn"))
        self.runners = {}
        for name in services:
            self.start_service(name)
        self._rpc = ClusterRpcProxy(settings.nameko_config())
        self.rpc = SigningRpc(self._rpc.start(), settings)  # acts as the gateway: principals signed

    def start_service(self, name):
        runner = ServiceRunner(self.settings.nameko_config())
        runner.add_service(service_class(name))
        runner.start()
        self.runners[name] = runner

    def stop_service(self, name):
        """Stop gracefully: running workers finish and ack first."""
        self.runners.pop(name).stop()

    def reconnect_rpc(self):
        try:
            self._rpc.stop()
        except Exception:  # its connection died with the broker
            pass
        self._rpc = ClusterRpcProxy(self.settings.nameko_config())
        self.rpc = SigningRpc(self._rpc.start(), self.settings)

    def stop(self):
        import eventlet

        try:
            self._rpc.stop()
        finally:
            # Each consumer takes up to a second to notice it should stop: stop them together.
            pool = eventlet.GreenPool()
            for name in list(self.runners):
                pool.spawn(self.stop_service, name)
            pool.waitall()
            dispose_all()

    def session(self, service):
        return transaction(session_factory(self.settings.database_url(service)))


@pytest.fixture
def system(settings):
    running = System(settings, ("engine", *DOMAIN_SERVICES))
    yield running
    running.stop()
