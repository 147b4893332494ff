"""Notifications: the caller's inbox of ``notify.<kind>`` events (see
:mod:`services.gateway.notifications`), addressed to their user, their unit or their roles."""
from __future__ import annotations

from marshmallow import Schema, fields


from .. import notifications
from ..http import EVERYONE, endpoint, http


class NotificationSchema(Schema):
    id = fields.Integer()
    event_id = fields.String(metadata={"description": "the notify.<kind> event it came from"})
    recipient = fields.String(metadata={"description": "a user id, unit:<unit id> or role:<role>"})
    kind = fields.String(metadata={"description": "the occasion: reminder, escalation, cosign_invited..."})
    subject = fields.String(metadata={"description": "the business object, e.g. a proposal number"})
    thread = fields.String(allow_none=True)
    title = fields.String()
    text = fields.String()
    created_at = fields.String()
    read_at = fields.String(allow_none=True, metadata={"description": "null while unread"})


class NotificationRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`, which supplies ``self.db``.
    The inbox is the gateway's own data, so these routes call no other service."""

    @http("GET", "/api/notifications")
    @endpoint(*EVERYONE, response=NotificationSchema(many=True), query=("unread",))
    def list_notifications(self, request, principal):
        """The caller's notifications, newest first (unread=true: only those not yet read)."""
        unread = request.args.get("unread", "false").lower() in ("1", "true", "yes")
        return 200, notifications.inbox(self.db.session, principal, unread)

    @http("POST", "/api/notifications/<id:notification_id>/read")
    @endpoint(*EVERYONE, response=NotificationSchema)
    def read_notification(self, request, principal, notification_id):
        """Mark one of the caller's notifications read."""
        result = notifications.mark_read(self.db.session, notification_id, principal)
        self.db.commit()
        return 200, result
