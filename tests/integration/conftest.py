"""Integration fixtures: the engine on a real database, and the services on the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy

from services.assignment.operations import ensure_units
from services.assignment.repository import SqlAssignmentUnitOfWork
from services.engine.engine import Engine
from services.registry import service_class
from shared.db import alembic_config, dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
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
def migrated_sqlite_copies(tmp_path_factory):
    """Alembic takes most of a second to migrate a fresh SQLite database of one service, and the
    tests make hundreds. Each test still gets databases of its own: a migration to head of a
    service's new SQLite file in this process copies a file migrated once in this session (the
    same schema and alembic version). Everything else migrates as it does in production: other
    revisions, existing files, PostgreSQL, and every other process (the launcher, ``ztc``,
    ``deploy/docker/prepare.py``)."""
    import shutil

    from alembic import command
    from sqlalchemy.engine import make_url

    real_upgrade = command.upgrade
    made = tmp_path_factory.mktemp("migrated")

    def upgrade(cfg, revision, *args, **kwargs):
        url = make_url(cfg.get_main_option("sqlalchemy.url"))
        service = cfg.attributes.get("service")
        path = url.database if url.get_backend_name() == "sqlite" else None
        if revision != "head" or args or kwargs or not service or not path or path == ":memory:" or Path(path).exists():
            return real_upgrade(cfg, revision, *args, **kwargs)
        template = made / f"{service}.db"
        if not template.exists():
            real_upgrade(alembic_config(service, f"sqlite:///{template}"), "head")
        shutil.copyfile(template, path)

    command.upgrade = upgrade
    yield
    command.upgrade = real_upgrade


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
