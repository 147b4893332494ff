"""``make run`` starts an exited service again, backing off up to a cap, and never stops the whole
run because one process keeps dying: it says loudly which one, and how it last exited."""

import signal
from types import SimpleNamespace

from services import launcher
from services.launcher import Restarts, describe_status


def test_an_exited_service_is_started_again_at_once_then_with_growing_pauses():
    r = Restarts()
    assert [r.after_exit("engine", t) for t in (0, 1, 2, 3)] == [0.0, 1.0, 2.0, 4.0]


def test_a_service_that_keeps_exiting_is_never_given_up_on_and_waits_at_most_the_cap():
    r = Restarts()
    now, delays = 0.0, []
    for _ in range(50):
        delay = r.after_exit("intake", now)
        delays.append(delay)
        now += delay + 0.1  # it dies again right after each start
    assert None not in delays
    assert max(delays) == Restarts.MAX_DELAY_SECONDS == 30.0
    assert delays[-10:] == [30.0] * 10
    assert r.keeps_exiting("intake") and r.exits_in_a_row("intake") == 50


def test_a_service_that_stayed_up_starts_again_at_once_and_services_are_counted_apart():
    r = Restarts()
    for t in range(Restarts.LOUD_AFTER):
        r.after_exit("intake", float(t * 40))
    assert r.keeps_exiting("intake")
    assert r.after_exit("engine", 10) == 0.0 and not r.keeps_exiting("engine")
    last_start = r.restarted_at["intake"]
    assert r.after_exit("intake", last_start + Restarts.STABLE_SECONDS + 1) == 0.0
    assert not r.keeps_exiting("intake")


def test_exit_statuses_are_said_in_words():
    assert describe_status(1) == "exit status 1"
    assert describe_status(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_status(-200) == "killed by signal 200"


class Exited:
    def __init__(self, code):
        self.returncode = code

    def poll(self):
        return self.returncode


class Running(Exited):
    def __init__(self):
        super().__init__(None)


def test_tending_restarts_the_one_that_died_and_says_loudly_when_it_keeps_dying(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(
        launcher, "start_all", lambda settings, names: started.extend(names) or {name: Exited(3) for name in names}
    )
    procs = {"engine": Exited(3), "intake": Running()}
    supervisor, due, now = Restarts(), {}, 0.0
    for _ in range(Restarts.LOUD_AFTER * 2):
        launcher.tend(SimpleNamespace(), procs, supervisor, due, now)
        now += Restarts.MAX_DELAY_SECONDS + 1
    out = capsys.readouterr().out
    assert set(started) == {"engine"} and len(started) == Restarts.LOUD_AFTER
    assert "engine exited with exit status 3; starting it again in 0s" in out
    assert "WARNING: engine KEEPS EXITING: 5 times in a row, the last with exit status 3" in out
    assert "stopping" not in out
    assert isinstance(procs["intake"], Running)
