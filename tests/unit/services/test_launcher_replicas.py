"""``make run --replicas engine=3``: several processes of a service, each started as that service,
each replica with a metrics port of its own; a bad ``--replicas`` is refused by name."""

import argparse

import pytest

from services import launcher
from shared import config


def test_replicas_are_named_after_their_service_and_every_other_service_runs_once():
    names = launcher.process_names({"engine": 3, "gateway": 2})
    assert names[:3] == ["engine", "engine#2", "engine#3"]
    assert names.count("intake") == 1 and "gateway#2" in names
    assert len(names) == len(launcher.SERVICE_CLASSES) + 3
    assert {launcher.service_of(n) for n in names} == set(launcher.SERVICE_CLASSES)


@pytest.mark.parametrize("bad", ["engine", "engine=0", "engine=x", "motor=2", "engine=17"])
def test_a_bad_replica_count_is_refused_naming_what_is_wrong(bad):
    with pytest.raises(argparse.ArgumentTypeError, match="SERVICE=N"):
        launcher.parse_replicas([bad])


def test_a_replica_gets_a_metrics_port_of_its_own_and_the_first_keeps_the_services():
    settings = config.load({"ZTC_METRICS_PORT_BASE": "9100"})
    assert launcher.replica_env(settings, "engine") == {}
    first = settings.metrics_port("engine")
    assert launcher.replica_env(settings, "engine#3") == {"ZTC_METRICS_PORT_ENGINE": str(first + 200)}
    assert launcher.replica_env(config.load({}), "engine#2") == {}  # metrics off: nothing to set apart


def test_start_all_starts_each_replica_as_its_service(monkeypatch):
    started = []

    class Popen:
        def __init__(self, command, env, preexec_fn=None):
            started.append((command[-1], env.get("ZTC_METRICS_PORT_INTAKE")))

    monkeypatch.setattr(launcher.subprocess, "Popen", Popen)
    settings = config.load({"ZTC_METRICS_PORT_BASE": "9100"})
    procs = launcher.start_all(settings, ["intake", "intake#2"])
    assert list(procs) == ["intake", "intake#2"]
    assert started == [("intake", None), ("intake", str(settings.metrics_port("intake") + 100))]
