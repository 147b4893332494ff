"""``make run`` on the local broker: every service on its own broker user, the deployment key and
the generated passwords under var/ with mode 600; an operator issues a department its credentials
(``ztc units credentials issue``), and the example client works with them and nothing more."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import requests

from shared.config import ROOT
from shared.messaging import identity
from tests import support
from tests.support import settings_env, wait_for

from .conftest import call


def connection_users(vhost) -> set:
    resp = requests.get(f"{support.RABBIT_API}/connections", auth=support.RABBIT_AUTH, timeout=10)
    resp.raise_for_status()
    return {c["user"] for c in resp.json() if c.get("vhost") == vhost}


def test_every_service_runs_on_its_own_broker_user(running, e2e_settings):
    settings = e2e_settings
    vhost = support.vhost_of_settings(settings)
    own = {
        identity.service_user(settings, s)
        for s in ("engine", "intake", "assignment", "supervision", "evaluation", "gateway")
    }
    users = wait_for(
        lambda: (lambda found: found if own <= found else None)(connection_users(vhost)),
        timeout=30,
        message="a connection of every service's user",
    )
    assert own <= users
    # The passwords make run generated (the tests give the key in ZTC_BUS_KEY; else var/bus.key, also 600).
    stored = settings.var_dir / identity.CREDENTIALS_FILE
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert set(json.loads(stored.read_text())) == own | {identity.operator_user(settings)}


def test_a_department_gets_credentials_and_the_example_client_works_with_them_only(running, e2e_settings):
    base, tokens = running
    settings = e2e_settings
    env = dict(os.environ, **settings_env(settings))
    ztc = [sys.executable, "-m", "services.ztc.cli"]
    issued = subprocess.run(
        [*ztc, "units", "credentials", "issue", "transport", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert issued.returncode == 0, issued.stderr
    creds = json.loads(issued.stdout)
    assert creds["user"] == identity.unit_user(settings, "transport")
    again = subprocess.run(
        [*ztc, "units", "credentials", "issue", "transport"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "rotate" in again.stderr

    started = call(
        base,
        tokens["operator"],
        "POST",
        "/api/processes/smoke/instances",
        {"business_key": "BUS-1", "data": {"title": "Lights", "unit": "transport", "reply_within": "P30D"}},
    )
    assert started.status_code == 201, started.text
    client = [sys.executable, str(ROOT / "examples" / "unit_client.py"), "--amqp", creds["amqp_uri"]]
    # The smoke diagram sends the unit no event; the unit's queue is its own to read, another's is not.
    mine = subprocess.run(
        [*client, "--unit", "transport", "listen", "--count", "1", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ACCESS_REFUSED" not in mine.stderr, mine.stderr
    theirs = subprocess.run(
        [*client, "--unit", "education", "listen", "--count", "1", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert theirs.returncode != 0 and "ACCESS_REFUSED" in theirs.stderr
    forged = subprocess.run([*client, "--unit", "education", "sign", "1"], capture_output=True, text=True, timeout=60)
    assert forged.returncode != 0 and "ACCESS_REFUSED" in forged.stderr
    sent = subprocess.run(
        [*client, "--unit", "transport", "sign", "999999"], capture_output=True, text=True, timeout=60
    )
    assert sent.returncode == 0, sent.stderr  # sent; the service refuses it (no such assignment)

    # The operators see it through the gateway (as the operator's broker user), and a replay still
    # acts for transport: refused again for the same reason, not as a command from nobody.
    def letters():
        found = call(base, tokens["operator"], "GET", "/api/ops/dead-letters?routing_key=transport.sign")
        assert found.status_code == 200, found.text
        return found.json()

    [letter] = wait_for(letters, timeout=30, message="the refused command among the dead letters")
    assert letter["reason"].startswith("not_found") and letter["headers"]["x-ztc-sender"] == creds["user"]
    assert call(base, tokens["operator"], "GET", "/api/ops/queues").status_code == 200
    replayed = call(base, tokens["operator"], "POST", "/api/ops/dead-letters/replay", {"ids": [letter["id"]]})
    assert replayed.status_code == 200 and len(replayed.json()["replayed"]) == 1, replayed.text
    [again] = wait_for(letters, timeout=30, message="the replayed command refused again")
    assert again["reason"].startswith("not_found"), again["reason"]

    rotated = subprocess.run(
        [*ztc, "units", "credentials", "rotate", "transport", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    stale = subprocess.run(
        [*client, "--unit", "transport", "sign", "999999"], capture_output=True, text=True, timeout=60
    )
    assert stale.returncode != 0 and "ACCESS_REFUSED" in stale.stderr  # the old password is gone
