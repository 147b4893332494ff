"""Operators' routes: incidents."""
from __future__ import annotations

from nameko.web.handlers import http

from .. import schemas
from ..http import endpoint


class OperatorRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`, which supplies ``self.engine``,
    ``self.intake``, ``self.assignment``, ``self.supervision`` and ``self.evaluation`` (RPC proxies)."""

    # -- operators ---------------------------------------------------------------------------
    @http("GET", "/api/incidents")
    @endpoint("operator", response=schemas.Incident(many=True), query=("status",))
    def incidents(self, request, principal):
        """Incidents (open by default; status= for others, empty for all)."""
        return 200, self.engine.incidents(request.args.get("status", "open") or None)

    @http("POST", "/api/incidents/<int:incident_id>/retry")
    @endpoint("operator", response=schemas.Incident)
    def retry_incident(self, request, principal, incident_id):
        """Send an incident's job again."""
        return 200, self.engine.retry_incident(incident_id, principal)

    @http("POST", "/api/incidents/<int:incident_id>/resolve")
    @endpoint("operator", body=schemas.ResolveRequest, response=schemas.Incident)
    def resolve_incident(self, request, principal, incident_id, body):
        """Close an incident without retrying, saying why."""
        return 200, self.engine.resolve_incident(incident_id, body["resolution"], principal)
