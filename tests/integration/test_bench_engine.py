"""``bench/engine.py`` runs end to end on both databases: every lifecycle it times reaches
``completed`` (it exits 1 otherwise), alternated rounds are kept apart and summarised by their
medians, and nonsense arguments are refused before anything starts."""

from __future__ import annotations

import json
import statistics

import pytest

from tests import support

pytestmark = pytest.mark.integration

VARIANTS = ["spiff in memory", "spiff + json", "engine sqlite", "engine postgresql"]


def _run(*args: str):
    return support.run_bench("engine.py", *args, timeout=240)


def test_alternated_rounds_complete_every_lifecycle_and_report_their_medians():
    done = _run("--lifecycles", "3", "--warmup", "1", "--rounds", "3", "--json")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["rounds"] == 3 and len(report["each_round"]) == 3
    assert [row["variant"] for row in report["rows"]] == VARIANTS
    for i, row in enumerate(report["rows"]):
        runs = [each[i] for each in report["each_round"]]
        assert [r["variant"] for r in runs] == [row["variant"]] * 3
        assert all(r["lifecycles"] == r["completed"] == 3 for r in runs)
        assert row["cpu_ms_per_step"] == statistics.median(r["cpu_ms_per_step"] for r in runs)
        assert row["cpu_vs_spiff_json"] == statistics.median(r["cpu_vs_spiff_json"] for r in runs)
    assert all(each[1]["cpu_vs_spiff_json"] == 1.0 for each in report["each_round"])


def test_nonsense_arguments_are_refused():
    done = _run("--rounds", "0")
    assert done.returncode == 2
    assert "--lifecycles and --rounds must be at least 1" in done.stderr
