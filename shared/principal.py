"""Who is acting: the principal ``{user, roles, unit}`` every call carries, and its signature.

A principal that crosses the bus is signed with the deployment key, so a process that can reach
the bus but does not hold the key cannot act as anyone:

- the gateway signs the principal of each HTTP caller for its RPC calls (:func:`sign`): the
  signature covers user, roles and unit and an expiry (``ZTC_PRINCIPAL_TTL_SECONDS``, wall time);
  every service checks it before a call runs (:func:`verify`, in ``shared.messaging.entrypoints``)
  and answers ``Forbidden`` to an unsigned, badly signed or expired one;
- the engine seals every job (:func:`seal`: the whole envelope, its principal included, so neither
  the principal nor the operation nor its parameters can be changed); a job that is not sealed, or
  whose seal does not match, is dead-lettered unread and changes nothing.

What a service sends the engine (results, BPMN messages, start commands with the principal they
act for) is vouched for by the broker instead: the AMQP ``user_id`` of the publishing service
(shared/messaging/identity.py).

The signature is an HMAC-SHA256 (the standard library's :mod:`hmac`) over a canonical JSON form
(sorted keys, no spaces, ASCII), under a purpose string, so a signature made for one purpose is
never valid for another. HMAC rather than a JWT library: these signatures never leave the
committee's own processes, need no algorithm negotiation or key discovery, cover our own envelopes
(a job with its parameters) rather than a token's claims, and add no dependency to the pinned set.

The key is ``ZTC_BUS_KEY`` (a secret in compose and Kubernetes) or the file ``ZTC_BUS_KEY_FILE``
(default ``var/bus.key``), made with mode 600 by ``make run`` — or by the first process that needs
it — when absent. Every process of a deployment must hold the same key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.errors import Unauthenticated
from shared.validation import made

if TYPE_CHECKING:
    from shared.config import Settings

SYSTEM = "system"
PROOF = "proof"  # the key of a signed principal's signature
SEAL = "seal"  # the key of a sealed envelope's signature
VERSION = 1
JOB = "job"  # what a seal is for
FIELDS = ("user", "roles", "unit")


def acting_user(principal: Mapping[str, Any] | None) -> str:
    """The user a change is recorded for: the principal's user, or ``system`` for the engine's and
    the services' own work (a job or a timer acting for no person)."""
    user: str = (principal or {}).get("user") or SYSTEM
    return user


def acting(principal: object) -> tuple[str, set[str], str | None]:
    """``(user, roles, unit)`` of a principal that must name a person (or a unit's user); no user is
    ``Unauthenticated``."""
    if not isinstance(principal, dict) or not principal.get("user"):
        raise Unauthenticated("a principal with a user is required")
    return str(principal["user"]), set(principal.get("roles") or ()), principal.get("unit")


def principal_of(principal: object) -> dict[str, Any]:
    """The caller as a checked ``{user, roles, unit}`` (``shared.contracts.PrincipalSchema``): the one
    way every service reads the principal a call or a job carries. ``Unauthenticated`` when there is
    none or it is not a valid principal. Who may do what with it stays each service's rule."""
    from marshmallow import ValidationError

    from shared.contracts.bus import PrincipalSchema

    if not isinstance(principal, dict):
        raise Unauthenticated("this call needs a principal {user, roles, unit}")
    try:
        loaded: dict[str, Any] = made(PrincipalSchema).load(principal)
    except ValidationError as exc:
        raise Unauthenticated("the principal is not valid", exc.messages) from None
    return loaded


class BadSignature(Exception):
    """A principal or an envelope that is not signed, or not by this deployment's key."""


class Principal(dict[str, Any]):
    """``{user, roles, unit}`` this process verified (a signed principal on an RPC call) or took from
    a job the engine sealed. A service passing it on to another service's RPC signs it again
    (``shared.messaging.entrypoints.ServiceRpc``); a plain dict is never signed on anyone's behalf."""


# -- the key ---------------------------------------------------------------------------------------
_keys: dict[str, bytes] = {}
_lock = threading.Lock()


