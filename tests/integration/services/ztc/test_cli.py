"""``ztc`` as a designer and an operator use it, with the services stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from shared.config import ROOT
from tests.support import settings_env, ztc


def test_deploy_validates_and_stores_with_the_services_stopped(settings, tmp_path):
    smoke = ROOT / "bpmn" / "smoke.bpmn"
    first = ztc(settings, "deploy", str(smoke))
    assert first.returncode == 0, first.stderr
    assert "smoke version" in first.stdout and "deployed" in first.stdout
    again = ztc(settings, "deploy", "--json", str(smoke))
    assert again.returncode == 0
    [row] = json.loads(again.stdout)
    assert row["process_id"] == "smoke" and row["new"] is False

    evil = tmp_path / "evil.bpmn"
    evil.write_text(smoke.read_text().replace('outcome = "rejected"', 'outcome = open("/etc/passwd").read()'))
    refused = ztc(settings, "deploy", str(evil))
    assert refused.returncode == 1
    assert "set_outcome_rejected" in refused.stderr and "open" in refused.stderr
    listed = ztc(settings, "instances", "find", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_check_only_validates_and_stores_nothing(settings, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions")
    checked = ztc(settings, "deploy", "--check", str(broken), str(ROOT / "bpmn" / "smoke.bpmn"))
    assert checked.returncode == 1
    assert "broken.bpmn" in checked.stderr and "not well-formed" in checked.stderr
    assert "smoke version" in checked.stdout and "valid" in checked.stdout
    stored = ztc(settings, "versions", "--json")
    assert stored.returncode == 0 and json.loads(stored.stdout) == []


def test_a_command_says_what_it_found_and_no_framework_warning(settings):
    """nameko's eventlet warns on import that it is deprecated; an operator's command does not
    pass that on (it printed nine lines on stderr before every answer)."""
    listed = subprocess.run(  # as an operator runs it: no -W option, the interpreter's own filters
        [sys.executable, "-m", "services.ztc.cli", "incidents", "list"],
        env=dict(os.environ, **settings_env(settings)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "no incidents" in listed.stdout
    assert "deprecated" not in listed.stderr.lower() and "Warning" not in listed.stderr


def test_a_token_issued_with_json_names_its_id_expiry_and_authenticates(settings):
    """A department's integrator scripts the token's issue: with --json it comes with the id that
    'ztc tokens list' and 'ztc tokens revoke' use, its kind and its expiry."""
    from datetime import datetime, timedelta, timezone

    from services.gateway import tokens
    from shared.db import session_factory, transaction

    issued = ztc(
        settings, "token", "--user", "sys.transport", "--role", "unit", "--unit", "transport", "--system", "--json"
    )
    assert issued.returncode == 0, issued.stderr
    answer = json.loads(issued.stdout)
    assert answer["token"].startswith("ztc_") and answer["kind"] == "system" and answer["state"] == "active"
    assert (answer["user"], answer["roles"], answer["unit"]) == ("sys.transport", ["unit"], "transport")
    expires = datetime.fromisoformat(answer["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(days=89) < expires <= timedelta(days=90)
    listed = json.loads(ztc(settings, "tokens", "list", "--json").stdout)
    assert [row["id"] for row in listed] == [answer["id"]] and "token" not in listed[0]
    with transaction(session_factory(settings.database_url("gateway"))) as s:
        assert tokens.principal_for(s, f"Bearer {answer['token']}")["user"] == "sys.transport"
    plain = ztc(settings, "tokens", "issue", "--user", "ops.sun", "--role", "operator")
    assert plain.returncode == 0 and plain.stdout.strip().startswith("ztc_") and "{" not in plain.stdout


def test_a_unit_token_for_a_unit_not_in_the_directory_is_refused_unless_said_to_be_coming(settings):
    from services.assignment.models import Unit
    from shared.db import migrate, session_factory, transaction

    def issue(unit, *more):
        return ztc(settings, "token", "--user", "u1", "--role", "unit", "--unit", unit, *more)

    before = issue("nosuch")  # no directory yet: nothing to compare with
    assert before.returncode == 0 and before.stdout.startswith("ztc_") and "warning" not in before.stderr
    url = settings.database_url("assignment")
    migrate("assignment", url)
    with transaction(session_factory(url)) as s:
        s.add_all([Unit(code="transport", name="交通局"), Unit(code="education", name="教育局")])
    typo = issue("trasport")  # most likely a typo: refused, no token
    assert typo.returncode == 1 and "ztc_" not in typo.stdout
    assert "unit 'trasport' is not in the directory (education, transport); no token made" in typo.stderr
    listed = ztc(settings, "tokens", "list", "--json")
    assert listed.returncode == 0 and "trasport" not in listed.stdout
    coming = issue("healthcare", "--unit-not-yet-entered")
    assert coming.returncode == 0 and coming.stdout.startswith("ztc_")
    assert "unit 'healthcare' is not in the directory" in coming.stderr and "warning" in coming.stderr
    known = issue("transport")
    assert known.returncode == 0 and "warning" not in known.stderr
    # A console account is checked as a token is: the unit, the login id, a user at all.
    from click.testing import CliRunner

    from services.ztc.cli import main

    def account(*args):
        return CliRunner().invoke(
            main,
            ["console-user", "set", *args, "--password-stdin"],
            input="longpassword1\n",
            env=settings_env(settings),
        )

    refused = account("--user", "rv.x", "--role", "unit", "--unit", "nosuch")
    assert refused.exit_code == 1 and "unit 'nosuch' is not in the directory" in refused.stderr
    assert "no console account made" in refused.stderr
    slash = account("--user", "a/b", "--role", "member")
    assert slash.exit_code != 0 and "login id" in slash.stderr
    empty = account("--user", "", "--role", "member")
    assert empty.exit_code != 0 and "needs a user" in empty.stderr and "known:" not in empty.stderr
    made = account("--user", "handler.zhao", "--role", "unit", "--unit", "transport")
    assert made.exit_code == 0 and "console account handler.zhao set" in made.stdout


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="caller" name="Caller" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="call" name="Run smoke" calledElement="smoke"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_call_activity_to_a_process_in_another_file_deploys_with_that_file(settings, tmp_path):
    caller, smoke = tmp_path / "caller.bpmn", ROOT / "bpmn" / "smoke.bpmn"
    caller.write_text(CALLER, encoding="utf-8")
    alone = ztc(settings, "deploy", str(caller))  # what it calls is in none of the files given
    assert alone.returncode == 1 and "calls process 'smoke'" in alone.stderr
    first = json.loads(ztc(settings, "deploy", "--json", str(smoke)).stdout)
    together = ztc(settings, "deploy", "--json", str(caller), str(smoke), str(ROOT / "bpmn" / "opinion.bpmn"))
    assert together.returncode == 0, together.stdout + together.stderr
    rows = {row["process_id"]: row for row in json.loads(together.stdout)}
    assert rows["caller"]["state"] == "deployed"
    # smoke, deployed beside its caller, keeps the version it has alone; opinion went on its own.
    assert (rows["smoke"]["state"], rows["smoke"]["version"]) == ("unchanged", first[0]["version"])
    assert rows["opinion"]["state"] == "deployed"


def test_operator_commands_explain_unknown_ids(settings):
    missing = ztc(settings, "incidents", "retry", "999")
    assert missing.returncode == 1 and "no incident 999" in missing.stderr
    shown = ztc(settings, "instances", "show", "no-such-instance")
    assert shown.returncode == 1 and "no instance" in shown.stderr
    token = ztc(settings, "token", "--user", "ops.sun", "--role", "wizard")
    assert token.returncode == 1 and "unknown role" in token.stderr


def test_deploy_is_the_first_command_on_a_fresh_checkout(tmp_path):
    """No var/ yet, nothing migrated, no service ever started: deploy makes what it needs."""
    var = tmp_path / "fresh" / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTC_")}
    env["ZTC_VAR_DIR"] = str(var)
    done = subprocess.run(
        [sys.executable, "-m", "services.ztc.cli", "deploy", str(ROOT / "bpmn" / "smoke.bpmn")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "smoke version" in done.stdout and "deployed" in done.stdout
    assert (var / "engine.db").exists()


def test_deploy_lists_every_problem_with_line_label_and_hint_in_text_and_json(settings, tmp_path):
    from tests.unit.shared.workflow.test_deploy_checks import FOUR_MISTAKES

    bad = tmp_path / "four.bpmn"
    bad.write_text(FOUR_MISTAKES)
    refused = ztc(settings, "deploy", str(bad))
    assert refused.returncode == 1
    listed = [line for line in refused.stderr.splitlines() if line.startswith("  - ")]
    assert len(listed) == 4, refused.stderr
    assert all(line.startswith("  - four.bpmn:") and " — " in line for line in listed)
    assert "element 'f_lost' \"escalate (Three days pass → Activity_gone)\" (bpmn:sequenceFlow)" in refused.stderr
    as_json = ztc(settings, "deploy", "--json", str(bad))
    assert as_json.returncode == 1
    [result] = json.loads(as_json.stdout)
    details = result["details"]["problem_details"]
    assert {d["element_id"] for d in details} == {"record", "f_yes", "wait", "f_lost"}
    assert all(d["line"] and d["label"] and d["hint"] and d["file"] == "four.bpmn" for d in details)
    assert len(result["details"]["problems"]) == 4
    assert json.loads(ztc(settings, "versions", "--json").stdout) == []


def test_a_documentation_pool_deploys_with_a_note(settings, tmp_path):
    from tests.unit.shared.workflow.test_deploy_checks import _collaboration

    collab = tmp_path / "collab.bpmn"
    collab.write_text(_collaboration())
    done = ztc(settings, "deploy", str(collab))
    assert done.returncode == 0, done.stderr
    assert "proposal version" in done.stdout
    assert "note: collab.bpmn:" in done.stdout and "'unit_side'" in done.stdout
    assert "not executable: kept as documentation" in done.stdout
    [row] = json.loads(ztc(settings, "deploy", "--json", str(collab)).stdout)
    assert row["new"] is False and any("unit_side" in n for n in row["notes"])


def test_the_products_diagrams_deploy_and_lint_without_refusal(settings):
    diagrams = sorted(str(p) for p in (ROOT / "bpmn").glob("*.bpmn"))
    deployed = ztc(settings, "deploy", *diagrams)
    assert deployed.returncode == 0, deployed.stderr
    linted = ztc(settings, "lint", *diagrams)
    assert linted.returncode == 0, linted.stdout
    assert all(
        f"{name.rsplit('/', 1)[-1]}: deploys" in linted.stdout or f"{name}: deploys" in linted.stdout
        for name in diagrams
    )


def test_a_broker_that_refuses_the_login_or_is_away_is_one_line_not_a_traceback(settings):
    import dataclasses

    from tests.support import free_port

    refused = dataclasses.replace(settings, amqp_uri="amqp://nobody:wrong@127.0.0.1:5672/")
    answer = ztc(refused, "dead-letters", "list")
    assert answer.returncode == 1 and "Traceback" not in answer.stderr
    assert "the broker at 127.0.0.1:5672/ refused user 'nobody'" in answer.stderr and "wrong" not in answer.stderr
    port = free_port()
    away = dataclasses.replace(settings, amqp_uri=f"amqp://guest:guest@127.0.0.1:{port}/")
    answer = ztc(away, "dead-letters", "list")
    assert answer.returncode == 1 and "Traceback" not in answer.stderr
    assert f"could not reach the broker at 127.0.0.1:{port}/" in answer.stderr


def test_a_year_or_a_status_no_command_can_answer_is_a_usage_error_not_a_traceback(settings):
    from services.engine.store import STATUSES
    from shared.contracts import INSTANCE_STATUSES

    assert INSTANCE_STATUSES == STATUSES
    for year in ("0", "1948", "10000"):
        shown = ztc(settings, "calendar", "show", year)
        assert shown.returncode == 2 and "Traceback" not in shown.stderr
        assert "not in the range 1949<=x<=2999" in shown.stderr
    assert ztc(settings, "calendar", "show", "2026").returncode == 0
    found = ztc(settings, "instances", "find", "--status", "bogus")
    assert found.returncode == 2 and "'bogus' is not one of 'running'" in found.stderr
