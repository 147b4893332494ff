"""The tests' wait: few looks for a long wait, a first look at once, a last look at the deadline."""

from __future__ import annotations

import time

import pytest

from tests.support import wait_for


def test_a_long_wait_looks_a_few_times_a_second_not_twenty():
    looks = []
    with pytest.raises(AssertionError, match="timed out after 2s waiting for nothing"):
        wait_for(lambda: looks.append(time.monotonic()), timeout=2, message="nothing")
    # Pauses of 0.05 s growing to 0.4: about ten looks (forty before). A busy machine only makes
    # the pauses longer, so the bound holds there too.
    assert 2 <= len(looks) <= 16
    assert looks[-1] - looks[0] >= 1.9  # the last look at the deadline


def test_what_holds_at_the_first_look_is_answered_without_a_pause():
    started = time.monotonic()
    assert wait_for(lambda: "ready", timeout=20, interval=5) == "ready"
    assert time.monotonic() - started < 4  # the first look comes before the first 5 s pause