def key_of(settings: Settings) -> bytes:
    """The deployment key: ``ZTC_BUS_KEY``, else the key file (made, mode 600, when absent)."""
    if settings.bus_key:
        return settings.bus_key.encode("utf-8")
    path = settings.bus_key_file or (settings.var_dir / "bus.key")
    with _lock:
        cached = _keys.get(str(path))
        if cached is not None:
            return cached
        key = ensure_key_file(path)
        _keys[str(path)] = key
        return key


def ensure_key_file(path: str | os.PathLike[str]) -> bytes:
    """Read the key file, or create it (mode 600, never overwriting one made meanwhile)."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
            import logging

            logging.getLogger(__name__).warning(
                "made a new deployment key in %s (mode 600); every process of a deployment must hold the "
                "same key: on more than one machine give each ZTC_BUS_KEY",
                path,
            )
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"the deployment key in {path} is too short (at least 32 characters)")
    return key.encode("utf-8")


# -- signing ---------------------------------------------------------------------------------------
def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode("ascii")


def _mac(key: bytes, purpose: str, value: object) -> str:
    digest = hmac.new(key, purpose.encode("ascii") + b"\0" + canonical(value), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _plain(principal: Mapping[str, Any]) -> dict[str, Any]:
    return {"user": principal.get("user"), "roles": list(principal.get("roles") or []), "unit": principal.get("unit")}


def sign(principal: Mapping[str, Any], key: bytes, ttl: float = 300.0, now: float | None = None) -> dict[str, Any]:
    """``principal`` with a proof good for ``ttl`` seconds (wall time)."""
    plain = _plain(principal)
    expires = int((time.time() if now is None else now) + ttl)
    proof = {"v": VERSION, "exp": expires, "mac": _mac(key, "principal", {**plain, "exp": expires})}
    return {**plain, PROOF: proof}


def verify(value: object, key: bytes, now: float | None = None) -> Principal:
    """The principal ``{user, roles, unit}`` that ``value`` signs; :class:`BadSignature` if it is not
    a principal signed by ``key``, or its proof expired."""
    if not isinstance(value, dict):
        raise BadSignature("no principal" if value is None else "a principal must be an object")
    proof = value.get(PROOF)
    if not isinstance(proof, dict):
        raise BadSignature("an unsigned principal")
    if proof.get("v") != VERSION or not isinstance(proof.get("exp"), int) or not isinstance(proof.get("mac"), str):
        raise BadSignature("a principal with a malformed proof")
    if set(value) - {*FIELDS, PROOF}:
        raise BadSignature(f"a signed principal has unknown fields: {sorted(set(value) - {*FIELDS, PROOF})}")
    plain = _plain(value)
    if not isinstance(plain["user"], str) or not plain["user"] or not all(isinstance(r, str) for r in plain["roles"]):
        raise BadSignature("a principal needs a user and a list of roles")
    expected = _mac(key, "principal", {**plain, "exp": proof["exp"]})
    if not hmac.compare_digest(expected, proof["mac"]):
        raise BadSignature("a badly signed principal (not this deployment's key, or changed after signing)")
    if proof["exp"] < (time.time() if now is None else now):
        raise BadSignature("an expired principal")
    return Principal(plain)


def seal(envelope: Mapping[str, Any], key: bytes, purpose: str) -> dict[str, Any]:
    """``envelope`` (a job, a start command) with a seal over all its other fields."""
    body = {k: v for k, v in envelope.items() if k != SEAL}
    return {**body, SEAL: {"v": VERSION, "mac": _mac(key, purpose, body)}}


def unseal(envelope: object, key: bytes, purpose: str) -> dict[str, Any]:
    """``envelope`` without its seal, if the seal matches; :class:`BadSignature` otherwise."""
    if not isinstance(envelope, dict):
        raise BadSignature(f"a {purpose} must be a JSON object")
    stamp = envelope.get(SEAL)
    if not isinstance(stamp, dict) or not isinstance(stamp.get("mac"), str):
        raise BadSignature(f"an unsealed {purpose}: it was not sent by this deployment")
    body = {k: v for k, v in envelope.items() if k != SEAL}
    if stamp.get("v") != VERSION or not hmac.compare_digest(_mac(key, purpose, body), stamp["mac"]):
        raise BadSignature(f"a badly sealed {purpose}: not this deployment's key, or changed after sealing")
    return body
