"""Failed console logins slowed down: the rules, counted by the gateway's limits (:mod:`..limits`).

Only failures count, in fixed windows of ``ZTC_CONSOLE_LOGIN_WINDOW_SECONDS``: per account from one
client address (``ZTC_CONSOLE_LOGIN_FAILURES_PER_ACCOUNT``) and per client address over every
account (``ZTC_CONSOLE_LOGIN_FAILURES_PER_ADDRESS``). Once either has reached its limit, a login
from that address (to that account) is refused with 429 before its password is checked, until the
window ends. The account's count is kept per address so that a stranger guessing a person's
password elsewhere cannot lock them out: someone else's failures stop a person's login only when
they share an address and its limit.
"""

from __future__ import annotations

import hashlib

from shared.errors import TooManyRequests

from .. import limits

ACCOUNT, ADDRESS = "login_account", "login_address"


def guards(request, settings, user: str) -> list[tuple[str, str, int]]:
    """The ``(scope, key, limit)`` a login of ``user`` from ``request``'s client is counted against:
    the account from this address first (the nearer cause is named), then the address."""
    address = limits.client_address(request, settings.http_trusted_proxy_hops)
    account = hashlib.sha256(user.encode()).hexdigest()[:24]  # any user id, in a bounded key
    return [
        (ACCOUNT, f"{account}@{address}", settings.console_login_failures_per_account),
        (ADDRESS, address, settings.console_login_failures_per_address),
    ]


def refusal(scope: str, limit: int, window_seconds: int, retry: int) -> TooManyRequests:
    where = "for this account from this address" if scope == ACCOUNT else "from this address"
    return TooManyRequests(
        f"too many failed logins {where}: at most {limit} in {max(1, window_seconds // 60)} minutes; "
        f"try again in {retry} seconds",
        {"scope": scope, "limit": limit, "window_seconds": window_seconds, "retry_after_seconds": retry},
    )


def check(session, guards: list[tuple[str, str, int]], settings) -> None:
    """Raise :class:`TooManyRequests` if this login is over a limit already (nothing counted)."""
    limits.refuse_over(session, guards, settings.console_login_window_seconds, refusal)


def failed(session, guards: list[tuple[str, str, int]], settings) -> None:
    """Count a failed login against every guard. The caller commits."""
    limits.count(session, guards, settings.console_login_window_seconds)
