"""The one rule for a moment's zone (:func:`shared.clock.as_utc`: naive is UTC, aware is converted)
and the one datetime column type built on it: a moment goes in with any offset and comes back the
same instant, aware and in UTC, on SQLite too (which keeps no offset). No service keeps a rule of
its own."""

from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared import clock
from shared.clock import SkippingClock
from shared.contracts.fields import UtcDateTime as UtcDateTimeField
from shared.db import UtcDateTime

BEIJING = timezone(timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[2]


class Base(DeclarativeBase):
    pass


class Moment(Base):
    __tablename__ = "moment"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def roundtrip(value):
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Moment(id=1, at=value))
        session.commit()
    with Session(engine) as session:
        return session.scalar(select(Moment.at).where(Moment.id == 1))


def test_an_aware_moment_comes_back_as_the_same_instant_in_utc():
    beijing = datetime(2027, 1, 4, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    back = roundtrip(beijing)
    assert back == beijing and back.tzinfo == timezone.utc and back.hour == 1


def test_a_naive_moment_is_taken_as_utc_and_none_stays_none():
    assert roundtrip(datetime(2027, 1, 4, 1, 30)) == datetime(2027, 1, 4, 1, 30, tzinfo=timezone.utc)
    assert roundtrip(None) is None


def test_comparisons_in_sql_use_utc():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(
            [
                Moment(id=1, at=datetime(2027, 1, 4, 9, 0, tzinfo=timezone(timedelta(hours=8)))),
                Moment(id=2, at=datetime(2027, 1, 4, 2, 0, tzinfo=timezone.utc)),
            ]
        )
        session.commit()
        later = session.scalars(select(Moment.id).where(Moment.at > datetime(2027, 1, 4, 1, 30, tzinfo=timezone.utc)))
        assert list(later) == [2]


def test_as_utc_reads_a_naive_moment_as_utc():
    back = clock.as_utc(datetime(2027, 1, 4, 1, 30))
    assert back == datetime(2027, 1, 4, 1, 30, tzinfo=timezone.utc) and back.tzinfo is timezone.utc


def test_as_utc_converts_another_offset_to_the_same_instant_in_utc():
    beijing = datetime(2027, 1, 4, 9, 30, tzinfo=BEIJING)
    back = clock.as_utc(beijing)
    assert back == beijing and back.tzinfo is timezone.utc and (back.day, back.hour) == (4, 1)
    assert back.isoformat() == "2027-01-04T01:30:00+00:00"


def test_as_utc_keeps_a_utc_moment_and_none():
    moment = datetime(2027, 1, 4, 1, 30, tzinfo=timezone.utc)
    assert clock.as_utc(moment) == moment and clock.as_utc(moment).tzinfo is timezone.utc
    assert clock.as_utc(None) is None


def test_a_skipping_clock_set_in_beijing_time_tells_utc():
    beijing = datetime(2027, 2, 1, 10, 0, tzinfo=BEIJING)
    skipping = SkippingClock(beijing)
    assert skipping.now() == beijing and skipping.now().tzinfo is timezone.utc
    skipping.set(datetime(2027, 2, 2, 10, 0, tzinfo=BEIJING))
    assert skipping.now().isoformat() == "2027-02-02T02:00:00+00:00"


def test_the_contracts_field_writes_the_same_rule():
    field = UtcDateTimeField()
    assert field.serialize("at", {"at": datetime(2027, 1, 4, 1, 30)}) == "2027-01-04T01:30:00+00:00"
    assert field.serialize("at", {"at": datetime(2027, 1, 4, 9, 30, tzinfo=BEIJING)}) == "2027-01-04T01:30:00+00:00"


# -- no service keeps its own rule ---------------------------------------------------------------


def zone_handling(source: str) -> list[int]:
    """The lines of ``source`` that decide a moment's zone by hand: reading ``.tzinfo`` (``if
    value.tzinfo is None``), ``.replace(tzinfo=...)`` or ``.astimezone(timezone.utc)``. Building a
    moment with a zone (``datetime(..., tzinfo=...)``) and converting to China time are not."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "tzinfo":
            found.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "replace" and any(k.arg == "tzinfo" for k in node.keywords):
                found.append(node.lineno)
            elif node.func.attr == "astimezone" and any(
                ast.unparse(a) in ("timezone.utc", "UTC", "datetime.timezone.utc") for a in node.args
            ):
                found.append(node.lineno)
    return sorted(set(found))


def test_the_check_finds_a_service_helper_of_the_old_kind():
    old = """
def aware(value):
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def utc(value):
    return value.astimezone(timezone.utc)
"""
    assert zone_handling(old) == [3, 4, 9]
    assert zone_handling("at = datetime(2027, 1, 4, tzinfo=timezone.utc).astimezone(CHINA_TZ)") == []


def test_only_shared_clock_decides_a_moments_zone():
    """Everything else reads stored times as they come (aware UTC) and passes a moment from outside
    through ``clock.as_utc``."""
    offenders = {
        str(path.relative_to(ROOT)): lines
        for folder in ("services", "shared")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "shared" / "clock.py" and "migrations" not in path.parts
        if ("tzinfo" in (text := path.read_text(encoding="utf-8")) or "astimezone" in text)
        and (lines := zone_handling(text))
    }
    assert offenders == {}, f"use shared.clock.as_utc (or nothing, for a stored time): {offenders}"
