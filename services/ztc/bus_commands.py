"""``ztc units credentials`` and ``ztc apps credentials``: the broker users of departments' systems
and of members' and informants' apps, with the permissions ``shared/messaging/access.py`` gives
them, issued and rotated through the management API (``ZTC_RABBIT_MANAGEMENT_URL``, an
administrator) on the vhost of ``ZTC_AMQP_URI``. A password is printed once and kept nowhere.
"""

from __future__ import annotations

import sys

import click

from shared.errors import ZtcError


def _in_directory(settings, service: str, model, key: str) -> bool:
    """Whether ``service``'s directory (``model``: its units, its members) has ``key``."""
    from shared.db import migrate, session_factory, transaction

    url = settings.database_url(service)
    migrate(service, url)
    with transaction(session_factory(url)) as s:
        return s.get(model, key) is not None


def _unit_in_directory(settings, unit: str) -> bool:
    from services.assignment.models import Unit

    return _in_directory(settings, "assignment", Unit, unit)


def _member_in_directory(settings, user: str) -> bool:
    from services.evaluation.points.models import Member

    return _in_directory(settings, "evaluation", Member, user)


def ensure_unit_queue(api, settings, vhost: str, unit: str) -> None:
    """The units' exchange and ``unit``'s queue with its binding (idempotent), so the department
    can read its queue as soon as it has credentials."""
    from shared import contracts
    from shared.messaging import topology

    v = api.q(vhost)
    api.call(
        "PUT",
        f"/exchanges/{v}/{api.q(contracts.DEAD_EXCHANGE)}",
        json={"type": "topic", "durable": True, "auto_delete": False, "arguments": {}},
    )
    api.call(
        "PUT",
        f"/exchanges/{v}/{api.q(contracts.UNITS_EXCHANGE)}",
        json={
            "type": "topic",
            "durable": True,
            "auto_delete": False,
            "arguments": dict(topology.UNITS.arguments or {}),
        },
    )
    queue = contracts.unit_queue(unit)
    api.call(
        "PUT",
        f"/queues/{v}/{api.q(queue)}",
        json={"durable": True, "auto_delete": False, "arguments": topology.queue_arguments(settings.queue_type)},
    )
    api.call(
        "POST",
        f"/bindings/{v}/e/{api.q(contracts.UNITS_EXCHANGE)}/q/{api.q(queue)}",
        json={"routing_key": f"{unit}.#", "arguments": {}},
    )


def credentials(settings, grant, rotate: bool, prepare=None) -> dict:
    """Issue (a user with no password yet) or rotate (one that has one) ``grant``'s password; on
    rotation the user's open connections are closed. Returns what to give its owner."""
    from shared.messaging import access, identity
    from shared.messaging.management import vhost_of

    api = access.Management.of(settings)
    vhost = vhost_of(settings.amqp_uri)
    existing = api.user(grant.user)
    has_password = bool((existing or {}).get("password_hash"))
    if rotate and not has_password:
        raise ZtcError(f"{grant.user} has no credentials yet: issue them first")
    if not rotate and has_password:
        raise ZtcError(f"{grant.user} has credentials already: rotate them to get new ones")
    password = access.new_password()
    api.call("PUT", f"/vhosts/{api.q(vhost)}", expect=(201, 204))
    if prepare is not None:
        prepare(api, vhost)
    api.put_user(grant.user, grant.tags, password)
    api.grant(vhost, grant)
    closed = api.close_connections(grant.user) if rotate else 0
    return {
        "user": grant.user,
        "password": password,
        "vhost": vhost,
        "amqp_uri": identity.with_user(settings.amqp_uri, grant.user, password),
        "permissions": grant.permission(),
        "topic_permissions": [p for p in grant.topic_permissions() if (p["write"], p["read"]) != ("^$", "^$")],
        "connections_closed": closed,
    }


