"""Key proposals (重点提案): the leader named to supervise each, and that leader's log of visits,
meetings, instructions and notes."""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock, contracts
from shared.errors import Conflict, Forbidden, NotFound
from shared.validation import load

from .access import principal_of
from .models import CANCELLED_KIND, LOG_KINDS, KeyProposal, SupervisionLogEntry
from .queries import require_sight_of
from .records import iso
from .unit_of_work import SupervisionUnitOfWork


def register(uow: SupervisionUnitOfWork, number: str, leader: str, by: str, at: datetime) -> KeyProposal:
    """Make ``number`` a key proposal supervised by ``leader`` (naming a new leader replaces the old)."""
    row = uow.key_proposals.get(number)
    if row is None:
        row = KeyProposal(number=number)
        uow.key_proposals.add(row)
    row.supervising_leader, row.registered_by, row.registered_at = leader, by, at
    return row


def _key_proposal(uow: SupervisionUnitOfWork, number: str) -> KeyProposal:
    row = uow.key_proposals.get(number)
    if row is None:
        raise NotFound(f"proposal {number} is not a key proposal")
    return row


class LogEntryInput(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    kind = fields.String(required=True, validate=validate.OneOf(LOG_KINDS))
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))


def _cancelled(entries: list[SupervisionLogEntry]) -> SupervisionLogEntry | None:
    """The entry saying the key proposal's handling was cancelled, if it was (the last such)."""
    return next((row for row in reversed(entries) if row.kind == CANCELLED_KIND), None)


def _entry(row: SupervisionLogEntry) -> dict:
    return {
        "id": row.id,
        "number": row.number,
        "leader": row.leader,
        "at": iso(row.at),
        "kind": row.kind,
        "text": row.text,
    }


def log_key_supervision(uow: SupervisionUnitOfWork, number, kind, text, principal) -> dict:
    """The supervising leader records a visit, meeting, instruction or note on a key proposal.

    Only the leader named for this proposal, acting as a leader, may write it: Forbidden for anyone
    else (another leader, staff, the unit); NotFound if the proposal is not a key proposal.
    """
    principal = principal_of(principal)
    data = load(LogEntryInput, {"number": number, "kind": kind, "text": text}, "supervision log entry")
    key = _key_proposal(uow, data["number"])
    if "leader" not in principal["roles"] or principal["user"] != key.supervising_leader:
        raise Forbidden(
            f"only {key.supervising_leader}, the leader supervising key proposal "
            f"{key.number}, writes its supervision log"
        )
    cancelled = _cancelled(uow.key_proposals.log_of(key.number))
    if cancelled is not None:
        at = iso(cancelled.at)
        raise Conflict(
            f"the handling of key proposal {key.number} was cancelled on {clock.in_words(at or '?')} by "
            f"{cancelled.leader} ({cancelled.text}); its supervision log is kept and takes no more entries",
            contracts.cancelled_details(cancelled.leader, at, cancelled.text),
        )
    row = SupervisionLogEntry(
        number=key.number, leader=principal["user"], at=clock.now(), kind=data["kind"], text=data["text"]
    )
    uow.key_proposals.add_log_entry(row)
    uow.flush()
    return _entry(row)


def key_supervision_log(uow: SupervisionUnitOfWork, number, principal, is_proposer=None) -> dict:
    """The key proposal's supervising leader and log, oldest first; seen by whoever may see the
    proposal's deadlines (see ``access``)."""
    principal = principal_of(principal)
    # Sight first: "not a key proposal" to someone who may not see the proposal would tell them
    # which numbers are key proposals.
    require_sight_of(uow, number, principal, is_proposer)
    key = _key_proposal(uow, number)
    entries = uow.key_proposals.log_of(number)
    cancelled = _cancelled(entries)
    return {
        "number": key.number,
        "supervising_leader": key.supervising_leader,
        "entries": [_entry(row) for row in entries],
        # the handling was cancelled: who, when, why (the log takes no more entries), else None
        "cancelled": (
            {"by": cancelled.leader, "at": iso(cancelled.at), "reason": cancelled.text} if cancelled else None
        ),
    }
