"""Who is acting: the principal ``{user, roles, unit}`` every call carries."""
from __future__ import annotations

SYSTEM = "system"


def acting_user(principal: dict | None) -> str:
    """The user a change is recorded for: the principal's user, or ``system`` for the engine's and
    the services' own work (a job or a timer acting for no person)."""
    return (principal or {}).get("user") or SYSTEM
