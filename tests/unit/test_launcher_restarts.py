"""``make run`` starts an exited service again, backing off, and gives up on one that keeps dying."""
from services.launcher import Restarts


def test_an_exited_service_is_started_again_at_once_then_with_growing_pauses():
    r = Restarts()
    assert [r.after_exit("engine", t) for t in (0, 1, 2, 3)] == [0.0, 1.0, 2.0, 4.0]


def test_a_service_that_keeps_exiting_is_given_up_on():
    r = Restarts()
    delays = [r.after_exit("intake", t) for t in range(Restarts.LIMIT)]
    assert delays[-1] is None and None not in delays[:-1]


def test_exits_long_ago_are_forgotten_and_services_are_counted_apart():
    r = Restarts()
    for t in range(Restarts.LIMIT - 1):
        r.after_exit("intake", t)
    assert r.after_exit("engine", 10) == 0.0
    assert r.after_exit("intake", Restarts.WINDOW_SECONDS + 10) == 0.0
