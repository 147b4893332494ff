"""Who may do what with a proposal. The gateway checks roles too; these rules hold for every caller."""

from __future__ import annotations

from shared.errors import Forbidden, NotFound, Unauthenticated

from .models import Proposal

READ_ALL = frozenset({"staff", "committee", "leader"})
MEMBER = "member"


def acting_user(principal: dict | None) -> tuple[str, set[str]]:
    """The user and roles of ``principal``; a call without one is refused."""
    if not isinstance(principal, dict) or not principal.get("user"):
        raise Unauthenticated("a principal with a user is required")
    return str(principal["user"]), set(principal.get("roles") or ())


def require_member(principal: dict | None) -> str:
    user, roles = acting_user(principal)
    if MEMBER not in roles:
        raise Forbidden("only a member submits, co-signs or revises proposals")
    return user


def reads_all(roles: set[str]) -> bool:
    return bool(roles & READ_ALL)


PUBLIC = "public"


def require_reader(principal: dict | None) -> tuple[str, set[str]]:
    """Members (their own in full, published ones as published), overseers, and the public
    (published ones only)."""
    user, roles = acting_user(principal)
    if not reads_all(roles) and MEMBER not in roles and PUBLIC not in roles:
        raise Forbidden("proposals are read by members, staff, the committee, leaders and, once published, the public")
    return user, roles


def proposes(proposal: Proposal, user: str, roles: set[str]) -> bool:
    """``user`` acting as a member is one of the proposal's proposers (a token of another role
    with the same user name is not)."""
    return MEMBER in roles and is_proposer(proposal, user)


def is_proposer(proposal: Proposal, user: str) -> bool:
    """The initiator, or a co-signer who has not dropped off."""
    return proposal.initiator == user or any(c.user == user and c.status != "dropped" for c in proposal.cosigners)


def not_found(number: str) -> NotFound:
    # The same answer whether the proposal is missing or only hidden from the caller.
    return NotFound(f"there is no proposal {number}")
