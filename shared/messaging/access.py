"""Who may do what on the bus: one broker user per service, the operator, each unit and each
member's or informant's app, with the vhost permissions (configure, write, read regular
expressions) and topic permissions (per topic exchange: the routing keys a user may publish and
bind) RabbitMQ enforces. Generated from the contracts (the queues each service consumes, whether it
answers or makes RPC calls: shared.contracts.subscriptions; who sends which BPMN message, who starts processes)
and the unit directory; nothing here is written by hand per user.

The same grants are

- installed on a broker through the management API (:func:`install`: ``make run``, ``prepare.py``,
  ``ztc units credentials``),
- written into ``deploy/rabbitmq/definitions.json`` without passwords (:func:`definitions_part`),
- and rendered as the permission matrix in ``docs/security.md`` (:func:`matrix`,
  :func:`security_section`), each row of which ``tests/integration/shared/messaging/test_amqp_permissions.py`` runs
  against the real broker.

What the grants say, in short:

- a unit writes only its own commands (``^<unit>\\.`` on ``ztc.unit-commands``) and reads only its
  own queue ``ztc.unit.<unit>``; it declares and binds nothing;
- a member's or informant's app writes only ``intake.opinion.submit`` on ``ztc.messages``;
- only the engine publishes jobs (``ztc.jobs``); only services publish results, BPMN messages,
  start commands and domain events (the engine one: ``process.cancelled``); nobody but the consuming service binds a queue to ``ztc.jobs``,
  ``ztc.units`` or ``ztc.events``, and then only with its own keys;
- nameko's RPC keeps working: a service binds its ``rpc-<service>`` queue with ``<service>.*`` and
  answers on reply keys (UUIDs); the gateway (and the operator) call services and bind their reply
  queues ``rpc.reply-<name>-<uuid>`` with a UUID key — so nobody can bind ``#`` to read requests
  or replies;
- the operator reads and re-publishes dead letters (a replay goes back where it first went) and
  calls services over RPC.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import config, contracts
from shared.contracts import messages
from shared.contracts.messages import START_SENDERS

from . import identity

RPC_EXCHANGE = "nameko-rpc"
DEFAULT_EXCHANGE = "amq.default"  # publishing straight to a queue (exchange "")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
METHOD = r"[A-Za-z_][A-Za-z0-9_]*"
ANY = r".*"
TOPIC_EXCHANGES = (
    contracts.JOBS_EXCHANGE,
    contracts.RESULTS_EXCHANGE,
    contracts.MESSAGES_EXCHANGE,
    contracts.EVENTS_EXCHANGE,
    contracts.UNITS_EXCHANGE,
    contracts.UNIT_COMMANDS_EXCHANGE,
    contracts.DEAD_EXCHANGE,
    RPC_EXCHANGE,
)
UNIT_QUEUES = re.escape("ztc.unit.") + r"[A-Za-z0-9_-]+"


_SPECIAL = set(".^$*+?{}[]\\|()")


def esc(name: str) -> str:
    """``name`` as a regular expression matching itself (only the characters that are special
    outside a character class escaped, so the installed expressions stay readable)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in name)


def regex(alternatives: Iterable[str]) -> str:
    """One anchored expression for a set of alternatives (each a regular expression)."""
    alternatives = sorted(set(alternatives))
    if not alternatives:
        return "^$"
    if alternatives == [ANY]:
        return ".*"
    return "^(" + "|".join(alternatives) + ")$"


