"""bench/e2e.py --rate: an open load's account (how late lifecycles started, how many were in flight)
and the p99 verdict printed beside it."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from bench.e2e import p99_verdict
from bench.harness import drive, open_load


def _lifecycle(due: float, started: float, ended: float | None):
    marks = [("submit", started + 0.1)] + ([("published", ended)] if ended is not None else [])
    return SimpleNamespace(due=due, started=started, marks=marks)


def test_a_load_that_kept_up_started_everything_on_time():
    # due every 0.25 s (4/s), each started within 20 ms and took 3 s
    lifecycles = [_lifecycle(n * 0.25, n * 0.25 + 0.02, n * 0.25 + 3.0) for n in range(40)]
    opened = open_load(lifecycles, 4.0)
    assert opened["started"] == 40
    assert opened["start_lag_s_max"] == pytest.approx(0.02)
    assert opened["started_late_over_1s"] == 0
    assert opened["start_rate"] == pytest.approx(4.0)
    assert opened["lifecycle_s_p50"] == pytest.approx(2.98)
    # 3 s a lifecycle at 4 a second: 12 in flight at once
    assert opened["peak_in_flight"] == 12
    assert opened["kept_up"]


def test_a_load_that_fell_behind_says_how_late_and_how_many():
    # the cap held back the second half: each started 2 s later than the one before it was due
    lifecycles = [_lifecycle(n * 0.25, n * 0.25 + (0 if n < 10 else 2.0 * (n - 9)), None) for n in range(20)]
    for lc in lifecycles:
        lc.marks.append(("published", lc.started + 5.0))
    opened = open_load(lifecycles, 4.0)
    assert opened["started_late_over_1s"] == 10
    # 20 started over 0.25 * 9 + 2 * 10 + 0.25 * 10 s
    assert opened["start_rate"] == pytest.approx(19 / (0.25 * 19 + 20.0), abs=0.01)
    assert opened["start_lag_s_max"] == pytest.approx(20.0)
    assert opened["lifecycle_s_p99"] == pytest.approx(5.0)
    assert not opened["kept_up"]


def test_a_load_whose_lifecycles_take_longer_and_longer_did_not_keep_up():
    """No start was late (the cap was high), but work queued: each took 0.1 s longer than the one
    before, 2 s for the first and 5.9 s for the fortieth."""
    lifecycles = [_lifecycle(n * 0.25, n * 0.25, n * 0.25 + 2.0 + 0.1 * n) for n in range(40)]
    opened = open_load(lifecycles, 4.0)
    assert opened["started_late_over_1s"] == 0
    assert opened["lifecycle_s_first_quarter"] == pytest.approx(2.5, abs=0.11)
    assert opened["lifecycle_s_last_quarter"] == pytest.approx(5.5, abs=0.11)
    assert not opened["kept_up"]
    line = p99_verdict(STEPS, opened)
    assert "not met" in line and "did not keep up" in line


def test_lifecycles_not_started_are_not_counted():
    lifecycles = [_lifecycle(0.0, 0.1, 2.0), SimpleNamespace(due=0.25, started=None, marks=[])]
    assert open_load(lifecycles, 4.0)["started"] == 1


STEPS = {"submit": (60, 80.0, 181.5), "rate": (120, 75.6, 194.6), "reply": (60, 102.0, 164.1)}


def test_verdict_met_only_when_every_p99_is_under_and_the_system_kept_up():
    held = {"rate_offered": 4.0, "started_late_over_1s": 0, "kept_up": True}
    line = p99_verdict(STEPS, held)
    assert ": met (worst rate 194.6 ms)" in line
    slow = dict(STEPS, reply=(60, 190.0, 493.6))
    line = p99_verdict(slow, held)
    assert "not met" in line and "1 of 3 steps at or over 250 ms: reply" in line
    late = {"rate_offered": 4.0, "started_late_over_1s": 7, "kept_up": False}
    line = p99_verdict(STEPS, late)
    assert "not met" in line and "7 lifecycles started over 1 s late" in line


class _Stub:
    """A lifecycle that records when it ran and takes ``seconds``."""

    def __init__(self, seconds: float):
        self.seconds, self.due, self.started = seconds, None, None
        self.marks: list = []
        self.title = "stub"

    def run(self):
        self.started = time.time()
        time.sleep(self.seconds)
        self.marks.append(("published", time.time()))


def test_drive_starts_lifecycles_when_due_and_holds_them_at_the_cap(monkeypatch):
    """drive(rate=...) itself: 20/s offered, three at most in flight, each taking 0.3 s; the first
    three start on time, later ones wait for a free place."""
    import bench.harness as harness

    stubs = iter([_Stub(0.3) for _ in range(8)])
    monkeypatch.setattr(harness, "Lifecycle", lambda *a, **k: next(stubs))
    monkeypatch.setattr(harness, "Http", lambda *a, **k: SimpleNamespace())
    monkeypatch.setattr(
        harness, "Board", lambda *a, **k: SimpleNamespace(start=lambda: SimpleNamespace(stop=lambda: None))
    )
    system = SimpleNamespace(
        base="http://x", tokens={}, vhost="v", broker=SimpleNamespace(api="a"), settings=SimpleNamespace(amqp_uri="u")
    )
    lifecycles, failures, _http = drive(system, 8, 3, "T", rate=20.0)
    assert not failures
    opened = open_load(lifecycles, 20.0)
    assert opened["peak_in_flight"] == 3
    first = sorted(lifecycles, key=lambda lc: lc.due)
    assert all(lc.started - lc.due < 0.1 for lc in first[:3])
    # the eighth was due at 0.35 s but a place was free only after two rounds of 0.3 s
    assert first[-1].started - first[-1].due > 0.2
