"""What supervision needs of intake to choose key proposals: the year's filed proposals and who
proposed each (``shared.contracts.rpc.key_proposals.YearFilingFacts``)."""

from __future__ import annotations

from shared.contracts.rpc.key_proposals import YearFilingFacts
from shared.errors import Forbidden

from .access import acting_user, reads_all
from .records import proposers
from .unit_of_work import IntakeUnitOfWork


def key_proposal_facts(uow: IntakeUnitOfWork, year: int, numbers: list[str], principal: dict | None) -> dict:
    """How many proposals of ``year`` were filed (立案; merged ones are not counted: they are
    answered with the proposal they were merged into; nor those whose process an operator cancelled
    since: they are handled no further), their numbers, and of ``numbers`` those
    filed in ``year`` with their title and proposers (the initiator first)."""
    _, roles = acting_user(principal)
    if not reads_all(roles):
        raise Forbidden("the year's filing facts are for staff, the committee and leaders")
    filed = uow.proposals.filed_of_year(int(year))
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
