"""Telling a micro-consultation case that the opinion item or proposal it became has its outcome.

A case turned into an item or a proposal waits (``bpmn/micro_consultation.bpmn``) for the BPMN
message ``converted_outcome``, keyed by the case number, before the resident's return visit. Intake
sends it, in the transaction that records the outcome, when:

- a proposal opened from a case (or from an opinion item opened from one) is published, or its
  publication is declined (the reply is final);
- an opinion item opened from a case is not adopted, or its tracking ends (adopted, handled); an
  item turned into a proposal tells nothing itself: its proposal does.

Sent once per item or proposal (the message id names it). Outcomes reached otherwise (a proposal not
filed, merged) send nothing: the case's own wait (the rulebook's ``conversion_outcome``) then
lets the return visit go ahead without it.
"""

from __future__ import annotations

from sqlalchemy import select

from shared.contracts import messages
from shared.messaging.outbox import send_message

from .models import OpinionItem, Outbox, Proposal, ProposalEvent


def _tell(session, case_number: str, kind: str, number: str, outcome: str, **details) -> None:
    send_message(
        session,
        Outbox,
        messages.CONVERTED_OUTCOME,
        case_number,
        f"converted-outcome-{case_number}-{number}",
        {"kind": kind, "number": number, "outcome": outcome, **details},
    )


def proposal_answered(session, proposal: Proposal, outcome: str, reply_category: str) -> None:
    """``proposal`` was published or its publication declined: tell the case it came from, if any."""
    opened = session.scalar(
        select(ProposalEvent).where(
            ProposalEvent.proposal_id == proposal.id, ProposalEvent.action == "opened_from_case"
        )
    )
    case_number = (opened.data or {}).get("case_number") if opened is not None else None
    if not case_number:  # a case turned into an opinion item, and the item into this proposal
        item = session.scalar(select(OpinionItem).where(OpinionItem.converted_to == proposal.number))
        case_number = item.origin_case if item is not None else None
    if case_number:
        _tell(session, case_number, "proposal", proposal.number, outcome, reply_category=reply_category)


def opinion_settled(session, item: OpinionItem) -> None:
    """``item`` reached its outcome (its status: not_adopted, adopted, handled): tell its case, if any."""
    if item.origin_case:
        _tell(session, item.origin_case, "opinion", item.number, item.status)
