"""Integration fixtures: the engine on a real database, and the services on the real broker."""
from __future__ import annotations

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy

from services.assignment.operations import ensure_units
from services.engine.engine import Engine
from services.registry import service_class
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
from tests.support import read_bpmn

DOMAIN_SERVICES = ("intake", "assignment", "supervision", "evaluation")


def prepare_databases(settings, services=("engine", *DOMAIN_SERVICES)):
    for service in services:
        migrate(service, settings.database_url(service))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        ensure_units(s, {"transport": "Municipal Transport Bureau", "education": "Municipal Education Bureau"})


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
        self.runner = ServiceRunner(settings.nameko_config())
        for name in services:
            self.runner.add_service(service_class(name))
        self.runner.start()
        self._rpc = ClusterRpcProxy(settings.nameko_config())
        self.rpc = self._rpc.start()

    def stop(self):
        self._rpc.stop()
        self.runner.stop()
        dispose_all()

    def session(self, service):
        return transaction(session_factory(self.settings.database_url(service)))


@pytest.fixture
def system(settings):
    running = System(settings, ("engine", *DOMAIN_SERVICES))
    yield running
    running.stop()
