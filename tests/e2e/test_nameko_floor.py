"""``bench/floor.py`` runs end to end: attached to a whole system on the real broker (as
``bench/e2e.py --floor`` attaches it after its load; started alone, it measures a system it starts
the same way), beside a bare kombu and a bare nameko responder; every call it times was answered
correctly (it checks each answer and exits non-zero otherwise), its figures are written and price
a lifecycle; nonsense arguments are refused before anything starts."""

from __future__ import annotations

import pytest

from tests import support

from .conftest import once_on_sqlite

pytestmark = pytest.mark.e2e

_once = once_on_sqlite("the floor is the framework's; one database shows that floor.py attaches and prices")


def _run(*args: str):
    return support.run_bench("floor.py", *args, timeout=300)


def test_nonsense_arguments_are_refused():
    done = _run("--calls", "0")
    assert done.returncode == 2
    assert "--calls, --rounds and --concurrency must be at least 1" in done.stderr


def test_e2e_measures_the_floor_on_a_system_already_running_and_prices_a_lifecycle_at_it(system, tmp_path):
    """``bench/e2e.py --floor``: after its load, bench/floor.py attaches to the same system (its
    broker, gateway and process ids) instead of starting one; its figures price a lifecycle. Here
    the system is the one the other scenarios run on, started by the launcher as ``make run`` does."""
    from bench.e2e import lifecycle_floor, measure_floor_of
    from bench.harness import Target

    pids = system.service_pids()
    assert set(pids) == {"gateway", "engine", "intake", "assignment", "supervision", "evaluation"}
    target = Target(system.settings.amqp_uri, system.base, system.tokens["staff"], pids)
    # floor.py checks every answer and exits non-zero on a wrong one; measure_floor_of then raises
    figures = measure_floor_of(target, tmp_path, calls=20)
    services = ("engine", "intake", "assignment", "supervision", "evaluation")
    assert set(figures["cpu_ms_per_call"]) == {
        "bare kombu",
        "bare nameko",
        *(f"ZTC {s}" for s in services),
        "bare kombu event",
        "bare nameko event",
        "bare nameko /health",
        "ZTC gateway /health",
        "ZTC gateway /api/me",
        "bare nameko /ready",
        "ZTC gateway /ready",
    }
    assert all(len(runs) == 1 and runs[0] >= 0 for runs in figures["cpu_ms_per_call"].values())
    assert figures["base"]["ZTC intake"] == "bare nameko" and figures["base"]["bare kombu"] is None
    floor = lifecycle_floor(figures, people_rpc_calls=19, system_messages=35, steps=18, step_ms=1.0)
    assert floor["parts_ms"]["engine steps"] == 18.0
    assert floor["ms"] == pytest.approx(sum(floor["parts_ms"].values()), abs=0.2)
