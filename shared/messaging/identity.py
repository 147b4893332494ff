"""Who sent a message: the broker-validated AMQP ``user_id``, never the body.

RabbitMQ refuses a published message whose ``user_id`` property differs from the user of the
connection it came on, so a consumer can take ``user_id`` as the sender. Broker users are named
from one prefix (``ZTC_BUS_USER_PREFIX``, default ``ztc-``):

| user | who |
|---|---|
| ``<prefix><service>`` | a service: engine, intake, assignment, supervision, evaluation, gateway |
| ``<prefix>operator`` | the operators (``ztc``, the gateway's operator routes): dead letters, replays |
| ``<prefix>unit-<code>`` | a department's system, for the unit ``<code>`` of the directory |
| ``<prefix>member-<user>``, ``<prefix>informant-<user>`` | a member's or an informant's app |

A message a service sends back to its own queue (another attempt) or an operator replays from the
dead letters is published by them, not by its first sender: they put the first sender in the
header ``x-ztc-sender``, which is believed only when the message's own ``user_id`` is the consuming
service itself or the operator (a department cannot publish it: it may write only its commands).

When every process shares one broker user (the tests' ``guest``, or ``ZTC_BUS_USERS=shared``), the
bus cannot tell the services apart: a message from that user counts as from the system (any
service, or the operator). ``make run`` and the deployments give each service its own user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from shared import config

if TYPE_CHECKING:
    from kombu.message import Message

SENDER_HEADER = "x-ztc-sender"

SERVICE, OPERATOR, UNIT, SYSTEM, UNKNOWN, NOBODY = "service", "operator", "unit", "system", "unknown", "nobody"
SUBMITTER_ROLES = ("member", "informant")  # the people who submit opinion items from apps
CREDENTIALS_FILE = "bus-credentials.json"  # make run's generated passwords, under ZTC_VAR_DIR (mode 600)


def service_user(settings: config.Settings, service: str) -> str:
    return f"{settings.bus_user_prefix}{service}"


def operator_user(settings: config.Settings) -> str:
    return f"{settings.bus_user_prefix}{config.OPERATOR}"


def unit_user(settings: config.Settings, unit: str) -> str:
    return f"{settings.bus_user_prefix}unit-{unit}"


def submitter_user(settings: config.Settings, role: str, user: str) -> str:
    if role not in SUBMITTER_ROLES:
        raise ValueError(f"an app submits for a member or an informant, not {role!r}")
    return f"{settings.bus_user_prefix}{role}-{user}"


def user_of(amqp_uri: str) -> str:
    """The user an AMQP URI connects as (kombu's default, guest, when it names none)."""
    return unquote(urlsplit(amqp_uri).username or "guest")


def with_user(amqp_uri: str, user: str, password: str) -> str:
    """``amqp_uri`` with another user and password (host, port, vhost and scheme kept)."""
    parts = urlsplit(amqp_uri)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def without_user(url: str) -> str:
    """``url`` without credentials."""
    parts = urlsplit(url)
    host = (parts.hostname or "127.0.0.1") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def local_operator_uri(settings: config.Settings) -> str | None:
    """The operator's URI from the passwords ``make run`` generated under var/, if there are any."""
    try:
        stored = json.loads((settings.var_dir / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    password = settings.bus_passwords.get(config.OPERATOR) or stored.get(operator_user(settings))
    return with_user(settings.amqp_uri, operator_user(settings), password) if password else None


def operator_uri(settings: config.Settings) -> str:
    """The operator's broker connection (dead letters, replays, ``ztc``'s RPC): the setting, else
    ZTC_AMQP_URI's broker as the operator's user when ``ZTC_BUS_PASSWORD_OPERATOR`` is given,
    else the operator's password ``make run`` generated under var/, else ZTC_AMQP_URI."""
    if settings.operator_amqp_uri:
        return settings.operator_amqp_uri
    if settings.bus_passwords.get(config.OPERATOR):
        return with_user(settings.amqp_uri, operator_user(settings), settings.bus_passwords[config.OPERATOR])
    return local_operator_uri(settings) or settings.amqp_uri


def for_service(settings: config.Settings, service: str) -> config.Settings:
    """``settings`` as ``service`` runs with them: with ``ZTC_BUS_PASSWORD_<SERVICE>`` given, it
    connects to ZTC_AMQP_URI's broker as its own user ``<prefix><service>`` (compose and
    Kubernetes give each container its own password and the broker's address only)."""
    password = settings.bus_passwords.get(service)
    if not password:
        return settings
    return replace(settings, amqp_uri=with_user(settings.amqp_uri, service_user(settings, service), password))


@dataclass(frozen=True)
class Sender:
    """Who sent a message, as the broker vouches for it.

    ``kind``: ``service`` (``name`` the service), ``operator``, ``unit`` (``name`` the unit's code),
    ``member`` or ``informant`` (``name`` the person's user), ``system`` (a user every process
    shares: any service), ``unknown`` (a broker user that is none of these) or ``nobody`` (the
    message carried no ``user_id``)."""

    user: str | None
    kind: str
    name: str | None = None
    relayed_by: str | None = None

    def is_service(self, service: str | None = None) -> bool:
        if self.kind == SYSTEM:
            return True
        return self.kind == SERVICE and (service is None or self.name == service)

    def may_send_message(self, message_name: str) -> bool:
        """May this sender send the BPMN message ``message_name`` (shared/contracts/messages.py)?"""
        from shared.contracts import messages

        declared = messages.get(message_name)
        if declared is None:
            return False
        if self.kind == SYSTEM:
            return True
        if self.kind == SERVICE:
            return self.name in declared.senders
        if self.kind == OPERATOR:
            return config.OPERATOR in declared.senders
        return False

    def describe(self) -> str:
        if self.kind == NOBODY:
            return "a message without a user_id"
        via = f" (relayed by {self.relayed_by})" if self.relayed_by else ""
        return f"broker user {self.user!r}{via}"


def classify(user: str | None, settings: config.Settings, shared_user: str | None = None) -> Sender:
    """What the broker user ``user`` is. ``shared_user``: the user every process shares, if the
    services run on one (it then counts as the system)."""
    if not user:
        return Sender(None, NOBODY)
    if shared_user is not None and user == shared_user:
        return Sender(user, SYSTEM)
    prefix = settings.bus_user_prefix
    if user.startswith(prefix):
        rest = user[len(prefix) :]
        if rest in config.SERVICES:
            return Sender(user, SERVICE, rest)
        if rest == config.OPERATOR:
            return Sender(user, OPERATOR, config.OPERATOR)
        kind, _, name = rest.partition("-")
        if name and kind == UNIT:
            return Sender(user, UNIT, name)
        if name and kind in SUBMITTER_ROLES:
            return Sender(user, kind, name)
    return Sender(user, UNKNOWN)


def shared_user_of(settings: config.Settings, own_service: str, own_user: str) -> str | None:
    """``own_user`` if this process runs on a user it shares with the others (not its own)."""
    return None if own_user == service_user(settings, own_service) else own_user


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def first_sender_user(message: Message, settings: config.Settings, own_user: str) -> str | None:
    """The broker user that first sent ``message``: its ``user_id``, or — when the consuming
    service itself (another attempt) or the operator (a replay) re-published it — the
    ``x-ztc-sender`` header they set."""
    properties = message.properties if isinstance(message.properties, dict) else {}
    user = _text(properties.get("user_id"))
    headers = message.headers if isinstance(message.headers, dict) else {}
    if user is not None and user in (own_user, operator_user(settings)) and SENDER_HEADER in headers:
        return _text(headers.get(SENDER_HEADER))
    return user


def sender_of(message: Message, settings: config.Settings, own_service: str, own_user: str) -> Sender:
    """Who sent ``message`` to the service ``own_service`` connected as ``own_user``."""
    properties = message.properties if isinstance(message.properties, dict) else {}
    publisher = _text(properties.get("user_id"))
    first = first_sender_user(message, settings, own_user)
    sender = classify(first, settings, shared_user_of(settings, own_service, own_user))
    if publisher is not None and first != publisher:
        return Sender(sender.user, sender.kind, sender.name, relayed_by=publisher)
    return sender


__all__ = [
    "SENDER_HEADER",
    "Sender",
    "classify",
    "first_sender_user",
    "operator_user",
    "sender_of",
    "service_user",
    "submitter_user",
    "unit_user",
    "user_of",
    "with_user",
]
