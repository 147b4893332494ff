"""A proposal not filed, converted to an opinion item (转为社情民意信息): the item is made in the
proposal's thread, from its text and in its initiator's name, and sent in, which starts its opinion
process like any other item's; the editors take it from there. Converted to a letter (来信), it keeps
a reference only: no process here handles letters.

One proposal is converted once: the item's idempotency key is ``proposal:<number>``, so doing it
again answers the item made the first time."""

from __future__ import annotations

from .models import OpinionItem, Proposal
from .opinions import create, send_in
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules

MEMBER = "member"


def opinion_from_proposal(uow: IntakeUnitOfWork, rules: IntakeRules, proposal: Proposal, actor: str) -> OpinionItem:
    """The opinion item ``proposal`` became, made and sent in (its process started) if new."""
    reference = f"proposal:{proposal.number}"
    item = uow.opinions.by_reference(proposal.initiator, reference)
    if item is not None:
        return item
    content = {
        "title": proposal.title,
        "situation": proposal.situation,
        "analysis": proposal.analysis,
        "suggestion": proposal.suggestions,
        "area": proposal.area,
    }
    item = create(
        uow,
        rules.opinion_rulebook(),
        submitter=proposal.initiator,
        role=MEMBER,
        content=content,
        urgent=False,
        thread=proposal.thread or proposal.number,
        reference=reference,
    )
    send_in(uow, item, actor, {"user": proposal.initiator, "roles": [MEMBER], "unit": None})
    return item
