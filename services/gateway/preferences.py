"""Each person's notification preferences: which channels, their e-mail address and mobile number,
which kinds of notice, and whether to get each at once or in one daily digest.

A person is registered for delivery by saving preferences (``PUT /api/notifications/preferences``).
The unit and roles of the token they save with are kept beside them and refreshed at every save:
a notice addressed to ``unit:<id>`` goes to every registered person of that unit, one addressed to
``role:<role>`` to every registered person holding the role. Nobody gets one event twice through
two of their addresses. A person who never saved preferences keeps the inbox only.
"""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields
from shared.db import UtcDateTime
from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, mapped_column

from shared import clock
from shared.masking import mask_text

from .channels import CHANNELS, EMAIL, SMS
from .models import Base
from .notifications import ROLE_PREFIX, UNIT_PREFIX

IMMEDIATE, DIGEST = "immediate", "digest"
MOBILE = r"^1[3-9][0-9]{9}\Z"  # a mainland mobile number, 11 digits
KIND = r"^[a-z][a-z0-9_.-]{0,99}$"


class Preference(Base):
    __tablename__ = "notification_preferences"

    user: Mapped[str] = mapped_column(String(100), primary_key=True)
    unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    roles: Mapped[list] = mapped_column(JSON)
    channels: Mapped[list] = mapped_column(JSON)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    kinds: Mapped[list] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PreferencesBody(Schema):
    """What a person sets. Unknown fields are refused."""

    class Meta:
        unknown = "raise"

    channels = fields.List(
        fields.String(validate=validate.OneOf(CHANNELS)),
        load_default=list,
        validate=validate.Length(max=len(CHANNELS)),
        metadata={"description": "email and/or sms; empty: the inbox only"},
    )
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    mobile = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(MOBILE, error="not a mobile number: 11 digits starting 13-19"),
        metadata={"description": "a mainland mobile number, 11 digits"},
    )
    kinds = fields.List(
        fields.String(validate=validate.Regexp(KIND, error="not a notification kind")),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "the kinds wanted (reminder, escalation...); empty: every kind"},
    )
    mode = fields.String(
        load_default=IMMEDIATE,
        validate=validate.OneOf((IMMEDIATE, DIGEST)),
        metadata={"description": "immediate: each notice as it comes; digest: one message a day"},
    )

    @validates_schema
    def _addresses_for_channels(self, data, **kwargs):
        if EMAIL in data.get("channels", ()) and not data.get("email"):
            raise ValidationError("an e-mail address is needed for the email channel", "email")
        if SMS in data.get("channels", ()) and not data.get("mobile"):
            raise ValidationError("a mobile number is needed for the sms channel", "mobile")


class PreferencesSchema(PreferencesBody):
    user = fields.String()
    unit = fields.String(allow_none=True, metadata={"description": "notices to unit:<unit> reach you"})
    roles = fields.List(fields.String(), metadata={"description": "notices to role:<role> reach you"})
    available_channels = fields.List(fields.String(), metadata={"description": "the channels this system sends by"})
    updated_at = fields.String(allow_none=True)


def _to_dict(row: Preference | None, principal: dict, available) -> dict:
    if row is None:
        return {
            "user": principal["user"],
            "unit": principal.get("unit"),
            "roles": list(principal.get("roles") or ()),
            "channels": [],
            "email": None,
            "mobile": None,
            "kinds": [],
            "mode": IMMEDIATE,
            "available_channels": list(available),
            "updated_at": None,
        }
    return {
        "user": row.user,
        "unit": row.unit,
        "roles": list(row.roles),
        "channels": list(row.channels),
        "email": row.email,
        "mobile": row.mobile,
        "kinds": list(row.kinds),
        "mode": row.mode,
        "available_channels": list(available),
        "updated_at": row.updated_at.isoformat(),
    }


def read(session, principal: dict, available=()) -> dict:
    """The caller's preferences (the inbox only, immediate, if they never saved any)."""
    return _to_dict(session.get(Preference, principal["user"]), principal, available)


def save(session, principal: dict, body: dict, available=()) -> dict:
    """Set the caller's preferences (``body`` already loaded with :class:`PreferencesBody`), with
    the unit and roles of the caller's token."""
    row = session.get(Preference, principal["user"])
    if row is None:
        row = Preference(user=principal["user"])
        session.add(row)
    row.unit, row.roles = principal.get("unit"), list(principal.get("roles") or ())
    row.channels = list(dict.fromkeys(body["channels"]))
    row.email, row.mobile = body["email"], body["mobile"]
    row.kinds, row.mode = list(dict.fromkeys(body["kinds"])), body["mode"]
    row.updated_at = clock.now()
    session.flush()
    return _to_dict(row, principal, available)


def addresses_of(row: Preference) -> list[str]:
    """Every inbox address that reaches this person."""
    found = [row.user]
    if row.unit:
        found.append(UNIT_PREFIX + row.unit)
    found.extend(ROLE_PREFIX + role for role in row.roles or ())
    return found


def wants(row: Preference, kind: str) -> bool:
    return not row.kinds or kind in row.kinds


def people_for(session, recipients: list[str], mode: str) -> list[Preference]:
    """The registered people (in ``mode``, with a channel) whom any of ``recipients`` reaches. The
    directory is a committee's people, a few hundred: it is read whole and matched here."""
    wanted = set(recipients)
    rows = session.scalars(select(Preference).where(Preference.mode == mode).order_by(Preference.user))
    return [row for row in rows if row.channels and wanted & set(addresses_of(row))]


def address_for(row: Preference, channel: str) -> str | None:
    return {EMAIL: row.email, SMS: row.mobile}.get(channel)


def mask_address(address: str | None) -> str | None:
    """An address as operators see it: ``z***@example.com``, ``138****8000``, the masking of
    published text (:mod:`shared.masking`, docs/security.md); anything it would not recognise is
    hidden whole."""
    if not address:
        return address
    masked = mask_text(address)
    return masked if masked != address else "*" * len(address)
