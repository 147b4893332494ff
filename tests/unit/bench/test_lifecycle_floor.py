"""bench/e2e.py --floor: a lifecycle's messages and steps priced at the floors bench/floor.py
measured (the arithmetic docs/performance.md reads its floor from)."""

from __future__ import annotations

import pytest

from bench.e2e import lifecycle_floor


def _measured(**medians: float) -> dict:
    # bench/floor.py's figures: each variant's CPU ms per call, one per round
    return {"cpu_ms_per_call": {name.replace("_", " "): [ms - 0.1, ms, ms + 5] for name, ms in medians.items()}}


FLOORS = {
    "bare_kombu": 0.56,
    "bare_nameko": 1.04,
    "bare_kombu_event": 0.30,
    "bare_nameko_event": 0.59,
    "bare_nameko_/health": 0.63,
    "bare_nameko_/ready": 5.63,
}


def test_each_part_is_its_count_times_the_floor_of_one():
    floor = lifecycle_floor(_measured(**FLOORS), people_rpc_calls=10, system_messages=35, steps=18, step_ms=2.0)
    # a request: its HTTP answer, the caller's side of one RPC call ((5.63 - 0.63) / 5), its answer
    assert floor["request_ms"] == pytest.approx(0.63 + 1.0 + 1.04)
    # a message: published with confirms (0.56 - 0.30), consumed by nameko
    assert floor["message_ms"] == pytest.approx(0.26 + 0.59)
    assert floor["parts_ms"] == {
        "people's requests": pytest.approx(26.7),
        "system's messages": pytest.approx(29.8),
        "engine steps": 36.0,
    }
    assert floor["ms"] == pytest.approx(26.7 + 29.75 + 36.0, abs=0.1)


def test_a_floor_grows_with_the_messages_and_steps_it_prices():
    less = lifecycle_floor(_measured(**FLOORS), people_rpc_calls=10, system_messages=35, steps=18, step_ms=2.0)
    more = lifecycle_floor(_measured(**FLOORS), people_rpc_calls=20, system_messages=35, steps=18, step_ms=2.0)
    assert more["ms"] - less["ms"] == pytest.approx(10 * less["request_ms"], abs=0.1)


def test_a_publish_never_counts_less_than_nothing():
    # a noisy round where consuming an event measured dearer than answering a call
    floors = dict(FLOORS, bare_kombu_event=0.7)
    floor = lifecycle_floor(_measured(**floors), people_rpc_calls=0, system_messages=1, steps=0, step_ms=1.0)
    assert floor["message_ms"] == pytest.approx(0.59)
