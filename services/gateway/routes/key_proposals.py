"""Key proposals (重点提案) chosen at the chair's meeting: staff propose a list, the committee
decides on it; supervision keeps the lists and the key proposals (``services.supervision.key_selection``)."""

from __future__ import annotations

from shared.contracts.rpc.key_proposals import (
    KeyProposalDecisionInput,
    KeyProposalListInput,
    KeyProposalListSchema,
    KeyProposalYearSchema,
)

from ..http import endpoint, http


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
        the share the list comes to and a warning outside the guidance (never a refusal)."""
        return 201, self.supervision.propose_key_proposals(year, body, principal=principal)

    @http("POST", "/api/key-proposals/lists/<id:list_id>/decision")
    @endpoint("committee", body=KeyProposalDecisionInput, response=KeyProposalListSchema)
    def decide_key_proposals(self, request, principal, list_id, body):
        """The chair's meeting decides: items in ``strike`` drop, the others and those in ``add``
        become key proposals with their leaders, who, the proposers and the units are told."""
        return 200, self.supervision.decide_key_proposals(list_id, body, principal=principal)
