"""The commands docs/unit-integration.md gives operators for a department's HTTP tokens, run as
written against the running gateway: a handler's token and the office system's token act for their
unit only, the system's lives 90 days, listing shows it by id, revoking it answers 401 at once."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from shared.config import ROOT
from tests.support import settings_env

from .conftest import call
from .test_proposal_lifecycle import Api, file_it, submit

SECTION = "## HTTP tokens for a department's people and systems"


def documented_commands() -> list[list[str]]:
    """The ``ztc ...`` lines of the section's shell block, comments dropped."""
    text = (ROOT / "docs" / "unit-integration.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text.split(SECTION, 1)[1], re.S).group(1)
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("ztc ")]


def ztc(env, args) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.ztc.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_the_documented_token_commands_give_a_department_its_http_access(running, e2e_settings):
    base, tokens = running
    env = dict(os.environ, **settings_env(e2e_settings))
    handler_cmd, system_cmd, list_cmd, revoke_cmd = documented_commands()
    assert handler_cmd[:2] == ["ztc", "token"] and "--system" in system_cmd
    handler, system = ztc(env, handler_cmd[1:]), ztc(env, system_cmd[1:])

    api = Api(base, tokens)
    ours, theirs = submit(api), submit(api)
    for number, unit in ((ours, "transport"), (theirs, "education")):
        file_it(api, number)
        api.complete("staff", "assign", number, {"mode": "single", "units": [unit]})
    mine, other = api.assignment("unit", ours), api.assignment("co_unit", theirs)
    for token in (handler, system):
        listed = call(base, token, "GET", f"/api/assignments?number={ours}")
        assert listed.status_code == 200 and [a["id"] for a in listed.json()["items"]] == [mine["id"]], listed.text
        assert call(base, token, "GET", f"/api/assignments/{other['id']}").status_code in (403, 404)
    assert call(base, system, "POST", f"/api/assignments/{mine['id']}/sign").status_code == 200

    [row] = json.loads(ztc(env, [*list_cmd[1:], "--json"]))
    assert (row["user"], row["unit"], row["kind"]) == ("system:transport", "transport", "system")
    lives = datetime.fromisoformat(row["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(days=89) < lives <= timedelta(days=90)
    assert revoke_cmd[-1] == "ID" and system not in ztc(env, list_cmd[1:])  # listed by id, never the token
    ztc(env, [*revoke_cmd[1:-1], row["id"]])
    assert call(base, system, "GET", "/api/assignments").status_code == 401
    assert call(base, handler, "GET", "/api/assignments").status_code == 200
