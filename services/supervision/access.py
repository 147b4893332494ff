"""Who may see and do what in supervision. The service decides for itself; the gateway's checks are a
first filter, not the authority (a caller on the bus reaches the service without the gateway).

- staff, committee and leaders see every deadline of every proposal;
- a unit (a principal with role ``unit`` and no overseeing role) sees its own unit's deadlines and
  the reply deadline of the proposals it was given, nothing of other units;
- a member sees a proposal's deadlines in full only if they are one of its proposers (the
  initiator or a co-signer who has not dropped off): intake knows who proposed what, so supervision
  asks it (``intake.is_proposer``) for the caller; deadlines its proposers, overseers and units can
  audit, and no one else (not the public, informants, other members, operators or designers);
- a key proposal's supervision log is seen by the same people as its deadlines;
- the overdue list is for overseers; only the named supervising leader writes the log of a key
  proposal;
- pausing and resuming a reply deadline (with the reason) is for staff;
- recomputing the deadlines counted on a provisional calendar (after ``ztc calendar add``) is for
  operators and staff.
"""

from __future__ import annotations

from shared.errors import Forbidden
from shared.principal import acting_user, principal_of  # noqa: F401 - the one reading of a principal

OVERSEERS = frozenset({"staff", "committee", "leader"})
OVERDUE_READERS = OVERSEERS
CALENDAR_KEEPERS = frozenset({"operator", "staff"})
PAUSERS = frozenset({"staff"})


def actor(principal) -> str:
    """Who a job acts for, as recorded in a change: the user, or ``system`` for the engine's own."""
    return acting_user(principal)


def oversees(principal: dict) -> bool:
    return bool(OVERSEERS & set(principal["roles"]))


def restricted_unit(principal: dict) -> str | None:
    """The unit a unit principal is restricted to; None for one who sees everything."""
    if oversees(principal) or "unit" not in principal["roles"]:
        return None
    if not principal["unit"]:
        raise Forbidden(f"{principal['user']} has the unit role but acts for no unit")
    return principal["unit"]


def require_overdue_reader(principal: dict) -> None:
    if not OVERDUE_READERS & set(principal["roles"]):
        raise Forbidden(f"only {' and '.join(sorted(OVERDUE_READERS))} see the overdue list")


def require_calendar_keeper(principal: dict) -> None:
    if not CALENDAR_KEEPERS & set(principal["roles"]):
        raise Forbidden(f"only {' and '.join(sorted(CALENDAR_KEEPERS))} recompute deadlines after a calendar change")


def require_pauser(principal: dict) -> None:
    if not PAUSERS & set(principal["roles"]):
        raise Forbidden("only staff pause and resume a reply deadline")
