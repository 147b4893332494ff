"""A client's ``Idempotency-Key`` held to the request it was first used with.

The services make a creating request safe to repeat: the same caller's same key answers what the
first request made (``client_reference`` in intake and micro-consultation, the start's key in the
engine). What they cannot tell is a *repeat* from a client's mistake, a key used again for another
request: that answered the first request's result as if the second had been done. The gateway
keeps each key a caller gave with a fingerprint of its request (the route's path and the JSON body,
its keys sorted) once the request succeeded, and refuses another request under that key with 422
``idempotency_key_reused``, naming when the key was first used (as the IETF draft on the
``Idempotency-Key`` header asks: a reused key with another payload is 422).

A request that failed (400, 403, 409, 5xx) leaves no record, so the client may correct it and send
it again under the same key. Requests without the header are not recorded: each HTTP request then
gets a key of its own (``http.request_key``) and cannot be repeated by the client anyway.
"""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import clock
from shared.errors import KeyReused

from .models import IdempotencyKey


def fingerprint(path: str, body: object) -> str:
    """SHA-256 of the request: its path and its JSON body with sorted keys (the same request sent
    with its keys in another order, or other whitespace, is the same request)."""
    canonical = orjson.dumps({"path": path, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def check(session: Session, user: str, key: str, printed: str) -> None:
    """Refuse (422) a request under a key ``user`` already used for another request."""
    found = session.execute(
        select(IdempotencyKey.fingerprint, IdempotencyKey.path, IdempotencyKey.created_at).where(
            IdempotencyKey.user == user, IdempotencyKey.key == key
        )
    ).first()
    if found is None or found.fingerprint == printed:
        return
    raise KeyReused(
        f"the Idempotency-Key {key!r} was used on {found.created_at.isoformat()} for another request "
        f"({found.path} with another body): a repeat must be the same request; use a new key for a new one",
        {"Idempotency-Key": ["already used for another request"], "first_used_at": found.created_at.isoformat()},
    )


def remember(session: Session, user: str, key: str, printed: str, path: str) -> None:
    """Record that ``key`` of ``user`` made this request (once; a concurrent twin's record stands)."""
    try:
        with session.begin_nested():
            session.execute(
                insert(IdempotencyKey).values(
                    user=user, key=key, fingerprint=printed, path=path[:300], created_at=clock.now()
                )
            )
    except IntegrityError:
        pass
