"""Notifications: the caller's inbox of ``notify.<kind>`` events (see
:mod:`services.gateway.notifications`), addressed to their user, their unit or their roles, and
the caller's preferences for the notices that leave the system by e-mail or SMS (see
:mod:`services.gateway.preferences`)."""

from __future__ import annotations

from marshmallow import Schema

from shared.contracts import field_types as fields


from .. import notifications, preferences, schemas
from ..http import EVERYONE, endpoint, http

# A public token is a resident's, often shared: it has an inbox but no delivery of its own.
PEOPLE = tuple(role for role in EVERYONE if role != "public")


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
    @endpoint(*EVERYONE, response=NotificationSchema(many=True), query=("unread", "limit", "before"))
    def list_notifications(self, request, principal):
        """The caller's newest notifications, newest first: ``unread=true`` only those not yet read,
        ``limit`` how many (1-200, default 50), ``before`` only those older than that notification
        (its id: the last one of a page gives the next)."""
        query = notifications.inbox_query(request.args)
        return 200, notifications.inbox(
            self.db.session, principal, query["unread"], limit=query["limit"], before=query["before"]
        )

    @http("POST", "/api/notifications/<id:notification_id>/read")
    @endpoint(*EVERYONE, body=schemas.EmptyRequest, response=NotificationSchema)
    def read_notification(self, request, principal, notification_id, body):
        """Mark one of the caller's notifications read."""
        result = notifications.mark_read(self.db.session, notification_id, principal)
        self.db.commit()
        return 200, result

    @http("GET", "/api/notifications/preferences")
    @endpoint(*PEOPLE, response=preferences.PreferencesSchema)
    def get_notification_preferences(self, request, principal):
        """The caller's delivery preferences (the inbox only until they save some)."""
        return 200, preferences.read(self.db.session, principal, self.channels.enabled)

    @http("PUT", "/api/notifications/preferences")
    @endpoint(*PEOPLE, body=preferences.PreferencesBody, response=preferences.PreferencesSchema)
    def set_notification_preferences(self, request, principal, body):
        """Set the caller's channels (email, sms), e-mail address, mobile number, the kinds wanted
        (empty: all) and immediate or daily digest delivery. The caller's unit and roles are kept
        with them: notices to that unit or those roles reach the caller too."""
        result = preferences.save(self.db.session, principal, body, self.channels.enabled)
        self.db.commit()
        return 200, result
