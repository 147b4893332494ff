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
