"""``ztc instances`` and ``ztc incidents`` as an operator uses them, with the services stopped."""

from __future__ import annotations

import json

import pytest

from tests.integration.services.engine.test_incident_page import incidents
from tests.integration.services.engine.test_ops_instances import result_for
from tests.integration.services.engine.test_rules import take_job
from tests.integration.services.engine.test_rules import DATA, MEMBER, SMOKE
from tests.integration.services.ztc.test_dead_letters import ztc

# The batch commands select by prefix (LIKE differs between the two) and act in transactions.
pytestmark = pytest.mark.both_databases


def test_suspend_where_resume_and_a_batch_cancel_with_a_dry_run(engine, settings):
    engine.deploy(SMOKE)
    first = engine.start("smoke", "CLI-1", dict(DATA), MEMBER)["id"]
    second = engine.start("smoke", "CLI-2", dict(DATA), MEMBER)["id"]

    suspended = ztc(settings, "instances", "suspend", first, "--reason", "checking", "--json")
    assert suspended.returncode == 0, suspended.stderr
    assert json.loads(suspended.stdout)["status"] == "suspended"
    where = ztc(settings, "instances", "where", first)
    assert where.returncode == 0 and "job record_submission -> intake.record_submission" in where.stdout
    twice = ztc(settings, "instances", "suspend", first)
    assert twice.returncode == 1 and "cannot be suspended" in twice.stderr
    resumed = ztc(settings, "instances", "resume", first)
    assert resumed.returncode == 0 and "status=waiting" in resumed.stdout

    both = ztc(settings, "instances", "cancel", first, "--business-key-prefix", "CLI-", "--reason", "x")
    assert both.returncode == 2 and "either one INSTANCE_ID or batch filters" in both.stderr
    dry = ztc(
        settings, "instances", "cancel", "--business-key-prefix", "CLI-", "--reason", "test", "--dry-run", "--json"
    )
    assert dry.returncode == 0, dry.stderr
    assert sorted(i["id"] for i in json.loads(dry.stdout)["matched"]) == sorted([first, second])
    assert engine.get_instance(first)["status"] == "waiting"
    done = ztc(settings, "instances", "cancel", "--business-key-prefix", "CLI-", "--reason", "test")
    assert done.returncode == 0 and "2 instance(s) cancelled" in done.stdout
    assert done.stdout.count("(was waiting)") == 2  # what each was before, not what it is now
    shown_now = ztc(settings, "instances", "show", second).stdout
    assert "status=cancelled" in shown_now and "waiting for: -;" in shown_now
    by_number = ztc(settings, "instances", "cancel", "CLI-2", "--reason", "test")
    assert by_number.returncode == 1 and "no instance CLI-2" in by_number.stderr
    assert "ztc instances find --business-key NUMBER" in by_number.stderr
    assert {engine.get_instance(i)["status"] for i in (first, second)} == {"cancelled"}
    history = [h["action"] for h in engine.history(first)]
    assert history[-3:] == ["suspended", "resumed", "cancelled"]
    shown = ztc(settings, "instances", "show", first).stdout  # the text says why, as --json does
    assert " suspended: checking" in shown and " cancelled: test" in shown