@dataclass
class Grant:
    """One broker user's rights on the vhost. Each field is a set of regular expressions (names
    or routing keys) that the installed permission joins into one anchored expression."""

    user: str
    kind: str  # service, operator, unit, member, informant
    name: str  # the service, unit code or person
    tags: str = ""
    configure: set[str] = field(default_factory=set)
    write: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    topic_write: dict[str, set[str]] = field(default_factory=dict)  # exchange -> set of key expressions
    topic_read: dict[str, set[str]] = field(default_factory=dict)

    def publishes(self, exchange: str, *keys: str) -> None:
        self.write.add(esc(exchange))
        if exchange in TOPIC_EXCHANGES:
            self.topic_write.setdefault(exchange, set()).update(keys)

    def consumes(self, queue: str, bindings: Iterable[tuple[str, str]] = (), declares: bool = True) -> None:
        """``queue`` is this user's: it declares it, binds it (``bindings``: (exchange, key)) and
        reads it."""
        if declares:
            self.configure.add(esc(queue))
            self.write.add(esc(queue))  # binding writes to the queue
        self.read.add(esc(queue))
        for exchange, key in bindings:
            self.binds(exchange, esc(key))

    def binds(self, exchange: str, *keys: str) -> None:
        self.configure.add(esc(exchange))  # a consumer declares the exchange it binds to
        self.read.add(esc(exchange))
        if exchange in TOPIC_EXCHANGES:
            self.topic_read.setdefault(exchange, set()).update(keys)

    def permission(self) -> dict[str, str]:
        return {"configure": regex(self.configure), "write": regex(self.write), "read": regex(self.read)}

    def topic_permissions(self) -> list[dict[str, str]]:
        """A topic permission for every topic exchange (``^$`` where nothing is allowed): a user
        without one for an exchange could publish or bind any key there."""
        return [
            {
                "exchange": exchange,
                "write": regex(self.topic_write.get(exchange, ())),
                "read": regex(self.topic_read.get(exchange, ())),
            }
            for exchange in TOPIC_EXCHANGES
        ]

    # -- what the broker will say (the same checks as RabbitMQ's, for the matrix) --------------------
    def _allowed(self, what: set[str], name: str) -> bool:
        return re.search(regex(what), name) is not None

    def _topic(self, table: dict[str, set[str]], exchange: str, key: str) -> bool:
        if exchange not in TOPIC_EXCHANGES:
            return True
        return re.search(regex(table.get(exchange, ())), key) is not None

    def may_publish(self, exchange: str, key: str) -> bool:
        return self._allowed(self.write, exchange or DEFAULT_EXCHANGE) and self._topic(self.topic_write, exchange, key)

    def may_consume(self, queue: str) -> bool:
        return self._allowed(self.read, queue)

    def may_bind(self, queue: str, exchange: str, key: str) -> bool:
        return (
            self._allowed(self.write, queue)
            and self._allowed(self.read, exchange)
            and self._topic(self.topic_read, exchange, key)
        )


# -- what each service does on the bus, as the contracts declare it ----------------------------------------
@dataclass
class ServiceUse:
    service: str
    queues: dict[str, list[tuple[str, str]]]  # queue name -> [(exchange, binding key)]: what it consumes
    rpc_server: bool
    rpc_targets: tuple[str, ...]


def service_use(service: str) -> ServiceUse:
    """What ``service`` consumes and calls, as ``shared.contracts.subscriptions`` declares it."""
    from .topology import _bindings_of, job_queue

    use = contracts.subscriptions.BUS_USE[service]
    queues = {listened.queue: sorted((listened.exchange, key) for key in listened.keys) for listened in use.listens}
    if use.jobs:
        queue = job_queue(service, "classic")
        queues[queue.name] = _bindings_of(queue)
    return ServiceUse(service, queues, use.rpc_server, tuple(sorted(use.rpc_targets)))


def _rpc(grant: Grant, owner: str, server: bool, targets: Iterable[str]) -> None:
    if server:
        grant.consumes(f"rpc-{owner}", [(RPC_EXCHANGE, f"{owner}.*")])
        grant.publishes(RPC_EXCHANGE, UUID)  # replies
    if targets:
        reply = esc(f"rpc.reply-{owner}-") + UUID
        grant.configure.add(reply)
        grant.write.add(reply)
        grant.read.add(reply)
        grant.binds(RPC_EXCHANGE, UUID)
        grant.publishes(RPC_EXCHANGE, *(esc(t) + r"\." + METHOD for t in targets))


