"""What supervision needs of intake to choose key proposals: the year's filed proposals and who
proposed each (``shared.contracts.rpc.key_proposals.YearFilingFacts``)."""

from __future__ import annotations

from sqlalchemy import select

from shared.contracts.rpc.key_proposals import YearFilingFacts
from shared.errors import Forbidden

from .access import acting_user, reads_all
from .models import Proposal
from .records import proposers

FILED = "filed"


def key_proposal_facts(session, year: int, numbers: list[str], principal: dict | None) -> dict:
    """How many proposals of ``year`` were filed (立案; merged ones are not counted: they are
    answered with the proposal they were merged into), their numbers, and of ``numbers`` those
    filed in ``year`` with their title and proposers (the initiator first)."""
    _, roles = acting_user(principal)
    if not reads_all(roles):
        raise Forbidden("the year's filing facts are for staff, the committee and leaders")
    filed = session.scalars(
        select(Proposal).where(Proposal.year == int(year), Proposal.decision == FILED).order_by(Proposal.sequence)
    ).all()
    wanted = set(numbers or [])
    return YearFilingFacts().dump(
        {
            "year": int(year),
            "filed": len(filed),
            "filed_numbers": [p.number for p in filed],
            "proposals": {
                p.number: {"number": p.number, "title": p.title, "proposers": proposers(p)}
                for p in filed
                if p.number in wanted
            },
        }
    )
