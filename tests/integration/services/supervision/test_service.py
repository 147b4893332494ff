"""The supervision service on the real broker and a real database (SQLite and PostgreSQL): jobs come
in on ``ztc.jobs`` as the engine sends them, results go out on ``ztc.engine.results``, and people
ask over RPC."""

from __future__ import annotations

import getpass
import json
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy

import shared.calendar as calendar_module
from services.supervision import operations
from services.supervision.repository import SqlDeadlineRepository
from services.supervision.rules import RulebookRules
from services.supervision.service import SupervisionService
from services.supervision.unit_of_work import SqlSupervisionUnitOfWork
from services.ztc import cli
from shared import contracts
from shared.config import ROOT
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import Forbidden, NotFound
from shared.messaging import topology
from shared.rulebook import load_rulebook
from tests.support import sealed_job, SigningRpc, get_messages, publish, settings_env, wait_for

STAFF = {"user": "staff.wang", "roles": ["staff"]}
LEADER = {"user": "vice.chair.chen", "roles": ["leader"]}
EDUCATION = {"user": "handler.zhao", "roles": ["unit"], "unit": "education"}
STAND_IN_2027 = Path(__file__).parents[3] / "data" / "calendar-2027-STAND-IN.yaml"


@pytest.fixture
def supervision(settings, skipping_clock):
    """The supervision service in this process, on a fresh database and a throwaway vhost."""
    migrate("supervision", settings.database_url("supervision"))
    topology.declare(settings.amqp_uri)
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(SupervisionService)
    runner.start()
    rpc = ClusterRpcProxy(settings.nameko_config())
    try:
        yield SigningRpc(rpc.start(), settings)
    finally:
        rpc.stop()
        runner.stop()
        dispose_all()


def send_job(settings, operation, params, principal=STAFF, business_key=None) -> str:
    job = contracts.JobSchema().load(
        {
            "job_id": uuid.uuid4().hex,
            "instance_id": "instance-1",
            "task_id": "task-1",
            "operation": operation,
            "params": params,
            "attempt": 1,
            "business_key": business_key,
            "principal": principal,
        }
    )
    publish(settings.amqp_uri, contracts.JOBS_EXCHANGE, operation, sealed_job(job, settings))
    return job["job_id"]


def result_of(vhost, job_id) -> dict:
    def arrived():
        for message in get_messages(vhost, contracts.ENGINE_RESULTS_QUEUE):
            body = json.loads(message["payload"])
            if body["job_id"] == job_id:
                return body
        return None

    return wait_for(arrived, message=f"the result of job {job_id} on {contracts.ENGINE_RESULTS_QUEUE}")


def open_clocks(settings, number, units, **extra):
    params = {"number": number, "key_proposal": False, "supervising_leader": None, "units": units, **extra}
    return send_job(settings, "supervision.open_deadlines", params, business_key=number)


def test_open_deadlines_over_the_bus_answers_the_engine_with_the_next_check(supervision, settings, vhost):
    job_id = open_clocks(settings, "2026-0001", ["transport"])
    answer = result_of(vhost, job_id)

    assert (answer["status"], answer["operation"], answer["service"]) == (
        "ok",
        "supervision.open_deadlines",
        "supervision",
    )
    next_check = datetime.fromisoformat(answer["result"]["next_check"])
    # Not signed yet: the first check is the sign-for limit's reminder on its last working day, and
    # the reply clock counts from the end of that limit until the unit signs.
    assert next_check.tzinfo is not None and next_check.isoformat() == "2026-03-05T00:00:00+08:00"
    assert {(d["rule"], d["due"]) for d in answer["result"]["deadlines"]} == {
        ("sign_for_limit", "2026-03-05"),
        ("objection_window", "2026-03-09"),
        ("reply_deadline", "2026-06-06"),
    }


