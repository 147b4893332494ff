"""Key proposals (重点提案) chosen at the chair's meeting: staff propose a list, the committee
decides on it; supervision keeps the lists and the key proposals (``services.supervision.key_selection``)."""

from __future__ import annotations

from shared.contracts.rpc.key_proposals import (
    KeyProposalDecisionInput,
    KeyProposalListInput,
    KeyProposalListSchema,
    KeyProposalYearSchema,
)

from shared import clock
from shared.errors import InvalidInput

from ..http import endpoint, http
from ..models import ApiToken, ConsoleAccount


def leaders_known(session, users: list[str]) -> set[str]:
    """Those of ``users`` who can act as a leader here: a console account, or a token not revoked
    nor expired, that carries the ``leader`` role."""
    from sqlalchemy import select

    if not users:
        return set()
    now = clock.now()
    known = {
        user
        for user, roles in session.execute(
            select(ConsoleAccount.user, ConsoleAccount.roles).where(ConsoleAccount.user.in_(users))
        )
        if "leader" in (roles or [])
    }
    tokens = session.execute(
        select(ApiToken.user, ApiToken.roles, ApiToken.expires_at).where(
            ApiToken.user.in_(users), ApiToken.revoked_at.is_(None)
        )
    )
    known |= {user for user, roles, ends in tokens if "leader" in (roles or []) and (ends is None or ends > now)}
    return known


def _refuse_unknown_leaders(session, items: list[dict], field: str) -> None:
    """A key proposal names the leader who supervises it: one nobody can sign in as would leave
    its supervision log with nobody to keep it (the leader cannot be changed once it is key)."""
    known = leaders_known(session, sorted({item["leader"] for item in items}))
    problems = {
        str(i): {"leader": [f"{item['leader']!r} holds the leader role in no console account or token"]}
        for i, item in enumerate(items)
        if item["leader"] not in known
    }
    if problems:
        raise InvalidInput("a key proposal's leader is one who can sign in as a leader", {field: problems})


class KeyProposalRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/api/key-proposals/<year:year>")
    @endpoint("staff", "committee", "leader", response=KeyProposalYearSchema)
    def key_proposals_of_year(self, request, principal, year):
        """The year's key proposals, the lists put to the chair's meeting (newest first) and the
        guidance share (the rulebook's ``key_proposals``) with the share the year comes to now."""
        return 200, self.supervision.key_proposals_of_year(year, principal=principal)

    @http("POST", "/api/key-proposals/<year:year>/list")
    @endpoint("staff", body=KeyProposalListInput, response=KeyProposalListSchema, status=201)
    def propose_key_proposals(self, request, principal, year, body):
        """Staff put a list of the year's filed proposals to the chair's meeting, each with a reason
        and the leader to supervise it; it replaces an undecided list of the year. The answer shows
        the share the list comes to and a warning outside the guidance (never a refusal). A leader
        nobody can sign in as (no console account or token with the leader role) is refused."""
        _refuse_unknown_leaders(self.db.session, body["items"], "items")
        return 201, self.supervision.propose_key_proposals(year, body, principal=principal)

    @http("POST", "/api/key-proposals/lists/<id:list_id>/decision")
    @endpoint("committee", body=KeyProposalDecisionInput, response=KeyProposalListSchema)
    def decide_key_proposals(self, request, principal, list_id, body):
        """The chair's meeting decides: items in ``strike`` drop, the others and those in ``add``
        become key proposals with their leaders, who, the proposers and the units are told."""
        _refuse_unknown_leaders(self.db.session, body["add"], "add")
        return 200, self.supervision.decide_key_proposals(list_id, body, principal=principal)
