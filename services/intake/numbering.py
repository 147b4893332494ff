"""Proposal numbers: ``2027-0001``, one sequence per session year, without gaps.

The sequence is taken from the repository in the submitting unit of work
(``ProposalRepository.next_sequence``: a counter row per year, see ``sql``): a submission that rolls
back gives its number back, and concurrent submissions never take the same one.
"""

from __future__ import annotations

from .unit_of_work import IntakeUnitOfWork


def next_sequence(uow: IntakeUnitOfWork, year: int) -> int:
    """The next sequence number of ``year``, taken in the unit of work's transaction."""
    return uow.proposals.next_sequence(year)


def format_number(year: int, sequence: int) -> str:
    return f"{year}-{sequence:04d}"
