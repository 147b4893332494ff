"""Who runs a ``ztc`` command, as the records keep it (an instance's history, a cancellation's
``by``, a deployment's author, a calendar change).

``ZTC_OPERATOR`` names the person when the login does not (a shared account, a container where
everyone is ``root``): ``ZTC_OPERATOR=ops.sun ztc instances cancel ...`` records ``ztc:ops.sun``.
Without it the login name is used (``ztc:<login>``), and ``ztc`` alone when there is none."""

from __future__ import annotations

import getpass

import click

from shared import config

ENV = "ZTC_OPERATOR"
LONGEST = 90  # the records keep 100 characters of an actor: "ztc:" and this


def acting_name() -> str:
    """``ztc:<ZTC_OPERATOR>``, else ``ztc:<login name>``, else ``ztc``; a ``ZTC_OPERATOR`` that is
    blank, too long or has a space or a control character is refused (``click.UsageError``)."""
    named = config.load().ztc_operator
    if named is not None:
        if not named.strip() or len(named) > LONGEST or any(c.isspace() or not c.isprintable() for c in named):
            raise click.UsageError(
                f"{ENV} names who runs the command: 1 to {LONGEST} characters, no spaces (got {named!r})"
            )
        return f"ztc:{named}"
    try:
        return f"ztc:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (a container without one): still say it was ztc
        return "ztc"


def operator() -> dict:
    """The principal an operator's command acts as: :func:`acting_name`, role ``operator``."""
    return {"user": acting_name(), "roles": ["operator"], "unit": None}
