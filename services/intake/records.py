"""Finding proposals and appending to what happened to them: events and notifications."""

from __future__ import annotations


from sqlalchemy import select

from shared import clock
from shared.errors import NotFound
from shared.messaging import outbox

from .models import Notification, Outbox, Proposal, ProposalEvent


def by_id(session, proposal_id: int, lock: bool = False) -> Proposal:
    proposal = session.get(Proposal, proposal_id, with_for_update=lock or None)
    if proposal is None:
        raise NotFound(f"there is no proposal with id {proposal_id}")
    return proposal


def by_number(session, number: str, lock: bool = False) -> Proposal | None:
    query = select(Proposal).where(Proposal.number == number)
    return session.scalar(query.with_for_update() if lock else query)


def record_event(session, proposal: Proposal, actor: str, action: str, data: dict | None = None) -> None:
    session.add(ProposalEvent(proposal_id=proposal.id, at=clock.now(), actor=actor, action=action, data=data))


def proposers(proposal: Proposal) -> list[str]:
    """The initiator first, then the co-signers who confirmed, in signing order."""
    return [proposal.initiator, *(c.user for c in proposal.cosigners if c.status == "confirmed")]


def notify(session, proposal: Proposal, recipients: list[str], text: str, kind: str = "proposal") -> None:
    """Keep a ``Notification`` row per recipient and, in the same transaction, publish
    ``notify.<kind>`` so the gateway delivers it to their inbox."""
    now = clock.now()
    rows = [
        Notification(recipient=recipient, proposal_id=proposal.id, text=text, created_at=now)
        for recipient in dict.fromkeys(recipients)
    ]
    if not rows:
        return
    session.add_all(rows)
    session.flush()
    outbox.notify(
        session,
        Outbox,
        kind,
        f"intake.notification:{rows[0].id}",
        proposal.number,
        [row.recipient for row in rows],
        title=f"提案 {proposal.number}《{proposal.title}》"[:200],
        text=text,
        thread=getattr(proposal, "thread", None),
    )