def test_the_deadlines_rpc_explains_a_deadline_opened_by_a_job(supervision, settings, vhost):
    result_of(vhost, open_clocks(settings, "2026-0002", ["transport", "education"]))

    explained = supervision.supervision.deadlines("2026-0002", principal=STAFF)
    reply = next(d for d in explained["deadlines"] if d["rule"] == "reply_deadline")
    rulebook = load_rulebook("proposal")
    assert reply["rulebook"] == {"name": "proposal", "version": rulebook.version, "hash": rulebook.content_hash}
    assert (reply["start"]["event"], reply["opened_by"], reply["due"]) == (
        "sign_for_limit_end",
        "staff.wang",
        "2026-06-06",
    )
    objection = next(d for d in explained["deadlines"] if d["rule"] == "objection_window" and d["unit"] == "education")
    assert [d["date"] for d in objection["calendar"]["skipped"]] == ["2026-03-07", "2026-03-08"]
    seen = supervision.supervision.deadlines("2026-0002", principal=EDUCATION)["deadlines"]
    assert {d["unit"] for d in seen} == {"education", None}


def test_a_unit_not_given_the_proposal_is_refused_over_rpc(supervision, settings, vhost):
    result_of(vhost, open_clocks(settings, "2026-0003", ["transport"]))
    with pytest.raises(NotFound) as hidden:  # as if there were no such proposal: nothing told
        supervision.supervision.deadlines("2026-0003", principal=EDUCATION)
    with pytest.raises(NotFound) as missing:
        supervision.supervision.deadlines("2026-0999", principal=EDUCATION)
    assert str(hidden.value).replace("0003", "N") == str(missing.value).replace("0999", "N")


@pytest.mark.both_databases  # the overdue board is one query over every live deadline
def test_the_overdue_board_lists_a_missed_milestone_beside_the_reply_and_the_signing_each_with_its_kind(
    supervision, settings, vhost, skipping_clock
):
    result_of(vhost, open_clocks(settings, "2026-0004", ["transport"]))
    promised = {
        "number": "2026-0004",
        "milestones": [{"unit": "transport", "milestone": 1, "what": "完成设计", "due": "2026-04-01"}],
    }
    result_of(vhost, send_job(settings, "supervision.open_milestones", promised, business_key="2026-0004"))
    assert supervision.supervision.overdue(principal=STAFF)["units"] == []

    skipping_clock.set(datetime.fromisoformat("2026-06-10T09:00:00+08:00"))
    result_of(vhost, open_clocks(settings, "2026-0005", ["education"]))  # its clocks are not past yet
    board = supervision.supervision.overdue(principal=LEADER)
    [transport] = board["units"]
    assert (transport["unit"], transport["count"]) == ("transport", 3)
    rows = {row["kind"]: row for row in transport["overdue"]}
    assert [row["kind"] for row in transport["overdue"]] == ["signing", "milestone", "reply"]  # oldest due first
    milestone = rows["milestone"]
    assert (milestone["rule"], milestone["due"], milestone["days_overdue"]) == ("followup_milestone", "2026-04-01", 70)
    assert milestone["milestone"] == {"number": 1, "what": "完成设计"} and milestone["escalated_at"] is None
    assert 'milestone 1 "完成设计", promised in its category B reply' in milestone["explanation"]
    assert (rows["reply"]["rule"], rows["reply"]["due"]) == ("reply_deadline", "2026-06-06")
    assert "3 months from sign for limit end" in rows["reply"]["explanation"]
    # Each row explains itself: what the proposal's deadlines would say of it, without asking for them.
    assert rows["reply"]["provenance"]["duration"] == {"amount": 3, "unit": "months"}
    assert rows["reply"]["provenance"]["explanation"] == rows["reply"]["explanation"]
    assert rows["signing"]["rule"] == "sign_for_limit" and "milestone" not in rows["signing"]
    for row in transport["overdue"]:  # the fields the board had before it had kinds
        assert {"number", "deadline_id", "rule", "due", "days_overdue", "escalated_at"} <= row.keys()
    # A page at a time, most overdue first; the unit's count and the total are every page's.
    pages = [supervision.supervision.overdue({"page": n, "per_page": "2"}, principal=STAFF) for n in (1, 2)]
    assert [(p["total"], p["units"][0]["count"]) for p in pages] == [(3, 3), (3, 3)]
    assert [[row["kind"] for row in p["units"][0]["overdue"]] for p in pages] == [["signing", "milestone"], ["reply"]]
    with pytest.raises(Forbidden):
        supervision.supervision.overdue(principal=EDUCATION)


