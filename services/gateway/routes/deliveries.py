"""Operators' view of the notifications that leave the system: deliveries by status (failed ones
first of all, with the last error) and sending failed ones again. Addresses are masked."""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared.contracts.fields import ROW_ID

from .. import deliveries, schemas
from ..http import endpoint, http


class OpsDelivery(Schema):
    id = fields.Integer()
    user = fields.String()
    channel = fields.String(metadata={"description": "email or sms"})
    address = fields.String(metadata={"description": "masked: z***@example.com, 138****8000"})
    kind = fields.String(metadata={"description": "the notice's kind, or digest"})
    subject = fields.String()
    status = fields.String(metadata={"description": "pending, sent or failed"})
    attempts = fields.Integer()
    available_at = fields.String(metadata={"description": "when a pending delivery is tried next"})
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)


class OpsDeliveryRetry(schemas.Body):
    ids = fields.List(fields.Integer(validate=ROW_ID), load_default=list, validate=validate.Length(max=1000))
    all = fields.Boolean(load_default=False, metadata={"description": "every failed delivery"})


class DeliveryRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`; the deliveries are the
    gateway's own data."""

    @http("GET", "/api/ops/notifications/deliveries")
    @endpoint("operator", response=OpsDelivery(many=True), query=("status", "user"))
    def ops_list_deliveries(self, request, principal):
        """Deliveries, newest first: status=failed (the default), pending, sent, or empty for all."""
        return 200, deliveries.listing(
            self.db.session, request.args.get("status", deliveries.FAILED), request.args.get("user") or None
        )

    @http("POST", "/api/ops/notifications/deliveries/retry")
    @endpoint("operator", body=OpsDeliveryRetry, response=OpsDelivery(many=True))
    def ops_retry_deliveries(self, request, principal, body):
        """Send failed deliveries again ({"ids": [...]} or {"all": true}) with a fresh budget of
        attempts; answers those that were failed and are now pending."""
        result = deliveries.retry(self.db.session, body["ids"], body["all"])
        self.db.commit()
        return 200, result
