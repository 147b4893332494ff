"""`ztc` for designers' versions, on the engine's database with the services stopped: deploy as a
draft, activate (a rollback), the log, a diff, a redeploy that rolls back, and a migration checked
with --dry-run, refused without a mapping and done with one."""

from __future__ import annotations

import json

from services.engine.engine import Engine
from shared.db import dispose_all, session_factory
from tests.integration.services.engine.test_designers_versions import RENAMED_REVIEW
from tests.integration.services.engine.test_rules import MEMBER, SMOKE, STAFF, finish_job, SUBMISSION, DATA
from tests.integration.services.ztc.test_cli import ztc


def _files(tmp_path, name, files):
    path = tmp_path / name
    path.mkdir()
    [(filename, content)] = files.items()
    (path / filename).write_bytes(content)
    return str(path / filename)


def test_draft_activate_rollback_diff_and_migrate_through_ztc(settings, tmp_path):
    good, renamed = _files(tmp_path, "v1", SMOKE), _files(tmp_path, "v2", RENAMED_REVIEW)
    first = ztc(settings, "deploy", good)
    assert first.returncode == 0, first.stderr
    assert "smoke version 1" in first.stdout and "deployed, active" in first.stdout
    draft = ztc(settings, "deploy", "--draft", renamed)
    assert "smoke version 2" in draft.stdout and "deployed as a draft" in draft.stdout
    listed = ztc(settings, "versions", "smoke")
    assert "version 1" in listed.stdout and "ACTIVE" in listed.stdout and "DRAFT" in listed.stdout

    engine = Engine(session_factory(settings.database_url("engine")), settings)
    inst = engine.start("smoke", "CLI-MIG", dict(DATA), MEMBER)
    finish_job(engine, "intake.record_submission", SUBMISSION)
    dispose_all()

    activated = ztc(settings, "versions", "activate", "smoke", "2")
    assert activated.returncode == 0 and "is active: new instances start on it instead of version 1" in activated.stdout
    log = json.loads(ztc(settings, "versions", "log", "smoke", "--json").stdout)
    assert [(r["number"], r["how"]) for r in log] == [(1, "deploy"), (2, "activate")]
    assert log[-1]["by"].startswith("ztc")

    diff = ztc(settings, "versions", "diff", "smoke@1", "smoke@2")
    assert diff.returncode == 0
    assert '+ added    check "Review the submission" (userTask)' in diff.stdout
    assert '- removed  review "Review the submission" (userTask)' in diff.stdout

    refused = ztc(settings, "instances", "migrate", "--from", "smoke@1", "--to", "smoke@2", "--dry-run")
    assert refused.returncode == 1
    assert "REFUSED" in refused.stdout and "--map review=check" in refused.stdout
    dry = ztc(
        settings, "instances", "migrate", "--from", "smoke@1", "--to", "smoke@2", "--map", "review=check", "--dry-run"
    )
    assert dry.returncode == 0 and "dry run: 1 would move, 0 refused; nothing changed" in dry.stdout
    moved = ztc(
        settings,
        "instances",
        "migrate",
        "--from",
        "1",
        "--to",
        "2",
        "--process",
        "smoke",
        "--map",
        "review=check",
        "--json",
    )
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert json.loads(moved.stdout)["migrated"] == [inst["id"]]
    shown = ztc(settings, "instances", "show", inst["id"], "--json")
    assert json.loads(shown.stdout)["instance"]["waiting_tasks"] == ["check"]
    assert "migrated" in [h["action"] for h in json.loads(shown.stdout)["history"]]

    # The known-good file deployed again is the rollback: version 1 is active again.
    back = ztc(settings, "deploy", good)
    assert "smoke version 1" in back.stdout and "already stored: active again" in back.stdout
    engine = Engine(session_factory(settings.database_url("engine")), settings)
    assert engine.start("smoke", "CLI-NEW", dict(DATA), MEMBER)["version"] == log[0]["version"]
    assert engine.list_tasks(STAFF, inst["id"])[0]["task"] == "check"
    dispose_all()


def test_a_deployment_of_several_files_stores_none_if_one_is_refused(settings, tmp_path):
    good = _files(tmp_path, "good", SMOKE)
    [smoke] = SMOKE.values()
    broken = tmp_path / "broken.bpmn"  # another process, with a script that does not compile
    broken.write_bytes(
        smoke.replace(b'id="smoke"', b'id="smoke_broken"').replace(b"<bpmn:script>", b"<bpmn:script>while (", 1)
    )
    refused = ztc(settings, "deploy", good, str(broken))
    assert refused.returncode == 1
    assert "broken.bpmn: refused" in refused.stderr and "nothing deployed: 1 of the 2 file(s) refused" in refused.stderr
    listed = ztc(settings, "versions", "smoke")  # the good file was not stored either
    assert listed.returncode == 1 and "no process 'smoke' is deployed" in listed.stderr
    log = ztc(settings, "versions", "log", "smoke")  # nor is a typo "never activated" and a success
    assert log.returncode == 1 and "no process 'smoke' is deployed" in log.stderr
    twice = tmp_path / "twice"
    twice.mkdir()
    (twice / "a.bpmn").write_bytes(smoke)
    (twice / "b.bpmn").write_bytes(smoke.replace(b"Review the submission", b"Review it"))
    both = ztc(settings, "deploy", str(twice))
    assert both.returncode == 1 and "process 'smoke' is in 2 of the files given" in both.stderr
    assert ztc(settings, "deploy", good).returncode == 0