def register(main, helpers):
    _settings, _out, _fail = helpers["settings"], helpers["out"], helpers["fail"]

    def _run(action):
        try:
            return action()
        except ZtcError as exc:
            _fail(exc)

    def _show(result, as_json, extra):
        def render(r):
            click.echo(f"broker user: {r['user']}")
            click.echo(f"password:    {r['password']}   (shown once: store it now)")
            click.echo(f"connect to:  {r['amqp_uri']}")
            for line in extra(r):
                click.echo(line)
            if r["connections_closed"]:
                click.echo(f"closed {r['connections_closed']} open connection(s) on the old password")

        _out(result, as_json, render)

    # -- departments -------------------------------------------------------------------------------
    @main.group(help="Departments' systems (承办单位) on the bus: see docs/unit-integration.md.")
    def units():
        pass

    @units.group(
        "credentials",
        help="A unit's own broker user: it reads only its queue ztc.unit.<unit> "
        "and publishes only its own commands (<unit>.<command>).",
    )
    def unit_credentials():
        pass

    def _unit(unit, rotate, as_json):
        from shared.messaging import access

        settings = _settings()
        if not _unit_in_directory(settings, unit):
            _fail(ZtcError(f"there is no unit {unit!r} in the unit directory"))
        grant = access.unit_grant(settings, unit)
        result = _run(
            lambda: credentials(
                settings, grant, rotate, prepare=lambda api, vhost: ensure_unit_queue(api, settings, vhost, unit)
            )
        )
        _show(
            result,
            as_json,
            lambda r: [
                f"reads:       queue ztc.unit.{unit}",
                f"publishes:   exchange ztc.unit-commands, routing keys {unit}.<command>, with user_id={r['user']}",
            ],
        )

    @unit_credentials.command("issue", help="Give UNIT's broker user a password (printed once).")
    @click.argument("unit")
    @click.option("--json", "as_json", is_flag=True)
    def unit_issue(unit, as_json):
        _unit(unit, False, as_json)

    @unit_credentials.command(
        "rotate",
        help="Give UNIT's broker user a new password (printed once); its connections on the old one are closed.",
    )
    @click.argument("unit")
    @click.option("--json", "as_json", is_flag=True)
    def unit_rotate(unit, as_json):
        _unit(unit, True, as_json)

    # -- members' and informants' apps -------------------------------------------------------------
    @main.group(help="Members' and informants' apps that submit opinion items over AMQP.")
    def apps():
        pass

    @apps.group(
        "credentials",
        help="A member's or informant's own broker user: it publishes only "
        "intake.opinion.submit, and intake takes the submitter from it.",
    )
    def app_credentials():
        pass

    def _app(user, role, rotate, as_json):
        from shared.messaging import access

        from marshmallow import ValidationError

        from shared.contracts.fields import USER_ID

        settings = _settings()
        try:
            USER_ID(user)
        except ValidationError as exc:
            _fail(ZtcError(f"{user!r} is not a login id: {' '.join(exc.messages)}"))
        # An app submits opinion items in its user's name: a member's must be a member of the
        # committee's directory (a typo would submit as nobody the committee knows).
        if role == "member" and not _member_in_directory(settings, user):
            _fail(
                ZtcError(
                    f"there is no member {user!r} in the members directory (deploy/seed/members.yaml, or POST /api/performance/members)"
                )
            )
        grant = access.submitter_grant(settings, role, user)
        result = _run(lambda: credentials(settings, grant, rotate))
        _show(
            result,
            as_json,
            lambda r: [
                f"publishes:   exchange ztc.messages, routing key intake.opinion.submit, with user_id={r['user']}",
                f"submits as:  {user} ({role})",
            ],
        )

    for name, rotate, text in (
        ("issue", False, "Give the app of USER a broker user and password (printed once)."),
        ("rotate", True, "Give the app of USER a new password (printed once)."),
    ):

        @app_credentials.command(name, help=text)
        @click.argument("user")
        @click.option("--role", type=click.Choice(["member", "informant"]), required=True)
        @click.option("--json", "as_json", is_flag=True)
        def _command(user, role, as_json, _rotate=rotate):
            _app(user, role, _rotate, as_json)

    return sys.modules[__name__]
