"""Time, injected.

Every piece of code that asks "what time is it" asks a :class:`Clock`. Tests use a
:class:`SkippingClock` to move months ahead in milliseconds.

SpiffWorkflow's timer events call ``datetime.now(timezone.utc)`` on their own module's
``datetime`` name; :func:`install` points that name at a subclass whose ``now`` asks the current
clock, so the diagrams' timers and our scheduler agree on the time. That is the only place the
runtime reaches into SpiffWorkflow's module globals.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    def now(self) -> datetime:  # pragma: no cover - interface
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class SkippingClock(Clock):
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(**delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


_current: Clock = SystemClock()


def current() -> Clock:
    return _current


def now() -> datetime:
    return _current.now()


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        value = _current.now()
        return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process clock (for our code and for diagram timers); returns the old one."""
    global _current
    from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

    previous, _current = _current, clock
    spiff_timer.datetime = _ClockDatetime
    return previous
