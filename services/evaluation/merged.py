"""Merged proposals (并案) in rating: "merged proposals keep their own proposers and each still gets
an answer" — so each merged proposal's proposers rate the answer of the proposal it joined, in that
proposal's rating rounds, as its own proposers do.

Intake tells who was merged where in the ``proposal.filed`` event of the merged proposal (payload
``merged_into``, members its proposers), the same event that books their authorship points. A
merged proposer rates through their own proposal's number, which answers to the one it joined.
"""

from __future__ import annotations

from shared import clock, contracts
from shared.validation import load

from .models import MergedProposal
from .unit_of_work import EvaluationUnitOfWork

FILED = "proposal.filed"


def hear(uow: EvaluationUnitOfWork, body) -> bool:
    """Remember a merge told by ``body`` (any domain event; others are ignored). Hearing it again
    changes nothing. True when it was a merge."""
    if not isinstance(body, dict) or body.get("name") != FILED:
        return False
    event = load(contracts.EventSchema, body, "the event")
    into = (event["payload"] or {}).get("merged_into")
    if not into:
        return False
    if uow.ratings.merged(event["subject"]) is None:
        proposers = [m["member"] for m in event["members"] if m.get("member")]
        row = MergedProposal(number=event["subject"], into=str(into), proposers=proposers, heard_at=clock.now())
        uow.ratings.add_merged(row)
        uow.flush()
    return True


def proposers_merged_into(uow: EvaluationUnitOfWork, number: str) -> list[str]:
    """The proposers of every proposal merged into ``number``, in the order the merges were heard."""
    return [p for row in uow.ratings.merged_into(number) for p in row.proposers]


def answering(uow: EvaluationUnitOfWork, number: str) -> str:
    """The proposal whose rating rounds ``number``'s proposers rate in: the one it was merged into,
    or itself."""
    row = uow.ratings.merged(number)
    return row.into if row is not None else number
