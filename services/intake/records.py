"""Finding proposals and appending to what happened to them: events and notifications."""

from __future__ import annotations

from shared import clock, contracts
from shared.errors import Conflict, NotFound

from .models import Notification, Proposal, ProposalEvent
from .unit_of_work import IntakeUnitOfWork


def by_id(uow: IntakeUnitOfWork, proposal_id: int, lock: bool = False) -> Proposal:
    proposal = uow.proposals.get(proposal_id, lock=lock)
    if proposal is None:
        raise NotFound(f"there is no proposal with id {proposal_id}")
    return proposal


def by_number(uow: IntakeUnitOfWork, number: str, lock: bool = False) -> Proposal | None:
    return uow.proposals.by_number(number, lock=lock)


def record_event(uow: IntakeUnitOfWork, proposal: Proposal, actor: str, action: str, data: dict | None = None) -> None:
    uow.proposals.add_event(
        ProposalEvent(proposal_id=proposal.id, at=clock.now(), actor=actor, action=action, data=data)
    )


def refuse_if_cancelled(uow: IntakeUnitOfWork, proposal: Proposal, what: str) -> None:
    """A proposal whose process an operator cancelled (status ``cancelled``) takes no more commands:
    refused (``Conflict``) naming the cancellation — when, by whom, why — from its ``handling``
    line of ``process.cancelled``; ``what``: what it takes no more of, in words."""
    if proposal.status != "cancelled":
        return
    lines = [
        line
        for line in uow.proposals.lines_of(proposal, "handling")
        if line.get("event") == contracts.PROCESS_CANCELLED
    ]
    data = lines[-1] if lines else {}
    raise Conflict(
        f"the handling of proposal {proposal.number} was cancelled on {clock.in_words(data.get('occurred_at') or '?')} "
        f"by {data.get('by') or '?'} ({data.get('reason') or 'no reason recorded'}); it takes no more {what}",
        contracts.cancelled_details(data.get("by"), data.get("occurred_at"), data.get("reason")),
    )


def proposers(proposal: Proposal) -> list[str]:
    """The initiator first, then the co-signers who confirmed, in signing order."""
    return [proposal.initiator, *(c.user for c in proposal.cosigners if c.status == "confirmed")]


def consenting(proposal: Proposal) -> list[str]:
    """The proposers who consented to being named where the proposal is published."""
    consented = [proposal.initiator] if proposal.publish_name else []
    return consented + [c.user for c in proposal.cosigners if c.status == "confirmed" and c.publish_name]


def directory_names(proposals: list[Proposal], names) -> dict[str, str]:
    """``{user: name}`` from the members directory for every proposer of ``proposals``, in one ask
    of ``names`` (users -> their names); none without it (the texts are then masked of the
    proposers' user ids alone)."""
    everyone = sorted({user for proposal in proposals for user in proposers(proposal)})
    return names(everyone) if everyone and names is not None else {}


def names_masked(proposal: Proposal, known: dict[str, str]) -> list[str]:
    """What a published text of ``proposal`` is masked of: every proposer's user id, and the
    directory name of each who did not consent to being named (a reply opens "尊敬的李明华委员",
    a situation says "本人李明华…")."""
    everyone, consented = proposers(proposal), set(consenting(proposal))
    return [*everyone, *(known[user] for user in everyone if user not in consented and known.get(user))]


def notice(
    uow: IntakeUnitOfWork, proposal: Proposal, recipients: list[str], text: str, kind: str = "proposal"
) -> dict | None:
    """Keep a ``Notification`` row per recipient; returns the notice for the gateway's inbox
    (``contracts.NoticeSchema``), to be published in the same transaction by :func:`notify` or
    riding on an event of the same change. None when there is nobody to tell."""
    now = clock.now()
    rows = [
        Notification(recipient=recipient, proposal_id=proposal.id, text=text, created_at=now)
        for recipient in dict.fromkeys(recipients)
    ]
    if not rows:
        return None
    uow.proposals.add_notifications(rows)  # each row has its id now: no flush of the unit of work
    return {
        "event_id": f"intake.notification:{rows[0].id}",
        "kind": kind,
        "subject": proposal.number,
        "thread": getattr(proposal, "thread", None),
        "recipients": [row.recipient for row in rows],
        "title": f"提案 {proposal.number}《{proposal.title}》"[:200],
        "text": text,
    }


def notify(uow: IntakeUnitOfWork, proposal: Proposal, recipients: list[str], text: str, kind: str = "proposal") -> None:
    """Keep a ``Notification`` row per recipient and, in the same transaction, publish
    ``notify.<kind>`` so the gateway delivers it to their inbox."""
    tell(uow, [notice(uow, proposal, recipients, text, kind)])


def tell(uow: IntakeUnitOfWork, notices: list[dict | None]) -> None:
    """Publish the notices of one change (from :func:`notice`) as one message: the first as
    ``notify.<kind>``, the others riding on it."""
    kept = [n for n in notices if n]
    if not kept:
        return
    first, *others = kept
    uow.notify(
        first["kind"],
        first["event_id"],
        first["subject"],
        first["recipients"],
        title=first["title"],
        text=first["text"],
        thread=first["thread"],
        notices=others,
    )
