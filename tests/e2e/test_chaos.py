"""The chaos harness's short form (``bench/chaos.py --short``): 80 proposals driven over HTTP on
PostgreSQL, 24 in flight at a time, while 12 service processes are SIGKILLed (every service at
least once, the gateway included, each kill while proposals are in flight) and the broker is
restarted once; nothing may be lost, nothing recorded twice, and every queue must be drained at
the end. The broker is a RabbitMQ node of the run's own (``--own-broker``: bench/cluster.py's, on
free ports), so its restart touches no other test: ``make test`` runs it in a lane beside them.

It runs the harness as its own process (it starts and kills the services itself) and reads its
JSON report. ``-m "not chaos"`` leaves it out; ``--no-postgres`` skips it (it needs PostgreSQL).
"""

from __future__ import annotations

import json
import os

import pytest

from tests import support

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]


def test_nothing_is_lost_or_done_twice_while_services_and_the_broker_die(tmp_path, request):
    if request.config.getoption("--no-postgres"):
        pytest.skip("the chaos short form runs on PostgreSQL")
    report_file = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTC_")}
    env["ZTC_DB_POOL_SIZE"] = os.environ["ZTC_DB_POOL_SIZE"]  # its services share PostgreSQL with the lanes
    run = support.run_bench("chaos.py", "--short", "--own-broker", "--json", str(report_file), timeout=900, env=env)
    output = run.stdout[-6000:] + run.stderr[-4000:]
    assert report_file.exists(), output
    report = json.loads(report_file.read_text())
    assert report["accepted"] >= 80, output
    assert len(report["kills"]) >= 12, output
    assert report["services_never_killed"] == [], output
    assert report["kills_after_the_load"] == [], output
    assert len(report["broker_restarts"]) == 1, output
    assert report["lost"] == [] and report["unaccounted"] == [], output
    assert report["lifecycles_stopped"] == [], output
    assert report["queues_not_drained"] == {}, output
    assert report["completed"] == report["accepted"], output
    assert report["seconds"] < 600, output
    # Every duplicate counts: a submission the broker redelivers to a restarted intake carries the
    # idempotency key the gateway gave its HTTP request, and answers the proposal already recorded.
    assert report["duplicates"] == {}, output
    assert run.returncode == 0, output
