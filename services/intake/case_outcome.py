"""Telling a micro-consultation case that the opinion item or proposal it became has its outcome.

A case turned into an item or a proposal waits (``bpmn/micro_consultation.bpmn``) for the BPMN
message ``converted_outcome``, keyed by the case number, before the resident's return visit. Intake
sends it, in the transaction that records the outcome, when:

- a proposal opened from a case (or from an opinion item opened from one) is published, or its
  publication is declined (the reply is final);
- such a proposal is not filed (``not_filed``, with the rulebook's reason and what it was converted
  to, if anything) or merged into another (``merged``, naming that one): the committee's decision is
  its outcome for the case, which would otherwise wait out the rulebook's ``conversion_outcome``;
- an opinion item opened from a case is not adopted, or its tracking ends (adopted, handled); an
  item turned into a proposal tells nothing itself: its proposal does;
- the process of such a proposal or item is cancelled by an operator (``cancelled``, with the
  operator's reason: ``cancellation``).

Nothing is sent once the case's own process was cancelled: the items and proposals opened from it
carry on, and no case waits for their outcome (``cancellation``).

Each message carries ``outcome`` (the status) and ``reason`` (why, in words, or null). Sent once
per item or proposal (the message id names it): a merged proposal answered later with the one it
was merged into sends nothing more.
"""

from __future__ import annotations

from shared.contracts import messages

from .models import OpinionItem, Proposal
from .unit_of_work import IntakeUnitOfWork

# The history line an item or proposal keeps when the case it came from was cancelled
# (``cancellation``): its outcome is no longer sent there.
CASE_CANCELLED = "origin_case_cancelled"


def case_was_cancelled(uow: IntakeUnitOfWork, case_number: str) -> bool:
    """An operator cancelled the case's process: an item or proposal on its thread keeps a line
    saying so (:data:`CASE_CANCELLED`). Nothing waits for an outcome there any more."""
    if any(uow.proposals.events_of(p, CASE_CANCELLED) for p in uow.proposals.of_thread(case_number)):
        return True
    return any(
        line.action == CASE_CANCELLED
        for item in uow.opinions.of_thread(case_number)
        for line in uow.opinions.events_of(item)
    )


def _tell(uow: IntakeUnitOfWork, case_number: str, kind: str, number: str, outcome: str, **details) -> None:
    if case_was_cancelled(uow, case_number):  # no process waits for it: it would only be buffered
        return
    uow.send_message(
        messages.CONVERTED_OUTCOME,
        case_number,
        f"converted-outcome-{case_number}-{number}",
        {"kind": kind, "number": number, "outcome": outcome, **details},
    )


def case_of(uow: IntakeUnitOfWork, proposal: Proposal) -> str | None:
    """The case ``proposal`` was opened from, directly or through an opinion item, if any."""
    opened = next(iter(uow.proposals.events_of(proposal, "opened_from_case")), None)
    case_number = (opened.data or {}).get("case_number") if opened is not None else None
    if not case_number:  # a case turned into an opinion item, and the item into this proposal
        item = uow.opinions.converted_to(proposal.number)
        case_number = item.origin_case if item is not None else None
    return case_number or None


def proposal_answered(uow: IntakeUnitOfWork, proposal: Proposal, outcome: str, reply_category: str) -> None:
    """``proposal`` was published or its publication declined: tell the case it came from, if any."""
    case_number = case_of(uow, proposal)
    if case_number:
        _tell(uow, case_number, "proposal", proposal.number, outcome, reason=None, reply_category=reply_category)


def proposal_decided(
    uow: IntakeUnitOfWork, proposal: Proposal, converted_to: dict | None = None, converted_as: str = ""
) -> None:
    """``proposal`` was not filed (its reason; ``converted_to`` ``{kind, reference}`` and its name in
    words, ``converted_as``, when it was converted) or merged into another: tell the case it came
    from, if any."""
    case_number = case_of(uow, proposal)
    if not case_number:
        return
    if proposal.status == "merged":
        reason = f"与提案 {proposal.merged_into} 并案办理，随其答复"
        _tell(uow, case_number, "proposal", proposal.number, "merged", reason=reason, merged_into=proposal.merged_into)
    else:
        reason = f"不予立案：{proposal.reason_text}"
        if converted_to:
            reason += f"；已转为{converted_as or converted_to['kind']}（{converted_to['reference']}）"
        _tell(
            uow,
            case_number,
            "proposal",
            proposal.number,
            "not_filed",
            reason=reason,
            reason_code=proposal.reason_code,
            converted_to=converted_to,
        )


def opinion_settled(uow: IntakeUnitOfWork, item: OpinionItem) -> None:
    """``item`` reached its outcome (its status: not_adopted, adopted, handled): tell its case, if any."""
    if item.origin_case:
        # Not adopted says why (the editors' reason, or that no recipient adopted it): the member
        # tells the resident at the return visit.
        reason = item.not_adopted_reason if item.status == "not_adopted" else None
        _tell(uow, item.origin_case, "opinion", item.number, item.status, reason=reason)


def cancelled(uow: IntakeUnitOfWork, record: Proposal | OpinionItem, reason: str) -> None:
    """The process of ``record`` (a proposal or an opinion item) was cancelled: tell the case it
    came from, if any (``reason``: the operator's, in words)."""
    if isinstance(record, Proposal):
        kind, case_number = "proposal", case_of(uow, record)
    else:
        kind, case_number = "opinion", record.origin_case
    if case_number:
        _tell(uow, case_number, kind, record.number, "cancelled", reason=reason)
