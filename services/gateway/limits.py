"""The gateway's limits, counted in its database in fixed windows: the spam limit of the public API
(at most so many residents' cases per client address and per venue, contact point) and the
console's failed logins (per account from one address, and per address: :mod:`.console.login_limits`).

A table rather than a limiter library's memory: every gateway process of a deployment (several
behind a load balancer in Kubernetes) shares its database and must share the count, a restart must
not reset it, and none of the stores the well-kept ``limits`` package offers (memory, Redis,
Memcached, MongoDB, etcd) is part of the deployment. A fixed window is counted with one upsert;
counts of windows that have passed are deleted as new ones are taken.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared import clock
from shared.errors import TooManyRequests

from .models import PublicLimitCount


def client_address(request, trusted_hops: int) -> str:
    """The client's address: the connection's, or behind ``trusted_hops`` proxies the entry of
    ``X-Forwarded-For`` that many from the right (entries further left are the client's to forge)."""
    if trusted_hops > 0:
        forwarded = [part.strip() for part in (request.headers.get("X-Forwarded-For") or "").split(",") if part.strip()]
        if len(forwarded) >= trusted_hops:
            return forwarded[-trusted_hops][:100]
    return (request.remote_addr or "unknown")[:100]


def _take(session, scope: str, key: str, window_start: int) -> int:
    """Count one more for ``scope``/``key`` in the window; the count after it."""
    where = (
        PublicLimitCount.scope == scope,
        PublicLimitCount.key == key,
        PublicLimitCount.window_start == window_start,
    )
    counted = session.execute(
        update(PublicLimitCount)
        .where(*where)
        .values(count=PublicLimitCount.count + 1)
        .returning(PublicLimitCount.count)
    ).scalar_one_or_none()
    if counted is not None:
        return counted
    try:
        with session.begin_nested():
            session.execute(insert(PublicLimitCount).values(scope=scope, key=key, window_start=window_start, count=1))
        return 1
    except IntegrityError:  # another request took the window's first count meanwhile
        return session.scalar(
            update(PublicLimitCount)
            .where(*where)
            .values(count=PublicLimitCount.count + 1)
            .returning(PublicLimitCount.count)
        )


def _window(window_seconds: int) -> tuple[int, int]:
    """(now, the start of the fixed window it falls in), in epoch seconds."""
    now = int(clock.now().timestamp())
    return now, now - now % window_seconds


def _forget_passed(session, limits: list[tuple[str, str, int]], window_start: int) -> None:
    """Delete the counts of windows that have passed, of these scopes only: another limit's window
    may be longer and still running."""
    scopes = sorted({scope for scope, _, _ in limits})
    session.execute(
        delete(PublicLimitCount).where(PublicLimitCount.scope.in_(scopes), PublicLimitCount.window_start < window_start)
    )


def _case_refusal(scope: str, limit: int, window_seconds: int, retry: int) -> TooManyRequests:
    return TooManyRequests(
        f"too many cases raised from this {'address' if scope == 'address' else 'venue'}: at most "
        f"{limit} in {window_seconds // 60 or 1} minutes; try again in {retry} seconds, or raise it at "
        "the venue in person",
        {"scope": scope, "limit": limit, "retry_after_seconds": retry},
    )


def take(session, limits: list[tuple[str, str, int]], window_seconds: int, refusal=_case_refusal) -> None:
    """Count a submission against each ``(scope, key, limit)`` in order, or raise
    :class:`TooManyRequests` (made by ``refusal(scope, limit, window_seconds, retry_after)``) at the
    first one it would exceed (later scopes are then not counted, so one client's flood does not
    use up its venue's allowance). The caller commits."""
    now, window_start = _window(window_seconds)
    _forget_passed(session, limits, window_start)
    for scope, key, limit in limits:
        if _take(session, scope, key[:100], window_start) > limit:
            raise refusal(scope, limit, window_seconds, window_start + window_seconds - now)


def count(session, limits: list[tuple[str, str, int]], window_seconds: int) -> None:
    """Count one more against each ``(scope, key, limit)``, refusing nothing (a failed login is
    counted after it failed; :func:`refuse_over` refuses the next one). The caller commits."""
    _, window_start = _window(window_seconds)
    _forget_passed(session, limits, window_start)
    for scope, key, _ in limits:
        _take(session, scope, key[:100], window_start)


def refuse_over(session, limits: list[tuple[str, str, int]], window_seconds: int, refusal) -> None:
    """Raise ``refusal(scope, limit, window_seconds, retry_after)`` for the first ``(scope, key,
    limit)`` whose count in this window has reached its limit; count nothing."""
    now, window_start = _window(window_seconds)
    for scope, key, limit in limits:
        counted = session.scalar(
            select(PublicLimitCount.count).where(
                PublicLimitCount.scope == scope,
                PublicLimitCount.key == key[:100],
                PublicLimitCount.window_start == window_start,
            )
        )
        if (counted or 0) >= limit:
            raise refusal(scope, limit, window_seconds, window_start + window_seconds - now)
