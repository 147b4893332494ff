"""``bench/relay.py`` runs end to end on the real broker: every message it published is queued, the
outbox is left empty, and its figures are written; nonsense arguments are refused before anything
starts."""

from __future__ import annotations

import json

import pytest

from tests import support

pytestmark = pytest.mark.integration


def _run(*args: str):
    return support.run_bench("relay.py", *args, timeout=120)


def test_a_short_run_loses_nothing_and_writes_its_figures(tmp_path):
    out = tmp_path / "relay.json"
    done = _run("--db", "sqlite", "--messages", "5", "--rounds", "1", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = json.loads(out.read_text())["runs"]
    assert run["queued"] == run["expected"] == 40 + 5 * 3
    assert run["outbox_left"] == 0
    assert set(run["cpu_ms_per_message"]) == {"bare kombu", "relay, 1 a time", "relay, backlog"}
    assert all(ms > 0 for figures in run["cpu_ms_per_message"].values() for ms in figures)
    assert "relay, 1 a time" in done.stdout and "MESSAGES LOST" not in done.stdout


def test_nonsense_arguments_are_refused():
    done = _run("--messages", "0")
    assert done.returncode == 2
    assert "--messages and --rounds must be at least 1" in done.stderr
