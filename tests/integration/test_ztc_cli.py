"""``ztc`` as a designer and an operator use it, with the services stopped."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from shared.config import ROOT
from tests.support import settings_env


def ztc(settings, *args):
    env = dict(os.environ, **settings_env(settings))
    return subprocess.run([sys.executable, "-m", "services.ztc.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


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
    done = subprocess.run([sys.executable, "-m", "services.ztc.cli", "deploy", str(ROOT / "bpmn" / "smoke.bpmn")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "smoke version" in done.stdout and "deployed" in done.stdout
    assert (var / "engine.db").exists()
