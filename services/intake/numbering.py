"""Proposal numbers: ``2027-0001``, one sequence per session year, without gaps.

The counter row of the year is incremented in the submitting transaction. A submission that rolls
back gives its number back; concurrent submissions wait for each other on the row (PostgreSQL's row
lock, SQLite's write lock) instead of reading the same ``max()``.
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from .models import ProposalCounter


def _increment(session, year: int) -> int | None:
    return session.execute(
        update(ProposalCounter)
        .where(ProposalCounter.year == year)
        .values(last=ProposalCounter.last + 1)
        .returning(ProposalCounter.last)
    ).scalar_one_or_none()


def next_sequence(session, year: int) -> int:
    """The next sequence number of ``year``, taken in the session's transaction."""
    taken = _increment(session, year)
    if taken is not None:
        return taken
    try:
        with session.begin_nested():  # the year's first proposal: open its counter
            session.execute(insert(ProposalCounter).values(year=year, last=1))
        return 1
    except IntegrityError:
        # Another transaction opened the counter first (and has committed, or we would still wait).
        return _increment(session, year)


def format_number(year: int, sequence: int) -> str:
    return f"{year}-{sequence:04d}"
