"""The relay's loop: a commit wakes it at once; with ``relay_gather_seconds`` the commits of the
next moment join the woken flush instead of each making a batch (and a transaction) of its own."""

from __future__ import annotations

import eventlet
import pytest
from eventlet.event import Event

from shared.messaging.database import Database


class _Relay:
    def __init__(self) -> None:
        self.flushes: list[bool] = []  # sweep or not, one per flush

    def flush(self, sweep: bool = False) -> int:
        self.flushes.append(sweep)
        return 0


class _Settings:
    def __init__(self, gather: float) -> None:
        self.relay_interval_seconds = 5.0  # no sweep during the test
        self.relay_gather_seconds = gather


def _loop(gather: float) -> tuple[Database, _Relay, eventlet.greenthread.GreenThread]:
    db = Database("test", outbox_model=object)
    db.settings = _Settings(gather)
    db.relay = relay = _Relay()
    db._wake = Event()
    db._running = True
    return db, relay, eventlet.spawn(db._relay_loop)


def _commits(db: Database, n: int, apart: float) -> None:
    eventlet.sleep(0.01)  # the loop's first flush (what a stopped process left) has run
    for _ in range(n):
        db.wake()
        eventlet.sleep(apart)


def _stop(db: Database, loop) -> None:
    db._running = False
    db.wake()
    loop.wait()


@pytest.mark.parametrize("gather", [0.0, 0.2])
def test_three_commits_apart_make_three_flushes_without_gathering_and_one_with(gather):
    db, relay, loop = _loop(gather)
    _commits(db, 3, apart=0.02)
    eventlet.sleep(0.3 if gather else 0.05)
    flushes = list(relay.flushes)
    _stop(db, loop)
    woken = flushes[1:]  # after the first flush, at start
    assert flushes[0] is False
    assert woken == ([False] if gather else [False, False, False])


def test_a_commit_is_never_left_waiting_for_the_sweep():
    """A commit while the gathered flush runs wakes the loop again: its row goes in the next flush,
    not after the interval."""
    db, relay, loop = _loop(0.05)
    _commits(db, 1, apart=0.08)  # the first gathered flush has run
    _commits(db, 1, apart=0.08)
    flushes = list(relay.flushes)
    _stop(db, loop)
    assert flushes == [False, False, False]
