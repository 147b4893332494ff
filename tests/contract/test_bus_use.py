"""Every service class uses the bus exactly as ``shared.contracts.subscriptions`` declares: the
queues its ``@listen`` entrypoints consume (with their bindings), its job queue, whether it answers
RPC and whose RPC it calls. The broker's definitions and permissions are built from that table,
so a listener missing from it would get neither a queue nor the right to read one."""

from __future__ import annotations

import inspect

import pytest
from kombu import Queue

from services.registry import SERVICE_CLASSES, service_class
from shared import contracts
from shared.contracts.subscriptions import BUS_USE, Listened
from shared.messaging import access, topology
from shared.messaging.entrypoints import Api, JobEntrypoint, Listen, ServiceRpc


def found_use(service: str) -> dict:
    """What the class of ``service`` really consumes and calls, read from its entrypoints."""
    listens, jobs, rpc_server, targets = {}, False, False, set()
    for _, member in inspect.getmembers(service_class(service)):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, Listen) and isinstance(entrypoint.queue, Queue):
                queue = entrypoint.queue
                listens[queue.name] = sorted(topology._bindings_of(queue))
            elif isinstance(entrypoint, JobEntrypoint):
                jobs = True
            elif isinstance(entrypoint, Api):
                rpc_server = True
        if isinstance(member, ServiceRpc):
            targets.add(member.target_service)
    return {"listens": listens, "jobs": jobs, "rpc_server": rpc_server, "rpc_targets": sorted(targets)}


def declared_use(service: str) -> dict:
    use = BUS_USE[service]
    return {
        "listens": {item.queue: sorted((item.exchange, key) for key in item.keys) for item in use.listens},
        "jobs": use.jobs,
        "rpc_server": use.rpc_server,
        "rpc_targets": sorted(use.rpc_targets),
    }


def test_every_service_is_declared():
    assert set(BUS_USE) == set(SERVICE_CLASSES)


@pytest.mark.parametrize("service", sorted(SERVICE_CLASSES))
def test_the_service_uses_the_bus_as_declared(service):
    assert found_use(service) == declared_use(service), (
        f"{service}'s entrypoints differ from shared/contracts/subscriptions.py: declare what it consumes and calls there"
    )


def test_a_listener_missing_from_the_contracts_is_caught(monkeypatch):
    # The check above can fail: drop one declared queue and the intake class no longer matches.
    use = BUS_USE["intake"]
    monkeypatch.setitem(
        BUS_USE,
        "intake",
        type(use)(listens=use.listens[1:], jobs=use.jobs, rpc_server=use.rpc_server, rpc_targets=use.rpc_targets),
    )
    assert found_use("intake") != declared_use("intake")


def test_the_broker_definitions_and_permissions_come_from_the_declarations():
    names = {queue.name for queue in topology.listened_queues("quorum")}
    assert names == {item.queue for use in BUS_USE.values() for item in use.listens}
    assert all(queue.queue_arguments.get("x-queue-type") == "quorum" for queue in topology.listened_queues("quorum"))
    intake = access.service_use("intake")
    assert intake.queues[contracts.events_queue("intake")] == sorted(
        (contracts.EVENTS_EXCHANGE, key) for key in contracts.subscriptions.INTAKE_HEARS
    )
    assert contracts.job_queue("intake") in intake.queues and intake.rpc_targets == ("evaluation",)
    assert access.service_use("gateway").rpc_server is False


def test_declared_exchanges_exist():
    exchanges = {exchange.name for exchange in topology.EXCHANGES}
    assert all(
        isinstance(item, Listened) and item.exchange in exchanges and item.keys
        for use in BUS_USE.values()
        for item in use.listens
    )


def test_each_service_hears_every_event_its_handler_acts_on():
    # A handler that acts on an event its queue is not bound to would never be called with it.
    from services.assignment import decisions
    from services.intake import progress
    from services.supervision import unit_facts

    assert set(unit_facts.HEARD) == set(contracts.subscriptions.SUPERVISION_HEARS)
    assert set(progress.HEARD) == set(contracts.subscriptions.INTAKE_HEARS)
    assert set(decisions.HEARD) == set(contracts.subscriptions.ASSIGNMENT_HEARS)
