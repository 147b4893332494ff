"""Who may do what in evaluation. The service decides for itself; the gateway's checks are a first
filter, not the authority (a caller on the bus reaches the service without the gateway)."""

from __future__ import annotations

from marshmallow import ValidationError

from shared.contracts import PrincipalSchema
from shared.errors import Forbidden, Unauthenticated

# Roles that read every rating and the units' assessment: the committee office and its bodies.
OVERSEERS = frozenset({"staff", "committee", "leader"})


def principal_of(principal) -> dict:
    """The caller as ``{user, roles, unit}``; Unauthenticated when there is none or it is unreadable."""
    if not isinstance(principal, dict):
        raise Unauthenticated("this call needs a principal {user, roles, unit}")
    try:
        return PrincipalSchema().load(principal)
    except ValidationError as exc:
        raise Unauthenticated("the principal is not valid", exc.messages) from None


def oversees(principal: dict) -> bool:
    return bool(OVERSEERS & set(principal["roles"]))


def require_overseer(principal: dict, what: str) -> None:
    if not oversees(principal):
        raise Forbidden(f"only {', '.join(sorted(OVERSEERS))} may see {what}")