def service_grant(settings: config.Settings, service: str) -> Grant:
    use = service_use(service)
    grant = Grant(identity.service_user(settings, service), identity.SERVICE, service)
    for queue, bindings in use.queues.items():
        grant.consumes(queue, bindings)
    _rpc(grant, service, use.rpc_server, use.rpc_targets)
    # Dead letters (with the first routing key) and another attempt, straight to its own queue.
    grant.publishes(contracts.DEAD_EXCHANGE, ANY)
    grant.write.add(esc(DEFAULT_EXCHANGE))
    if service == "engine":
        grant.publishes(contracts.JOBS_EXCHANGE, *(esc(s) + r"\..+" for s in contracts.SERVICES))
        # Its one domain event: an operator cancelled an instance (the services close their records),
        # and its one notice: whoever held a task the cancellation closed is told.
        grant.publishes(
            contracts.EVENTS_EXCHANGE,
            esc(contracts.PROCESS_CANCELLED),
            esc(contracts.NOTIFY_PREFIX + contracts.TASK_CLOSED),
        )
    if service in contracts.SERVICES:
        grant.publishes(contracts.RESULTS_EXCHANGE, esc(contracts.RESULT_ROUTING_KEY))
        grant.publishes(contracts.EVENTS_EXCHANGE, r".+")
        keys = []
        if any(service in m.senders for m in messages.MESSAGES.values()):
            keys.append(esc(contracts.MESSAGE_ROUTING_KEY))
        if service in START_SENDERS:
            keys.append(esc(contracts.START_ROUTING_KEY))
        if keys:
            grant.publishes(contracts.MESSAGES_EXCHANGE, *keys)
    if service == "assignment":
        # Each unit's queue: declared and bound here (its department only reads it), its events published.
        grant.configure.update({esc(contracts.UNITS_EXCHANGE), UNIT_QUEUES})
        grant.write.add(UNIT_QUEUES)
        grant.read.add(UNIT_QUEUES)  # declaring a queue with a dead-letter exchange needs it
        grant.binds(contracts.UNITS_EXCHANGE, r"[A-Za-z0-9_-]+\.#")
        grant.publishes(contracts.UNITS_EXCHANGE, r"[A-Za-z0-9_-]+\..+")
    return grant


def operator_grant(settings: config.Settings) -> Grant:
    """The operators (``ztc``, the gateway's operator routes): read the dead letters and every
    ``ztc.*`` queue (to peek at the oldest message), replay a letter to the exchange and key it
    first went to, call the services over RPC. Tagged ``monitoring`` for the management API."""
    grant = Grant(identity.operator_user(settings), identity.OPERATOR, config.OPERATOR, tags="monitoring")
    grant.consumes(contracts.DEAD_QUEUE, [(contracts.DEAD_EXCHANGE, "#")])
    grant.read.add(r"ztc\..+")
    for exchange in TOPIC_EXCHANGES:
        if exchange != RPC_EXCHANGE:
            grant.publishes(exchange, ANY)
    grant.write.add(esc(DEFAULT_EXCHANGE))
    _rpc(grant, "standalone_rpc_proxy", False, [s for s in config.SERVICES if service_use(s).rpc_server])
    return grant


def unit_grant(settings: config.Settings, unit: str) -> Grant:
    """A department's system: its own commands, its own queue, nothing else."""
    grant = Grant(identity.unit_user(settings, unit), identity.UNIT, unit)
    grant.publishes(contracts.UNIT_COMMANDS_EXCHANGE, esc(unit) + r"\..+")
    grant.consumes(contracts.unit_queue(unit), declares=False)
    return grant


def submitter_grant(settings: config.Settings, role: str, user: str) -> Grant:
    """A member's or informant's app: it submits opinion items, nothing else."""
    grant = Grant(identity.submitter_user(settings, role, user), role, user)
    grant.publishes(contracts.MESSAGES_EXCHANGE, esc(contracts.OPINION_SUBMIT_ROUTING_KEY))
    return grant


def grants(
    settings: config.Settings, units: Iterable[str] = (), submitters: Iterable[tuple[str, str]] = ()
) -> list[Grant]:
    """Every broker user of a deployment: the services, the operator, the ``units`` and the
    ``submitters`` (``(role, user)``)."""
    return (
        [service_grant(settings, s) for s in config.SERVICES]
        + [operator_grant(settings)]
        + [unit_grant(settings, u) for u in sorted(units)]
        + [submitter_grant(settings, r, u) for r, u in sorted(submitters)]
    )


# -- passwords -----------------------------------------------------------------------------------
def password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def new_password() -> str:
    return secrets.token_urlsafe(24)


def local_passwords(settings: config.Settings, names: Iterable[str]) -> dict[str, str]:
    """The passwords of ``names`` (broker users): ``ZTC_BUS_PASSWORD_<NAME>`` where set, else the
    ones generated on an earlier run into ``var/bus-credentials.json`` (mode 600), else new ones,
    stored there."""
    import os

    path = settings.var_dir / identity.CREDENTIALS_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    passwords, changed = {}, False
    prefix = settings.bus_user_prefix
    for user in names:
        short = user[len(prefix) :] if user.startswith(prefix) else user
        if settings.bus_passwords.get(short):
            passwords[user] = settings.bus_passwords[short]
            continue
        if user not in stored:
            stored[user], changed = new_password(), True
        passwords[user] = stored[user]
    if changed or (path.exists() and path.stat().st_mode & 0o077):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(stored, out, indent=2)
        os.chmod(path, 0o600)
    return passwords


