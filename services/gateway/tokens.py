"""Issuing and checking bearer tokens."""
from __future__ import annotations

import hashlib
import secrets

from shared import clock
from shared.errors import InvalidInput, Unauthenticated

from .models import ApiToken

ROLES = ("member", "informant", "staff", "committee", "leader", "unit", "public", "operator", "designer")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session, user: str, roles: list[str], unit: str | None = None, label: str = "",
          token: str | None = None) -> str:
    unknown = [r for r in roles if r not in ROLES]
    if not user or not roles or unknown:
        raise InvalidInput("a token needs a user and known roles",
                           {"roles": [f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}"]}
                           if unknown else {"user": ["required"], "roles": ["at least one"]})
    if "unit" in roles and not unit:
        raise InvalidInput("a unit handler's token names its unit", {"unit": ["required for role 'unit'"]})
    token = token or "ztc_" + secrets.token_urlsafe(24)
    existing = session.get(ApiToken, _hash(token))
    if existing is None:
        session.add(ApiToken(token_hash=_hash(token), user=user, roles=list(roles), unit=unit,
                             label=label, created_at=clock.now()))
    return token


def principal_for(session, authorization: str | None) -> dict:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    row = session.get(ApiToken, _hash(authorization[len("Bearer "):].strip()))
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    return {"user": row.user, "roles": list(row.roles), "unit": row.unit}
