"""Who may do what in evaluation. The service decides for itself; the gateway's checks are a first
filter, not the authority (a caller on the bus reaches the service without the gateway)."""

from __future__ import annotations


from shared.errors import Forbidden
from shared.principal import principal_of  # noqa: F401 - the one reading of a principal

# Roles that read every rating and the units' assessment: the committee office and its bodies.
OVERSEERS = frozenset({"staff", "committee", "leader"})


def oversees(principal: dict) -> bool:
    return bool(OVERSEERS & set(principal["roles"]))


def require_overseer(principal: dict, what: str) -> None:
    if not oversees(principal):
        raise Forbidden(f"only {', '.join(sorted(OVERSEERS))} may see {what}")