@pytest.mark.both_databases  # what one transaction sees of another's commit
def test_the_deadlines_rpc_reads_one_snapshot_so_an_escalation_committed_meanwhile_is_wholly_in_or_out(
    supervision, settings, vhost, skipping_clock, monkeypatch
):
    """The answer reads the deadlines, then their changes, reminders and escalations. A check that
    escalates the missed sign-for limit and commits between those reads must not show its
    escalation beside the limit's status as it was before (``open``, not ``missed``)."""
    result_of(vhost, open_clocks(settings, "2026-0006", ["transport"]))
    skipping_clock.set(datetime.fromisoformat("2026-03-06T10:00:00+08:00"))  # the limit ended on 03-05
    read_changes = SqlDeadlineRepository.changes_by_deadline
    checked = []

    def a_check_commits_meanwhile(repository, ids):
        if not checked:
            with transaction(session_factory(settings.database_url("supervision"))) as other:
                uow = SqlSupervisionUnitOfWork(other)
                checked.append(operations.check(uow, RulebookRules(), {"number": "2026-0006"}, None))
        return read_changes(repository, ids)

    monkeypatch.setattr(SqlDeadlineRepository, "changes_by_deadline", a_check_commits_meanwhile)
    answer = supervision.supervision.deadlines("2026-0006", principal=STAFF)
    monkeypatch.undo()

    assert checked, "the concurrent check ran between the answer's reads"
    signing = next(d for d in answer["deadlines"] if d["rule"] == "sign_for_limit")
    assert (signing["status"], signing["escalations"]) == ("open", [])
    for deadline in answer["deadlines"]:
        assert (deadline["status"] == "missed") == bool(deadline["escalations"]), deadline["rule"]
    # The check did commit: the next answer shows the limit missed and its escalation, together.
    signing = next(
        d
        for d in supervision.supervision.deadlines("2026-0006", principal=STAFF)["deadlines"]
        if d["rule"] == "sign_for_limit"
    )
    assert signing["status"] == "missed" and [e["unit"] for e in signing["escalations"]] == ["transport"]


def test_the_supervising_leader_logs_over_rpc_and_the_entry_is_kept(supervision, settings, vhost):
    result_of(
        vhost,
        open_clocks(settings, "2026-0004", ["transport"], key_proposal=True, supervising_leader="vice.chair.chen"),
    )
    supervision.supervision.log_key_supervision("2026-0004", "meeting", "Met the bureau's director", principal=LEADER)
    log = supervision.supervision.key_supervision_log("2026-0004", principal=STAFF)
    assert [(e["leader"], e["kind"]) for e in log["entries"]] == [("vice.chair.chen", "meeting")]


def test_a_date_no_source_knows_fails_the_job_with_the_fix_in_its_message(supervision, settings, vhost, skipping_clock):
    # 2002: before chinesecalendar and before the holiday rules the provisional rule follows.
    skipping_clock.set(datetime.fromisoformat("2002-12-30T10:00:00+08:00"))
    answer = result_of(vhost, open_clocks(settings, "2002-0005", ["transport"]))

    assert (answer["status"], answer["error"]["code"]) == ("failed", "UnknownCalendarDate")
    assert "2002.yaml with complete: true" in answer["error"]["message"]
    with pytest.raises(NotFound):  # nothing of the failed job was kept
        supervision.supervision.deadlines("2002-0005", principal=STAFF)


