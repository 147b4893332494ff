"""The one datetime column type: a moment goes in with any offset and comes back the same instant,
aware and in UTC, on SQLite too (which keeps no offset)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import UtcDateTime


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