# -- the management API ----------------------------------------------------------------------------
class Management:
    """The few management API calls installing users needs (admin credentials)."""

    def __init__(self, management_url: str, verify: bool | str = True, timeout: float = 15) -> None:
        from urllib.parse import unquote, urlsplit, urlunsplit

        parts = urlsplit(management_url)
        self.auth = (unquote(parts.username or ""), unquote(parts.password or ""))
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        self.base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/api", "", ""))
        self.verify = verify
        self.timeout = timeout
        self._session: Any = None  # one kept-alive connection for the install's few hundred calls

    @classmethod
    def of(cls, settings: config.Settings, management_url: str | None = None) -> "Management":
        return cls(management_url or settings.management_url, verify=settings.amqp_ca_file or True)

    def call(
        self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 204), **kwargs: Any
    ) -> Any:  # the API's decoded JSON
        import requests

        from .management import ManagementUnavailable

        if self._session is None:
            self._session = requests.Session()
        try:
            resp = self._session.request(
                method, self.base + path, auth=self.auth, timeout=self.timeout, verify=self.verify, **kwargs
            )
        except requests.RequestException as exc:
            raise ManagementUnavailable(f"RabbitMQ's management API at {self.base} did not answer: {exc}") from None
        if resp.status_code == 404 and 404 in expect:
            return None
        if resp.status_code not in expect:
            raise ManagementUnavailable(
                f"RabbitMQ's management API answered {resp.status_code} to {method} {path}: {resp.text[:300]}"
            )
        return resp.json() if resp.content else None

    @staticmethod
    def q(value: str) -> str:
        from urllib.parse import quote

        return quote(value, safe="")

    def user(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.call("GET", f"/users/{self.q(name)}", expect=(200, 404))
        return found

    def put_user(self, name: str, tags: str, password: str | None = None) -> None:
        """Create or update ``name``: a new ``password``, or the one it has (a user made without one
        cannot log in until its credentials are issued)."""
        body = {"tags": tags}
        if password is not None:
            body["password"] = password
        else:
            existing = self.user(name)
            body["password_hash"] = (existing or {}).get("password_hash", "")
            if existing and existing.get("hashing_algorithm"):
                body["hashing_algorithm"] = existing["hashing_algorithm"]
        self.call("PUT", f"/users/{self.q(name)}", json=body)

    def delete_user(self, name: str) -> None:
        self.call("DELETE", f"/users/{self.q(name)}", expect=(204, 404))

    def grant(self, vhost: str, grant: Grant) -> None:
        v, u = self.q(vhost), self.q(grant.user)
        self.call("PUT", f"/permissions/{v}/{u}", json=grant.permission())
        wanted = grant.topic_permissions()
        have = self.call("GET", f"/topic-permissions/{v}/{u}", expect=(200, 404)) or []
        if {p["exchange"] for p in have} - {p["exchange"] for p in wanted}:
            self.call("DELETE", f"/topic-permissions/{v}/{u}", expect=(204, 404))  # a stale exchange
        for permission in wanted:
            self.call("PUT", f"/topic-permissions/{v}/{u}", json=permission)

    def close_connections(self, user: str) -> int:
        """Close every connection of ``user`` (after its password changed)."""
        closed = 0
        for conn in self.call("GET", "/connections", expect=(200,)) or []:
            if conn.get("user") == user:
                self.call(
                    "DELETE",
                    f"/connections/{self.q(conn['name'])}",
                    expect=(204, 404),
                    headers={"X-Reason": "credentials rotated"},
                )
                closed += 1
        return closed


class UsersOfAnotherVhost(Exception):
    """This deployment's broker users already serve another vhost: another deployment on the
    same broker. Broker users are global, so installing them again would change that deployment's
    passwords and permissions under it."""


def refuse_users_of_another_vhost(api: Management, vhost: str, users: list[str], prefix: str) -> None:
    """UsersOfAnotherVhost if any of ``users`` has permissions on a vhost other than ``vhost``
    (one read of the broker's permissions), saying which and what to do."""
    wanted = set(users)
    elsewhere: dict[str, set[str]] = {}
    for permission in api.call("GET", "/permissions", expect=(200,)) or []:
        if permission.get("user") in wanted and permission.get("vhost") != vhost:
            elsewhere.setdefault(permission["user"], set()).add(permission["vhost"])
    if not elsewhere:
        return
    vhosts = sorted(set().union(*elsewhere.values()))
    named = sorted(elsewhere)
    shown = ", ".join(named[:4]) + (f" and {len(named) - 4} more" if len(named) > 4 else "")
    raise UsersOfAnotherVhost(
        f"the broker users {shown} already have permissions on vhost {', '.join(map(repr, vhosts))}, "
        f"not this deployment's {vhost!r}: another deployment on this broker uses them. Broker users "
        "belong to the whole broker, so installing them here would change that deployment's passwords. "
        f"Give this deployment its own prefix (ZTC_BUS_USER_PREFIX, now {prefix!r}, e.g. "
        f"{prefix + _vhost_label(vhost) + '-'!r}), or, if that deployment is gone, clear its "
        f"permissions first (rabbitmqctl clear_permissions -p VHOST USER)"
    )


def _vhost_label(vhost: str) -> str:
    label = "".join(c if c.isalnum() else "-" for c in vhost.strip("/")).strip("-").lower()
    return label or "main"


def install(
    settings: config.Settings,
    grant_list: list[Grant],
    passwords: dict[str, str] | None = None,
    management_url: str | None = None,
    vhost: str | None = None,
) -> None:
    """Create or update each user of ``grant_list`` with its permissions on the vhost of
    ``ZTC_AMQP_URI``. ``passwords``: user -> password to set; a user without one keeps the
    password it has (or gets none: it cannot log in until its credentials are issued)."""
    from .management import vhost_of

    api = Management.of(settings, management_url)
    vhost = vhost or vhost_of(settings.amqp_uri)
    refuse_users_of_another_vhost(api, vhost, [grant.user for grant in grant_list], settings.bus_user_prefix)
    api.call("PUT", f"/vhosts/{api.q(vhost)}", expect=(201, 204))
    passwords = passwords or {}
    for grant in grant_list:
        api.put_user(grant.user, grant.tags, passwords.get(grant.user))
        api.grant(vhost, grant)


# -- the definitions file ------------------------------------------------------------------------
def definitions_part(settings: config.Settings, vhost: str, units: Iterable[str] = ()) -> dict[str, Any]:
    """Users (without passwords), permissions and topic permissions for RabbitMQ's definitions."""
    found = grants(settings, units)
    return {
        "users": [
            {
                "name": g.user,
                "password_hash": "",
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": g.tags,
                "limits": {},
            }
            for g in found
        ],
        "permissions": [{"user": g.user, "vhost": vhost, **g.permission()} for g in found],
        "topic_permissions": [{"user": g.user, "vhost": vhost, **p} for g in found for p in g.topic_permissions()],
    }


# -- the permission matrix -------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One probe: ``user`` tries ``action`` (publish, bind, consume) on ``target``."""

    user: str  # the grant's short label, e.g. "unit transport"
    action: str
    exchange: str = ""  # publish, bind
    key: str = ""  # publish, bind
    queue: str = ""  # bind (the queue bound), consume
    allowed: bool = False
    why: str = ""

    def target(self) -> str:
        if self.action == "consume":
            return f"queue `{self.queue}`"
        if self.action == "bind":
            return f"`{self.queue}` to `{self.exchange}` with `{self.key}`"
        return f"`{self.exchange or '(default)'}`, key `{self.key}`"


SAMPLE_UNITS = ("transport", "education")
SAMPLE_SUBMITTERS = (("member", "member.li"),)


def _label(grant: Grant) -> str:
    return grant.name if grant.kind in (identity.SERVICE, identity.OPERATOR) else f"{grant.kind} {grant.name}"


def _own_queue(grant: Grant) -> str:
    """A queue the user would bind, to probe what it may bind: one of its own, or (having none)
    the queue it reads or the one its messages go to."""
    own = {
        "engine": contracts.ENGINE_RESULTS_QUEUE,
        "intake": contracts.job_queue("intake"),
        "assignment": contracts.job_queue("assignment"),
        "supervision": contracts.job_queue("supervision"),
        "evaluation": contracts.job_queue("evaluation"),
        "gateway": contracts.events_queue("gateway"),
        config.OPERATOR: contracts.DEAD_QUEUE,
    }
    if grant.kind == identity.UNIT:
        return contracts.unit_queue(grant.name)
    return own.get(grant.name, contracts.OPINION_SUBMISSIONS_QUEUE)


PUBLISH_PROBES = (
    (contracts.JOBS_EXCHANGE, "intake.record_filing", "a job"),
    (contracts.JOBS_EXCHANGE, "assignment.assign", "a job"),
    (contracts.RESULTS_EXCHANGE, contracts.RESULT_ROUTING_KEY, "a job result"),
    (contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, "a BPMN message"),
    (contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY, "a start command"),
    (contracts.MESSAGES_EXCHANGE, contracts.OPINION_SUBMIT_ROUTING_KEY, "an opinion item from an app"),
    (contracts.EVENTS_EXCHANGE, "notify.received", "a notification event"),
    (contracts.EVENTS_EXCHANGE, "proposal.filed", "a domain event"),
    (contracts.EVENTS_EXCHANGE, contracts.PROCESS_CANCELLED, "the engine's cancellation event"),
    (contracts.UNITS_EXCHANGE, "transport.assignment.created", "an event for a unit"),
    (contracts.UNIT_COMMANDS_EXCHANGE, "transport.sign", "transport's command"),
    (contracts.UNIT_COMMANDS_EXCHANGE, "education.submit_reply", "education's command"),
    (contracts.DEAD_EXCHANGE, "intake.record_filing", "a dead letter"),
    (RPC_EXCHANGE, "intake.list", "an RPC request"),
    (RPC_EXCHANGE, "9b2f4c1e-5d6a-4e8b-9c0d-1a2b3c4d5e6f", "an RPC reply"),
    ("", contracts.job_queue("intake"), "straight into a queue"),
)
CONSUME_PROBES = (
    contracts.job_queue("intake"),
    contracts.job_queue("assignment"),
    contracts.ENGINE_RESULTS_QUEUE,
    contracts.ENGINE_MESSAGES_QUEUE,
    contracts.ENGINE_STARTS_QUEUE,
    contracts.UNIT_COMMANDS_QUEUE,
    contracts.OPINION_SUBMISSIONS_QUEUE,
    contracts.events_queue("gateway"),
    contracts.events_queue("evaluation"),
    contracts.unit_queue("transport"),
    contracts.unit_queue("education"),
    contracts.DEAD_QUEUE,
    "rpc-intake",
)
BIND_PROBES = (
    (contracts.JOBS_EXCHANGE, "#"),
    (contracts.UNITS_EXCHANGE, "#"),
    (contracts.EVENTS_EXCHANGE, "#"),
    (contracts.UNIT_COMMANDS_EXCHANGE, "#"),
    (contracts.MESSAGES_EXCHANGE, "#"),
    (RPC_EXCHANGE, "#"),
)


def matrix(settings: config.Settings) -> list[Row]:
    """Every probe for every kind of user (the services, the operator, two units, a member's app),
    with what the grants say the broker answers."""
    rows = []
    for grant in grants(settings, SAMPLE_UNITS, SAMPLE_SUBMITTERS):
        label = _label(grant)
        for exchange, key, what in PUBLISH_PROBES:
            rows.append(Row(label, "publish", exchange, key, allowed=grant.may_publish(exchange, key), why=what))
        for queue in CONSUME_PROBES:
            rows.append(Row(label, "consume", queue=queue, allowed=grant.may_consume(queue)))
        own = _own_queue(grant)
        for exchange, key in BIND_PROBES:
            rows.append(Row(label, "bind", exchange, key, own, allowed=grant.may_bind(own, exchange, key)))
        for exchange, key in _own_bindings(grant):
            rows.append(
                Row(
                    label, "bind", exchange, key, own, allowed=grant.may_bind(own, exchange, key), why="its own binding"
                )
            )
    return rows


def _own_bindings(grant: Grant) -> list[tuple[str, str]]:
    if grant.kind != identity.SERVICE:
        return []
    own = _own_queue(grant)
    use = service_use(grant.name)
    return [(exchange, key) for exchange, key in use.queues.get(own, [])]


def grant_for_label(settings: config.Settings, label: str) -> Grant:
    for grant in grants(settings, SAMPLE_UNITS, SAMPLE_SUBMITTERS):
        if _label(grant) == label:
            return grant
    raise KeyError(label)


# -- docs/security.md -----------------------------------------------------------------------------
SECTION_START = "<!-- AMQP permissions: generated by `python -m shared.messaging.access docs`; do not edit by hand -->"
SECTION_END = "<!-- end of the generated AMQP permissions -->"
PLACEHOLDER = "## AMQP permission matrix\n"  # reserved for this section in docs/security.md


def security_section(settings: config.Settings | None = None) -> str:
    """The "AMQP permissions" section of docs/security.md (markdown)."""
    settings = settings or config.load({})
    found = grants(settings, SAMPLE_UNITS, SAMPLE_SUBMITTERS)
    out = [
        SECTION_START,
        "",
        "## AMQP permissions",
        "",
        PROSE.strip(),
        "",
        "### Each user's permissions on the vhost",
        "",
        "| user | configure | write | read |",
        "|---|---|---|---|",
    ]
    for g in found:
        p = g.permission()
        out.append(f"| `{g.user}` | `{_cell(p['configure'])}` | `{_cell(p['write'])}` | `{_cell(p['read'])}` |")
    out += [
        "",
        "### Topic permissions (routing keys each user may publish / bind; `^$`: none)",
        "",
        "| user | exchange | write (publish) | read (bind) |",
        "|---|---|---|---|",
    ]
    for g in found:
        for p in g.topic_permissions():
            if p["write"] == "^$" and p["read"] == "^$":
                continue
            out.append(f"| `{g.user}` | `{p['exchange']}` | `{_cell(p['write'])}` | `{_cell(p['read'])}` |")
    out += [
        "",
        "Every other (user, topic exchange) pair is `^$` both ways: without a topic permission",
        "RabbitMQ would let a user with write on an exchange publish any key.",
        "",
        "### The matrix",
        "",
        "Each row is one attempt; *allowed* means the broker accepts it, *refused* that it answers",
        "`ACCESS_REFUSED`. *bind* binds the user's own queue (or, without one, the queue it reads).",
        "",
        "| user | action | on | allowed | what |",
        "|---|---|---|---|---|",
    ]
    for row in matrix(settings):
        out.append(
            f"| {row.user} | {row.action} | {row.target()} | {'allowed' if row.allowed else 'refused'} | {row.why} |"
        )
    out += ["", SECTION_END]
    return "\n".join(out) + "\n"


PROSE = """
On the bus the broker says who is talking: each process, department and app has its own broker
user, limited by its permissions to what it is for, and what a caller only *says* about itself is
refused (the message dead-lettered with the reason, or the RPC call answered `Forbidden`) before
anything changes.

**Broker users** (`shared/messaging/identity.py`; prefix `ZTC_BUS_USER_PREFIX`, default `ztc-`):
`ztc-<service>` for each service, `ztc-operator` for the operators (`ztc`, the gateway's operator
routes), `ztc-unit-<code>` for each unit of the directory, `ztc-member-<user>` and
`ztc-informant-<user>` for members' and informants' apps. `make run` installs them through the
management API with the administrator of `ZTC_RABBIT_MANAGEMENT_URL` (passwords generated into
`var/bus-credentials.json`, mode 600, or `ZTC_BUS_PASSWORD_<NAME>`); compose and Kubernetes install
them in their `migrate` step with the passwords as secrets; `ztc units credentials issue|rotate
UNIT` and `ztc apps credentials issue|rotate --role member USER` give a department or an app its
password (printed once; rotation closes the old password's connections). Broker users belong to
the whole broker, not to a vhost: a second deployment on the same broker needs a prefix of its own,
and the install refuses (naming the users and the vhost that has them) rather than change another
deployment's passwords.

**Who sent a message** is its AMQP `user_id`, which RabbitMQ refuses unless it is the connection's
own user. A message a service sends back to its own queue (another attempt) or the operator
replays from `ztc.dead` keeps its first sender in `x-ztc-sender`, believed only when the
message's `user_id` is that service or the operator. What each consumer takes, and from whom:

| message | taken only from | otherwise |
|---|---|---|
| a unit's command (`ztc.unit-commands`, `<unit>.<command>`) | the broker user of the unit the key names | dead-lettered `forbidden` (no `user_id`, not a unit's user, another unit's) |
| an opinion item from an app (`intake.opinion.submit`) | a member's or informant's app user: the submitter is that person | `forbidden`; a `principal` in the body naming someone else too |
| a BPMN message (`engine.message`) | the senders `shared/contracts/messages.py` declares for its name | `forbidden` (e.g. `reply_submitted` from intake) |
| a start command (`engine.start`) | `START_SENDERS`: intake, assignment | `forbidden` |
| a job result (`engine.result`) | the service whose operation it answers | `forbidden` |
| a job (`ztc.jobs.<service>`) | the engine, and sealed with the deployment key | `forbidden: an unsealed job` / `a badly sealed job` |
| a `notify.*` event (the gateway's inbox) | a service | `forbidden` |

**Signed principals.** Calls that carry a person's principal carry it signed with the deployment
key (`shared/principal.py`): the gateway signs each HTTP caller's `{user, roles, unit}` with an
expiry (`ZTC_PRINCIPAL_TTL_SECONDS`, 300 s) for its RPC calls, and every `@api` method with a
`principal` parameter runs only for a valid one (`Forbidden` for an unsigned, badly signed, altered
or expired principal; the method does not run). The engine seals every job (the whole envelope:
operation, parameters, principal), and a service runs only a job whose seal matches. The signature
is HMAC-SHA256 from the standard library (`hmac`, `hashlib`) over canonical JSON, not a JWT
library: the signatures never leave the committee's processes, cover our own envelopes rather
than a token's claims, need no algorithm negotiation or key discovery, and add nothing to the
pinned dependencies. The key is `ZTC_BUS_KEY` (a secret in compose and Kubernetes) or the file
`ZTC_BUS_KEY_FILE` (default `var/bus.key`, made with mode 600 by `make run` when absent).

**TLS**: an `amqps://` `ZTC_AMQP_URI` turns it on for every connection (nameko's and ours), the
broker's certificate checked against `ZTC_AMQP_CA_FILE` (the system's CAs without it), with
`ZTC_AMQP_CERT_FILE` and `ZTC_AMQP_KEY_FILE` for a client certificate; an `https://` management
URL is checked against the same CA.

**What this does not cover** (deliberately, or not yet): every service holds the deployment key, so
a service that is itself taken over can sign principals (an asymmetric key held by the gateway and
the engine alone would narrow that); services may publish to the default exchange (`amq.default`,
for another attempt on their own queue), so a taken-over service could put a message straight
into another's queue — jobs, BPMN messages, starts, results and notifications are still checked
by seal and sender, other domain events are not; a service may declare (and so delete) the
exchanges it consumes from; the operator may replay any letter anywhere, and services may write
any dead letter, so a replayed letter acts for the sender its `x-ztc-sender` names; with `make run`
all processes run as one OS user and share `var/`, so its per-service users keep departments and
apps apart from the services, not the services from each other (compose and Kubernetes do).

**Tests**: every row of the matrix below against the real broker
(`tests/integration/shared/messaging/test_amqp_permissions.py`); the design's claims on the generated grants, the
signatures and seals (`tests/unit/shared/messaging/test_access.py`); forged principals, jobs, messages, starts,
results and notifications against services on their own users, each refused with nothing changed
(`tests/integration/test_forged_identity.py`); units' commands and apps' submissions by `user_id`
(`tests/integration/services/assignment/test_service.py`, `tests/integration/services/intake/test_opinion_operations.py`); `make run` on
per-service users, `ztc units credentials` and the example client, replays through the gateway
(`tests/e2e/test_bus_users.py`).

The matrix is generated from `shared/messaging/access.py` (the service classes, `shared/contracts`,
the unit directory). Users are shown with the default prefix `ztc-`; `transport`, `education` and
`member.li` stand for every unit and every app.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def write_security_section(path: Path | None = None, settings: config.Settings | None = None) -> bool:
    """Put the generated section into docs/security.md (between its markers, or at the end);
    returns whether the file changed."""
    path = path or (config.ROOT / "docs" / "security.md")
    section = security_section(settings)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Security\n\n"
    if SECTION_START in text and SECTION_END in text:
        before, rest = text.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1].lstrip("\n")
        updated = before + section + ("\n" + after if after else "")
    elif PLACEHOLDER in text:
        # The section the HTTP half of the document reserved for this one, up to the next heading.
        before, rest = text.split(PLACEHOLDER, 1)
        after = rest[rest.index("\n## ") :].lstrip("\n") if "\n## " in rest else ""
        updated = before + section + ("\n" + after if after else "")
    else:
        updated = text.rstrip("\n") + "\n\n" + section
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m shared.messaging.access", description="The broker users and their permissions."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("docs", help="write the AMQP permissions section of docs/security.md")
    sub.add_parser("show", help="print every user's permissions (JSON)")
    args = parser.parse_args(argv)
    settings = config.load()
    if args.command == "docs":
        changed = write_security_section(settings=config.load({}))
        print("docs/security.md " + ("updated" if changed else "already up to date"), file=sys.stderr)
        return 0
    found = grants(settings, SAMPLE_UNITS, SAMPLE_SUBMITTERS)
    print(
        json.dumps(
            [{"user": g.user, "tags": g.tags, **g.permission(), "topic": g.topic_permissions()} for g in found],
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    import sys

    from shared.messaging import access as _access

    sys.exit(_access.main())
