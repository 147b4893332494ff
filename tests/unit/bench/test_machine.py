"""bench/e2e.py's account of the whole machine during a load: the CPU of the broker and the
database server beside the services (harness.machine_cpu, read from /proc), and the split per
lifecycle (e2e.machine_summary)."""

from __future__ import annotations

import os
import time

import pytest

from bench.e2e import machine_summary
from bench.harness import machine_cpu


def test_the_machine_counts_the_cpu_this_process_burns():
    before = machine_cpu()
    own = time.process_time()
    while time.process_time() - own < 0.3:
        sum(range(1000))
    after = machine_cpu()
    # the whole machine was busy at least as long as this process was (ticks of 10 ms: a margin)
    assert after["busy"] - before["busy"] >= 0.25
    assert after["steal"] >= before["steal"]
    # the servers' counters only grow (what they did meanwhile depends on the rest of the machine)
    assert after["broker"] >= before["broker"] and after["database"] >= before["database"]


def test_the_broker_and_the_database_server_are_found_by_their_processes():
    # every machine of this project runs RabbitMQ and PostgreSQL; both have used some CPU by now
    now = machine_cpu()
    assert now["broker"] > 0
    assert now["database"] > 0


def test_the_split_per_lifecycle_leaves_the_rest_to_what_no_group_claims():
    cpus = os.cpu_count() or 1
    machine = {"busy": 10.0 * cpus, "steal": 0.4 * cpus, "broker": 2.0, "database": 3.0}
    summary = machine_summary(machine, services=6.0, people=1.0, seconds=20.0, lifecycles=50)
    per = summary["cpu_ms_per_lifecycle"]
    assert per["services"] == pytest.approx(120.0)
    assert per["broker"] == pytest.approx(40.0)
    assert per["database"] == pytest.approx(60.0)
    assert per["people"] == pytest.approx(20.0)
    assert per["machine"] == pytest.approx(200.0 * cpus)
    assert per["rest"] == pytest.approx(200.0 * cpus - 240.0)
    assert summary["busy_percent"] == pytest.approx(50.0)
    assert summary["steal_percent"] == pytest.approx(2.0)
