"""``bench/floor.py`` runs end to end: a whole system on the real broker beside a bare kombu and a
bare nameko responder; every call it times was answered correctly (the benchmark checks each
answer and exits non-zero otherwise), and its figures are written; nonsense arguments are refused
before anything starts."""

from __future__ import annotations

import json

import pytest

from tests import support

pytestmark = pytest.mark.e2e


def _run(*args: str):
    return support.run_bench("floor.py", *args, timeout=300)


def test_a_short_run_answers_every_call_and_writes_its_figures(tmp_path):
    out = tmp_path / "floor.json"
    done = _run("--services", "intake", "--calls", "20", "--rounds", "1", "--concurrency", "4", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result["cpu_ms_per_call"]) == {
        "bare kombu",
        "bare nameko",
        "ZTC intake",
        "bare kombu event",
        "bare nameko event",
        "bare nameko /health",
        "ZTC gateway /health",
        "ZTC gateway /api/me",
        "bare nameko /ready",
        "ZTC gateway /ready",
    }
    assert all(len(runs) == 1 and runs[0] >= 0 for runs in result["cpu_ms_per_call"].values())
    assert result["base"]["ZTC intake"] == "bare nameko" and result["base"]["bare kombu"] is None
    assert "ZTC gateway /api/me" in done.stdout


def test_nonsense_arguments_are_refused():
    done = _run("--calls", "0")
    assert done.returncode == 2
    assert "--calls, --rounds and --concurrency must be at least 1" in done.stderr


def test_e2e_measures_the_floor_on_a_system_already_running_and_prices_a_lifecycle_at_it():
    """``bench/e2e.py --floor``: after its load, bench/floor.py attaches to the same system (its
    broker, gateway and process ids) instead of starting one; its figures price a lifecycle."""
    from bench.e2e import lifecycle_floor, measure_floor
    from bench.harness import System

    with System("sqlite") as system:
        # floor.py checks every answer and exits non-zero on a wrong one; measure_floor then raises
        figures = measure_floor(system, calls=20)
    ztc = {name for name in figures["cpu_ms_per_call"] if name.startswith("ZTC ")}
    assert ztc == {f"ZTC {s}" for s in ("engine", "intake", "assignment", "supervision", "evaluation")} | {
        "ZTC gateway /health",
        "ZTC gateway /api/me",
        "ZTC gateway /ready",
    }
    floor = lifecycle_floor(figures, people_rpc_calls=19, system_messages=35, steps=18, step_ms=1.0)
    assert floor["parts_ms"]["engine steps"] == 18.0
    assert floor["ms"] == pytest.approx(sum(floor["parts_ms"].values()), abs=0.2)
