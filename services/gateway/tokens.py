"""Issuing, checking, listing and revoking bearer tokens.

Only a token's SHA-256 is stored; the token is shown once, when issued. Every token expires: a
person's after ``ZTC_TOKEN_TTL_HOURS`` (12 h by default), a department system's after
``ZTC_TOKEN_SYSTEM_TTL_HOURS`` (90 days), or after the hours asked for when it is issued. An expired
or revoked token answers 401. A token is named in listings by its id, the first 12 hex digits of
its hash (which do not give the token away).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, select

from shared import clock
from marshmallow import ValidationError

from shared.contracts.fields import USER_ID
from shared.errors import InvalidInput, NotFound, Unauthenticated

from .models import ApiToken

ROLES = ("member", "informant", "staff", "committee", "leader", "unit", "public", "operator", "designer")
KINDS = ("person", "system")
ID_LENGTH = 12


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TTL_HOURS = 24 * 3653  # ten years: a longer lifetime is a typing slip, not a token


def lifetime(settings, kind: str = "person", hours: float | None = None) -> timedelta:
    """How long a new token of ``kind`` lives: ``hours`` if given, else the setting for its kind."""
    if hours is None:
        hours = settings.token_system_ttl_hours if kind == "system" else settings.token_ttl_hours
    if not 0 < hours <= MAX_TTL_HOURS:
        raise InvalidInput(
            f"a token's lifetime is more than 0 and at most {MAX_TTL_HOURS} hours (ten years)",
            {"hours": [f"more than 0, at most {MAX_TTL_HOURS}"]},
        )
    return timedelta(hours=hours)


def check_identity(user: str, roles: list[str], unit: str | None, what: str) -> None:
    """InvalidInput, naming the field, unless ``user`` is a login id with at least one known role
    and a unit handler names its unit: what a token and a console account (``what``) both need."""
    if not user:
        raise InvalidInput(f"a {what} needs a user", {"user": ["required"]})
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise InvalidInput(
            f"a {what} needs known roles",
            {"roles": [f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}"]}
            if unknown
            else {"roles": ["at least one"]},
        )
    try:
        USER_ID(user)
    except ValidationError as exc:
        raise InvalidInput(f"a {what}'s user is a login id", {"user": exc.messages}) from None
    if "unit" in roles and not unit:
        raise InvalidInput(f"a unit handler's {what} names its unit", {"unit": ["required for role 'unit'"]})


def issue(
    session,
    user: str,
    roles: list[str],
    unit: str | None = None,
    label: str = "",
    token: str | None = None,
    *,
    ttl: timedelta | None = None,
    kind: str = "person",
) -> str:
    """A new token for ``user`` with ``roles`` that expires after ``ttl`` (default: the
    configured lifetime of ``kind``)."""
    check_identity(user, roles, unit, "token")
    if kind not in KINDS:
        raise InvalidInput("unknown kind of token", {"kind": [f"one of: {', '.join(KINDS)}"]})
    if ttl is None:
        from shared import config

        ttl = lifetime(config.load(), kind)
    token = token or "ztc_" + secrets.token_urlsafe(24)
    existing = session.get(ApiToken, _hash(token))
    now = clock.now()
    if existing is None:
        session.add(
            ApiToken(
                token_hash=_hash(token),
                user=user,
                roles=list(roles),
                unit=unit,
                label=label,
                kind=kind,
                created_at=now,
                expires_at=now + ttl,
            )
        )
    return token


# One Core read of the columns a check needs: no ORM object is loaded for every request.
_CHECK = select(ApiToken.user, ApiToken.roles, ApiToken.unit, ApiToken.expires_at, ApiToken.revoked_at).where(
    ApiToken.token_hash == bindparam("token_hash")
)


def principal_for(db, authorization: str | None) -> dict:
    """The principal of a bearer token; ``db`` is a session or a connection (the gateway reads
    the token on a pooled connection of its own, outside the request's unit of work)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    row = db.execute(_CHECK, {"token_hash": _hash(authorization[len("Bearer ") :].strip())}).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    if row.expires_at is None or row.expires_at <= clock.now():
        raise Unauthenticated("the token has expired: ask for a new one")
    return {"user": row.user, "roles": list(row.roles), "unit": row.unit}


def describe_token(session, token: str) -> dict:
    """What :func:`describe` says of the token ``token`` (looked up by its hash), or NotFound."""
    row = session.get(ApiToken, _hash(token))
    if row is None:
        raise NotFound("no such token")
    return describe(row)


def describe(row: ApiToken) -> dict:
    now = clock.now()
    expires = row.expires_at
    state = "revoked" if row.revoked_at is not None else "expired" if expires is None or expires <= now else "active"
    return {
        "id": row.token_hash[:ID_LENGTH],
        "user": row.user,
        "roles": list(row.roles),
        "unit": row.unit,
        "kind": row.kind,
        "label": row.label,
        "created_at": row.created_at.isoformat(),
        "expires_at": expires.isoformat() if expires else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "state": state,
    }


def listing(session, user: str | None = None, everything: bool = False) -> list[dict]:
    """Tokens, oldest first: the active ones, or ``everything`` (expired and revoked too)."""
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.token_hash)
    if user:
        query = query.where(ApiToken.user == user)
    rows = [describe(row) for row in session.scalars(query)]
    return rows if everything else [row for row in rows if row["state"] == "active"]


def revoke(session, token_ids=(), user: str | None = None, token: str | None = None) -> list[dict]:
    """Revoke tokens by id (the first 12 hex digits of the hash; any unambiguous prefix of at
    least 8), by ``user`` (every token of theirs) or by the ``token`` itself. Returns those revoked
    now; one revoked before is left as it was."""
    rows: list[ApiToken] = []
    for token_id in token_ids:
        token_id = (token_id or "").strip().lower()
        if len(token_id) < 8:
            raise InvalidInput("a token id has at least 8 hex digits", {"id": [token_id]})
        found = list(session.scalars(select(ApiToken).where(ApiToken.token_hash.startswith(token_id))))
        if not found:
            raise NotFound(f"there is no token {token_id}")
        if len(found) > 1:
            raise InvalidInput(f"token id {token_id} is ambiguous", {"id": ["give more digits"]})
        rows += found
    if user:
        rows += list(session.scalars(select(ApiToken).where(ApiToken.user == user)))
    if token:
        row = session.get(ApiToken, _hash(token))
        if row is None:
            raise NotFound("there is no such token")
        rows.append(row)
    now = clock.now()
    revoked = []
    for row in {r.token_hash: r for r in rows}.values():
        if row.revoked_at is None:
            row.revoked_at = now
            revoked.append(describe(row))
    session.flush()
    return revoked
