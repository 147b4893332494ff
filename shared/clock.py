"""Time, injected.

Every piece of code that asks "what time is it" asks a :class:`Clock`. Tests use a
:class:`SkippingClock` to move months ahead in milliseconds.

SpiffWorkflow's timer events call ``datetime.now(timezone.utc)`` on their own module's
``datetime`` name; :func:`install` points that name at a subclass whose ``now`` asks the current
clock, so the diagrams' timers and our scheduler agree on the time. That is the only place the
runtime reaches into SpiffWorkflow's module globals.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone, tzinfo
from typing import overload


class Clock:
    """Every clock's ``now`` is an aware datetime in UTC."""

    def now(self) -> datetime:  # pragma: no cover - interface
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class SkippingClock(Clock):
    """A clock that stands still until told to move. A time it is given in another zone (a test's
    Beijing morning) is kept as the same instant in UTC, as :func:`as_utc` reads it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = as_utc(start or datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(**delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = as_utc(when)


class OffsetClock(Clock):
    """The system clock moved ahead by the number of seconds written in a file.

    For demonstrations and end-to-end tests, where every service is its own process and they must
    all skip ahead together (``ztc clock advance 31d``). Never configured in production: the file
    is named by ``ZTC_CLOCK_OFFSET_FILE``, unset by default.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from pathlib import Path

        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._offset = 0.0

    def offset(self) -> float:
        try:
            found = self.path.stat()
            stamp = (found.st_ino, found.st_mtime_ns)  # each advance is a new file (a rename)
        except FileNotFoundError:
            return 0.0
        if stamp != self._stamp:
            text = self.path.read_text().strip()
            if not text:  # a writer without the atomic replace below, caught mid-write: read it again next time
                return self._offset
            self._offset, self._stamp = float(text), stamp
        return self._offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset())

    def advance(self, seconds: float) -> float:
        total = self.offset() + seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole and then renamed over the file: a service reading the file while it was
        # truncated read no offset and kept that, with the new file's time, until the next advance
        # (its clock went back to the real time and the timers it was to fire never came due).
        part = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        part.write_text(repr(total))
        os.replace(part, self.path)
        return total


_current: Clock = SystemClock()


def current() -> Clock:
    return _current


def now() -> datetime:
    return _current.now()


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """The UTC instant of a moment that comes from outside: a message, a form, a file, a setting.

    The one rule for the zone of a moment, used by :class:`shared.db.UtcDateTime` as it stores and
    reads a column and by the contracts' ``UtcDateTime`` field: every time the product keeps is UTC,
    so a naive datetime is read as UTC; an aware one is converted to UTC (the same instant); None
    stays None. A value read from a ``UtcDateTime`` column is aware UTC already and needs no call.
    """
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def in_words(moment: str) -> str:
    """A stored time (ISO 8601) as a message to a person says it: ``YYYY-MM-DD HH:MM UTC``, to the
    minute (a naive time is UTC, :func:`as_utc`); text that is no time is given back as it is."""
    try:
        return as_utc(datetime.fromisoformat(moment)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return moment


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]  # a plain datetime, as callers use it
        value = _current.now()
        return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)


def follow_offset_file(path: str | None) -> bool:
    """Run this process on the :class:`OffsetClock` of ``path`` (``ZTC_CLOCK_OFFSET_FILE``) when one
    is configured, as every service does: a demonstration's or a test's moved clock then stamps what
    this process records too. False, and the system clock kept, when none is."""
    if not path:
        return False
    install(OffsetClock(path))
    return True


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process clock (for our code and for diagram timers); returns the old one."""
    global _current
    from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

    previous, _current = _current, clock
    spiff_timer.datetime = _ClockDatetime
    return previous
