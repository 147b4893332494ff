"""``proposal.excellent``: the committee graded a proposal excellent (优秀提案), told to the ledger.

The grade is evaluation's own fact (``operations.grade_quality``); the proposers are those of the
proposal's newest rating round, the initiator first (lead), then the co-signers who confirmed (co).
Grading the same proposal excellent again publishes the same event id, which the ledger books once;
a grade lowered afterwards takes no points back (a correction in the period's window does)."""

from __future__ import annotations

from ..unit_of_work import EvaluationUnitOfWork

EVENT = "proposal.excellent"


def announce(uow: EvaluationUnitOfWork, number: str, grade: str) -> bool:
    """Publish ``proposal.excellent`` for an excellent grade; returns whether it did."""
    if grade != "excellent":
        return False
    newest = uow.ratings.latest_round(number)
    proposers = list(newest.proposers) if newest is not None else []
    if not proposers:
        return False
    lead, *co = proposers
    uow.publish_event(
        EVENT,
        f"{EVENT}:{number}",
        number,
        members=[{"member": lead, "role": "lead"}, *({"member": m, "role": "co"} for m in co)],
        payload={"number": number, "grade": grade},
    )
    return True