def test_incident_retry_needs_an_id_or_all_and_all_has_a_dry_run(engine, settings):
    neither = ztc(settings, "incidents", "retry")
    assert neither.returncode == 2 and "one INCIDENT_ID or --all" in neither.stderr
    dry = ztc(settings, "incidents", "retry", "--all", "--operation", "intake.record_submission", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {"dry_run": True, "matched": [], "done": [], "failed": []}


def test_incidents_list_by_status_every_one_or_a_page_newest_first(engine, settings):
    ids = incidents(engine, ["open", "resolved", "open", "retrying", "open"])
    listed = ztc(settings, "incidents", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [i["id"] for i in json.loads(listed.stdout)] == [ids[0], ids[2], ids[4]]  # open ones, oldest first
    resolved = ztc(settings, "incidents", "list", "--status", "resolved")
    assert resolved.returncode == 0 and f"#{ids[1]} [resolved]" in resolved.stdout and "[open]" not in resolved.stdout
    every = ztc(settings, "incidents", "list", "--all", "--json")
    assert [i["id"] for i in json.loads(every.stdout)] == ids

    page = ztc(settings, "incidents", "list", "--page", "2", "--per-page", "2")
    assert page.returncode == 0, page.stderr
    assert page.stdout.splitlines() == [
        f"#{ids[0]} [open] instance inst-0 task assign (assignment.assign_unit): failure 0",
        "page 2 of 2, 3 open incidents in all, newest first",
    ]
    as_json = json.loads(ztc(settings, "incidents", "list", "--all", "--page", "1", "--per-page", "2", "--json").stdout)
    assert (as_json["total"], [i["id"] for i in as_json["items"]]) == (5, [ids[4], ids[3]])
    for wrong in (["--status", "closed"], ["--page", "0"], ["--per-page", "201", "--page", "1"]):
        refused = ztc(settings, "incidents", "list", *wrong)
        assert refused.returncode == 2 and "Invalid value" in refused.stderr


def test_the_records_name_the_operator_ztc_operator_names_and_a_bad_name_changes_nothing(engine, settings, monkeypatch):
    """On a shared or container account every login is the same (root): ZTC_OPERATOR says who."""
    engine.deploy(SMOKE)
    first = engine.start("smoke", "WHO-1", dict(DATA), MEMBER)["id"]
    monkeypatch.setenv("ZTC_OPERATOR", "ops sun")
    refused = ztc(settings, "instances", "cancel", first, "--reason", "duplicate")
    assert refused.returncode == 2 and "ZTC_OPERATOR names who runs the command" in refused.stderr
    assert engine.get_instance(first)["status"] == "waiting"
    monkeypatch.setenv("ZTC_OPERATOR", "ops.sun")
    done = ztc(settings, "instances", "cancel", first, "--reason", "duplicate")
    assert done.returncode == 0, done.stderr
    [line] = [h for h in engine.history(first) if h["action"] == "cancelled"]
    assert line["actor"] == "ztc:ops.sun"


def test_an_operators_cancel_is_stamped_on_the_moved_clock_the_services_run_on(engine, settings, tmp_path):
    """A demonstration or a test moves every service's clock ahead (ZTC_CLOCK_OFFSET_FILE): the
    operator's cancel is recorded on that time, not weeks before what the services recorded."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    engine.deploy(SMOKE)
    first = engine.start("smoke", "MOVED-1", dict(DATA), MEMBER)["id"]
    offset = tmp_path / "clock-offset"
    offset.write_text(repr(40 * 86400.0))
    before = datetime.now(timezone.utc)
    done = ztc(replace(settings, clock_offset_file=str(offset)), "instances", "cancel", first, "--reason", "demo")
    assert done.returncode == 0, done.stderr
    [line] = [h for h in engine.history(first) if h["action"] == "cancelled"]
    stamped = datetime.fromisoformat(line["at"])
    assert before + timedelta(days=40) <= stamped < before + timedelta(days=40, minutes=5), stamped
    from shared import clock

    assert clock.now() < before + timedelta(days=1), "the tests' own clock is not moved"


def test_one_incidents_retry_dry_run_sends_nothing_and_the_operator_is_named(engine, settings, monkeypatch):
    """``--dry-run`` with one INCIDENT_ID only says what would be retried (it used to retry);
    --operation/--process choose among --all, not one; a retry and a resolution are recorded for
    ztc:<operator>, as every other command of ztc is."""
    monkeypatch.setenv("ZTC_OPERATOR", "ops.sun")
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "DRY-1", dict(DATA), MEMBER)
    for _ in range(settings.job_max_attempts):
        engine.accept_result(result_for(take_job(engine, "intake.record_submission"), "failed", message="down"))
    [incident] = engine.incidents()
    number = str(incident["id"])
    dry = ztc(settings, "incidents", "retry", number, "--dry-run")
    assert dry.returncode == 0 and f"would retry incident #{number} (open)" in dry.stdout, dry.stderr
    assert engine.incident(incident["id"])["status"] == "open"
    assert not [h for h in engine.history(inst["id"]) if h["action"] == "incident_retry"]
    mixed = ztc(settings, "incidents", "retry", number, "--operation", "intake.record_submission")
    assert mixed.returncode == 2 and "not with one INCIDENT_ID" in mixed.stderr
    assert engine.incident(incident["id"])["status"] == "open"
    done = ztc(settings, "incidents", "retry", number)
    assert done.returncode == 0 and "is queued to be sent again" in done.stdout, done.stderr
    [line] = [h for h in engine.history(inst["id"]) if h["action"] == "incident_retry"]
    assert line["actor"] == "ztc:ops.sun"
    again = ztc(settings, "incidents", "retry", number, "--dry-run")
    assert again.returncode == 1 and "is retrying, not open" in again.stderr


@pytest.mark.parametrize("duration", ["nand", "infd", "-10d", "0s", "1e9d", "31", "d", ""])
def test_the_clock_only_moves_ahead_by_a_sane_duration(settings, tmp_path, duration):
    """Every service reads the offset file: nan, inf or a step back would stop them all."""
    from dataclasses import replace

    offset = tmp_path / "clock-offset"
    moved = replace(settings, clock_offset_file=str(offset))
    refused = ztc(moved, "clock", "advance", "--", duration)
    assert refused.returncode == 1 and "is not a duration like 31d" in refused.stderr, refused.stderr
    assert not offset.exists()
    done = ztc(moved, "clock", "advance", "31d")
    assert done.returncode == 0 and "31.00 days ahead" in done.stdout, done.stderr
    assert float(offset.read_text()) == 31 * 86400