def test_a_deadline_into_a_provisional_year_is_recomputed_when_ztc_calendar_add_enters_the_schedule(
    supervision, settings, vhost, skipping_clock, tmp_path, monkeypatch
):
    """The calendar files of a copy of bpmn/: the service reads them afresh for each call, and
    ``ztc calendar add`` writes there and asks the running service to recompute over RPC."""
    from kombu import Connection, Queue

    bpmn = tmp_path / "bpmn"
    shutil.copytree(ROOT / "bpmn" / "calendar", bpmn / "calendar")
    monkeypatch.setattr(calendar_module, "DEFAULT_DIRECTORY", bpmn / "calendar")
    with Connection(settings.amqp_uri) as conn:  # a listener of our own, as the gateway's is
        Queue("test.recalculated", topology.EVENTS, routing_key="notify.deadline_recalculated", durable=True)(
            conn.default_channel
        ).declare()

    skipping_clock.set(datetime.fromisoformat("2027-02-01T10:00:00+08:00"))  # before the Spring Festival
    answer = result_of(vhost, open_clocks(settings, "2027-0007", ["transport"]))
    assert answer["status"] == "ok"  # no failure, so no incident: counted provisionally
    objection = _objection(supervision, "2027-0007")
    assert (objection["due"], objection["provisional"]) == ("2027-02-10", True)
    assert objection["calendar"]["provisional_years"] == [2027]
    assert "PROVISIONAL" in objection["explanation"]

    skipping_clock.advance(days=1)
    entered = CliRunner().invoke(
        cli.main,
        ["calendar", "add", "2027", str(STAND_IN_2027)],
        env={**settings_env(settings), "ZTC_BPMN_DIR": str(bpmn)},
    )
    assert entered.exit_code == 0, entered.output
    assert "2027 is now official" in entered.output
    assert "proposal 2027-0007 objection_window (transport): 2027-02-10 -> 2027-02-15" in entered.output
    assert (bpmn / "calendar" / "2027.yaml").read_bytes() == STAND_IN_2027.read_bytes()
    assert len(list((bpmn / "calendar" / "replaced").glob("2027.*.yaml"))) == 1

    objection = _objection(supervision, "2027-0007")
    assert (objection["due"], objection["original_due"], objection["provisional"]) == (
        "2027-02-15",
        "2027-02-10",
        False,
    )
    [change] = objection["changes"]
    assert (change["kind"], change["old_due"], change["new_due"], change["by"]) == (
        "recalculation",
        "2027-02-10",
        "2027-02-15",
        f"ztc:{getpass.getuser()}",
    )
    assert "2027-02-14 makeup_workday" in change["reason"]

    def told():
        return [json.loads(m["payload"]) for m in get_messages(vhost, "test.recalculated")]

    [notice] = wait_for(told, message="the notice of the moved deadline")
    assert notice["subject"] == "2027-0007"
    assert notice["payload"]["recipients"] == ["unit:transport", "role:staff"]

    again = CliRunner().invoke(
        cli.main, ["calendar", "recompute", "2027", "--json"], env={**settings_env(settings), "ZTC_BPMN_DIR": str(bpmn)}
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["recounted"] == 0


def _objection(supervision, number):
    return next(
        d
        for d in supervision.supervision.deadlines(number, principal=STAFF)["deadlines"]
        if d["rule"] == "objection_window"
    )


@pytest.mark.both_databases
def test_a_key_proposal_is_told_once_to_the_points_ledger_with_its_proposers(supervision, settings, vhost):
    from kombu import Connection, Queue

    with Connection(settings.amqp_uri) as conn:  # a listener of our own, as evaluation's is
        Queue("test.key_selected", topology.EVENTS, routing_key="proposal.key_selected", durable=True)(
            conn.default_channel
        ).declare()
    extra = {"key_proposal": True, "supervising_leader": "vice.chair.chen", "proposers": ["member.li", "member.zhou"]}
    result_of(vhost, open_clocks(settings, "2026-0006", ["transport"], **extra))
    result_of(vhost, open_clocks(settings, "2026-0006", ["education"], **extra))  # reassigned: same event

    def two():
        bodies = [json.loads(m["payload"]) for m in get_messages(vhost, "test.key_selected")]
        return len(bodies) >= 2 and bodies

    bodies = wait_for(two, message="both openings' events")
    assert {b["event_id"] for b in bodies} == {"proposal.key_selected:2026-0006"}
    assert bodies[0]["members"] == [{"member": "member.li", "role": "lead"}, {"member": "member.zhou", "role": "co"}]
    assert bodies[0]["payload"] == {"supervising_leader": "vice.chair.chen"}
