"""The HTTP API. Each handler authenticates, decodes, calls one service over RPC, encodes.

The routes live in :mod:`services.gateway.routes`, one mixin per area; this class adds the
dependencies (RPC proxies, the token database) and the public endpoints. Plumbing (``endpoint``,
error mapping) is in :mod:`services.gateway.http`.
"""

from __future__ import annotations

import time

from nameko.exceptions import RpcTimeout
from nameko.timer import timer

from shared import config
from shared.messaging.database import Database
from shared.errors import Forbidden
from shared.messaging.entrypoints import PrincipalSigner, ServiceRpc, listen
from shared.messaging.topology import events_queue

from . import deliveries, digests, notifications, openapi, schemas, tokens
from .channels import Channels
from .http import EVERYONE, PUBLIC_USER, _json, endpoint, http
from .models import Inbox, Outbox
from .console.auth import ConsoleAuthRoutes
from .console.designer import ConsoleDesignerRoutes
from .console.leader import ConsoleLeaderRoutes
from .console.member import ConsoleMemberRoutes
from .console.member_items import ConsoleMemberItemRoutes
from .console.operator import ConsoleOperatorRoutes
from .console.public import ConsolePublicRoutes
from .console.staff import ConsoleStaffRoutes
from .console.unit import ConsoleUnitRoutes
from .console.work import ConsoleWorkRoutes
from .routes.consultations import ConsultationRoutes
from .routes.deliveries import DeliveryRoutes
from .routes.key_proposals import KeyProposalRoutes
from .routes.model_1533 import Model1533Routes
from .routes.notifications import NotificationRoutes
from .routes.operators import OperatorRoutes
from .routes.opinions import OpinionRoutes
from .routes.performance import PerformanceRoutes
from .routes.processes import ProcessRoutes
from .routes.proposals import ProposalRoutes
from .routes.public import PublicRoutes
from .routes.reports import ReportRoutes

BEHIND = ("engine", "intake", "assignment", "supervision", "evaluation")  # the services the gateway calls


class GatewayService(
    ProcessRoutes,
    OperatorRoutes,
    ProposalRoutes,
    ReportRoutes,
    NotificationRoutes,
    DeliveryRoutes,
    OpinionRoutes,
    PerformanceRoutes,
    ConsultationRoutes,
    PublicRoutes,
    KeyProposalRoutes,
    Model1533Routes,
    ConsoleAuthRoutes,
    ConsoleMemberRoutes,
    ConsoleMemberItemRoutes,
    ConsoleWorkRoutes,
    ConsolePublicRoutes,
    ConsoleDesignerRoutes,
    ConsoleOperatorRoutes,
    ConsoleStaffRoutes,
    ConsoleUnitRoutes,
    ConsoleLeaderRoutes,
):
    name = "gateway"
    db = Database("gateway", Outbox, Inbox)
    engine = ServiceRpc("engine", timed=True)
    intake = ServiceRpc("intake", timed=True)
    evaluation = ServiceRpc("evaluation", timed=True)
    supervision = ServiceRpc("supervision", timed=True)
    assignment = ServiceRpc("assignment", timed=True)
    sign = PrincipalSigner()
    channels = Channels()

    def _settings(self):
        return self.ops_config.get("ZTC_SETTINGS") or config.load()

    def _principal(self, request) -> dict:
        """The caller, signed with the deployment key for the RPC calls made for it: services
        act only for a signed principal (shared/principal.py)."""
        with self.db.reading() as connection:
            return self.sign(tokens.principal_for(connection, request.headers.get("Authorization")))

    def _anonymous(self) -> dict:
        """The caller of a public route: the ``public`` role, signed like any caller."""
        return self.sign({"user": PUBLIC_USER, "roles": ["public"], "unit": None})

    @listen(events_queue("gateway"), with_sender=True)
    def deliver_notification(self, body, sender):
        """A ``notify.<kind>`` event, or a domain event with notices riding on it, from a service
        (the broker-validated AMQP user_id; any other sender is refused): one inbox row per
        recipient of each notification (a redelivery adds nothing; a malformed event is
        dead-lettered with its reason, and nothing of it is kept)."""
        if not sender.is_service():
            raise Forbidden(f"a notification from {sender.describe()}; notifications come from the services")
        for event in notifications.unpack(body):
            notifications.store(self.db.session, event)
            deliveries.enqueue(self.db.session, event, self.channels.enabled)
        self.db.commit()

    @timer(interval=1)
    def deliver_notifications(self):
        """Queue the daily digests whose hour has come, then send the deliveries that are due
        (nothing to do while no channel is configured). The next tick waits for this one."""
        if not self.channels.enabled:
            return
        digests.queue_digests(self.db.session, self.channels.enabled, self._settings().notify_digest_hour)
        self.db.commit()
        deliveries.deliver_due(self.db.session, self.channels, self._settings())

    @http("GET", "/health")
    def health(self, request):
        return _json(200, {"status": "ok"})

    def not_answering(self) -> dict[str, str | None]:
        """Each service behind the gateway: None if it answered a ping, else why not. The pings go
        out at once and are waited for ``ZTC_READY_TIMEOUT_SECONDS`` in all, so a frozen service is
        named after that, not after a whole RPC timeout (60 s) for each."""
        out: dict[str, str | None] = {}
        sent = {}
        for name in BEHIND:
            ping = getattr(self, name).ping
            try:
                sent[name] = (ping, ping.call_async())
            except Exception as exc:  # noqa: BLE001 - any failure: that service is not answering; say why
                out[name] = f"{type(exc).__name__}: {exc}"
        timeout = self._settings().ready_timeout_seconds
        deadline = time.monotonic() + timeout
        for name, (ping, reply) in sent.items():
            try:
                ping.wait(reply, max(0.01, deadline - time.monotonic()))
                out[name] = None
            except RpcTimeout:
                out[name] = f"RpcTimeout: {name} did not answer a ping within {timeout:g}s (ZTC_READY_TIMEOUT_SECONDS)"
            except Exception as exc:  # noqa: BLE001 - as above
                out[name] = f"{type(exc).__name__}: {exc}"
        return {name: out[name] for name in BEHIND}

    @http("GET", "/ready")
    def ready(self, request):
        """Ready when every service behind the gateway answers; ``services`` says it of each."""
        waiting, services = {}, {"gateway": "ok"}
        for name, error in self.not_answering().items():
            services[name] = error or "ok"
            if error:
                waiting[name] = error
        if waiting:
            return _json(503, {"status": "not ready", "waiting_for": waiting, "services": services})
        return _json(200, {"status": "ready", "services": services})

    @http("GET", "/openapi.json")
    def openapi_document(self, request):
        """The OpenAPI document of this API."""
        return _json(200, openapi.build(type(self)))

    @http("GET", "/api/me")
    @endpoint(*EVERYONE, response=schemas.PrincipalSchema)
    def me(self, request, principal):
        """Who the token belongs to."""
        return 200, {key: principal[key] for key in ("user", "roles", "unit")}
