"""Failed console logins slowed down (services/gateway/console/login_limits.py), counted by the
gateway's limits table on a real SQLite session: per account from one address and per address,
only failures counted, a window that passes forgotten; and the limits' numbers come from settings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import limits
from services.gateway.console import login_limits
from services.gateway.http import _refusal
from services.gateway.models import Base
from shared import config
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import TooManyRequests

SETTINGS = config.load(
    {
        "ZTC_CONSOLE_LOGIN_FAILURES_PER_ACCOUNT": "3",
        "ZTC_CONSOLE_LOGIN_FAILURES_PER_ADDRESS": "5",
        "ZTC_CONSOLE_LOGIN_WINDOW_SECONDS": "900",
    }
)


@pytest.fixture
def db(tmp_path, skipping_clock):
    skipping_clock.set(datetime(2026, 11, 30, 4, 0, 10, tzinfo=timezone.utc))  # 10 s into a window
    url = f"sqlite:///{tmp_path}/gateway.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


def _from(address: str) -> Request:
    return Request(EnvironBuilder(path="/console/login", environ_base={"REMOTE_ADDR": address}).get_environ())


def fail(db, user: str, address: str) -> None:
    login_limits.failed(db, login_limits.guards(_from(address), SETTINGS, user), SETTINGS)
    db.commit()


def refused(db, user: str, address: str) -> TooManyRequests | None:
    try:
        login_limits.check(db, login_limits.guards(_from(address), SETTINGS, user), SETTINGS)
    except TooManyRequests as exc:
        return exc
    return None


def test_the_limits_numbers_come_from_settings_with_defaults_for_a_fresh_machine():
    defaults = config.load({})
    assert (
        defaults.console_login_failures_per_account,
        defaults.console_login_failures_per_address,
        defaults.console_login_window_seconds,
    ) == (5, 20, 900)
    assert (SETTINGS.console_login_failures_per_account, SETTINGS.console_login_failures_per_address) == (3, 5)


def test_an_account_is_slowed_down_from_the_address_that_failed_and_nobody_else_is(db):
    for _ in range(2):
        fail(db, "member.li", "10.0.0.1")
    assert refused(db, "member.li", "10.0.0.1") is None  # two failures: the third try is let through
    fail(db, "member.li", "10.0.0.1")
    exc = refused(db, "member.li", "10.0.0.1")
    assert exc is not None and exc.status == 429 and exc.details["scope"] == login_limits.ACCOUNT
    assert exc.details["limit"] == 3 and exc.details["window_seconds"] == 900
    assert exc.details["retry_after_seconds"] == 890 and "try again in 890 seconds" in exc.message
    # the person from their own address, and another account from the guessing address: not refused
    assert refused(db, "member.li", "10.0.0.2") is None
    assert refused(db, "member.zhou", "10.0.0.1") is None


def test_an_address_failing_on_many_accounts_is_slowed_down_for_every_account(db):
    for n in range(5):
        fail(db, f"guess.{n}", "10.0.0.9")
    exc = refused(db, "member.li", "10.0.0.9")  # no failure of this account, but its address is over
    assert exc is not None and exc.details["scope"] == login_limits.ADDRESS and "from this address" in exc.message
    assert refused(db, "member.li", "10.0.0.8") is None


def test_a_window_that_passed_is_forgotten(db, skipping_clock):
    for _ in range(3):
        fail(db, "member.li", "10.0.0.1")
    assert refused(db, "member.li", "10.0.0.1") is not None
    skipping_clock.advance(seconds=890)  # the next window
    assert refused(db, "member.li", "10.0.0.1") is None
    fail(db, "member.li", "10.0.0.1")  # counted in the new window, the old one deleted
    assert db.query(limits.PublicLimitCount).filter_by(scope=login_limits.ACCOUNT).count() == 1


def test_checking_counts_nothing_and_a_long_user_id_is_kept_in_a_bounded_key(db):
    for _ in range(10):
        assert refused(db, "x" * 500, "10.0.0.1") is None
    assert db.query(limits.PublicLimitCount).count() == 0
    fail(db, "x" * 500, "10.0.0.1")
    assert all(len(row.key) <= 100 for row in db.query(limits.PublicLimitCount))


def test_a_login_window_passing_leaves_the_public_limits_running_window_alone(db, skipping_clock):
    """Each limit forgets its own passed windows only: the public cases' hour is still running
    when the logins' quarter of an hour has passed."""
    limits.take(db, [("address", "10.0.0.1", 2)], 3600)
    skipping_clock.advance(seconds=1000)  # the logins' window moved on, the public one did not
    fail(db, "member.li", "10.0.0.1")
    limits.take(db, [("address", "10.0.0.1", 2)], 3600)
    with pytest.raises(TooManyRequests):
        limits.take(db, [("address", "10.0.0.1", 2)], 3600)


def test_an_api_refusal_over_a_limit_says_when_to_try_again_in_retry_after():
    answer = _refusal(login_limits.refusal(login_limits.ADDRESS, 20, 900, 42))
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "42"
    assert "Retry-After" not in _refusal(TooManyRequests("no hint")).headers
