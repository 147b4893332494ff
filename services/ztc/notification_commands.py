"""``ztc notifications``: e-mail and SMS deliveries on the gateway's database (so they work with
the services stopped): list them (failed ones by default, addresses masked) and send failed ones
again with a fresh budget of attempts. The same as ``/api/ops/notifications/deliveries``."""

from __future__ import annotations

import sys

import click


def register(main, helpers):
    """Add the ``notifications`` group to ``main``."""
    _gateway_sessions, _out, _fail = helpers["gateway_sessions"], helpers["out"], helpers["fail"]

    @main.group(
        help="E-mail and SMS deliveries of notifications (docs/notifications.md): list failed ones, send them again."
    )
    def notifications():
        pass

    def _print(rows):
        if not rows:
            click.echo("no deliveries")
        for d in rows:
            click.echo(
                f"#{d['id']} [{d['status']}] {d['channel']} to {d['user']} ({d['address']}) "
                f"{d['kind']}: {d['subject']} — {d['attempts']} attempt(s)"
                + (f"; last error: {d['last_error']}" if d["last_error"] else "")
            )

    @notifications.command(
        "list", help="Deliveries, newest first: failed ones (the default), or --status pending|sent|all."
    )
    @click.option("--status", default="failed", type=click.Choice(["failed", "pending", "sent", "all"]))
    @click.option("--user", default=None, help="Only this person's.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def notifications_list(status, user, as_json):
        from services.gateway import deliveries
        from shared.db import transaction

        _, sessions = _gateway_sessions()
        with transaction(sessions) as s:
            rows = deliveries.listing(s, None if status == "all" else status, user)
        _out(rows, as_json, _print)

    @notifications.command(
        "retry",
        help="Send failed deliveries again with a fresh budget of attempts: "
        "the IDs given, or --all; the running gateway sends them.",
    )
    @click.argument("ids", type=int, nargs=-1)
    @click.option("--all", "everything", is_flag=True, help="Every failed delivery.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def notifications_retry(ids, everything, as_json):
        from services.gateway import deliveries
        from shared.db import transaction
        from shared.errors import ZtcError

        if bool(ids) == everything:
            click.echo("error: give delivery IDs or --all", err=True)
            sys.exit(2)
        _, sessions = _gateway_sessions()
        try:
            with transaction(sessions) as s:
                rows = deliveries.retry(s, list(ids), everything)
        except ZtcError as exc:
            _fail(exc)
        _out(
            rows,
            as_json,
            lambda r: (
                click.echo(f"{len(r)} deliveries to be sent again")
                if r
                else click.echo("no failed delivery among those")
            ),
        )
