"""Operators acting on instances, on a real database (SQLite and PostgreSQL), without the bus:
suspend holds job results, messages and timers and loses none of them; resume applies them;
cancel ends an instance and closes what was open; where says where the tokens are; the batch
forms act on many at once and, with a dry run, only say what they would do."""

from __future__ import annotations


import pytest
from sqlalchemy import select

from services.engine.models import HeldResult, Job, Outbox, WorkItem
from shared import contracts
from shared.db import transaction
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.integration.services.engine.test_rules import (
    ASSIGNMENT,
    DATA,
    MEMBER,
    REPLY,
    SMOKE,
    STAFF,
    actions,
    at_assignment,
    at_review,
    count_rows,
    review_task,
    take_job,
    waiting_for_reply,
)

# Held results, timers and batch queries on each database.
pytestmark = pytest.mark.both_databases

OPERATOR = {"user": "ops.sun", "roles": ["operator"], "unit": None}


def result_for(job, status="ok", result=None, message=""):
    raw = {key: job.payload[key] for key in ("job_id", "instance_id", "task_id", "operation", "attempt")}
    raw.update(status=status, result=result, error={"code": status, "message": message} if status != "ok" else None)
    return raw


def released_results(engine):
    with transaction(engine.sessions) as s:
        rows = s.scalars(select(Outbox).where(Outbox.exchange == contracts.RESULTS_EXCHANGE)).all()
        payloads = [dict(r.payload) for r in rows]
        for r in rows:
            s.delete(r)
    return payloads


def test_a_suspended_instance_holds_its_job_result_and_a_message_and_takes_both_on_resume(engine):
    engine.deploy(SMOKE)
    inst = at_assignment(engine, "SUSP-1")
    job = take_job(engine, "assignment.assign_unit")

    suspended = engine.suspend(inst["id"], "checking the unit directory", OPERATOR)
    assert suspended["status"] == "suspended"
    assert engine.accept_result(result_for(job, "ok", ASSIGNMENT)) == "held"
    reply = engine.send_message(dict(REPLY, correlation_key="SUSP-1", message_id="susp-reply-1"))
    assert reply["status"] == "buffered"
    engine.deliver_waiting_messages()
    still = engine.get_instance(inst["id"])
    assert still["status"] == "suspended" and still["revision"] == suspended["revision"]
    where = engine.where(inst["id"])
    assert where["held_results"] == 1
    assert [t["operation"] for t in where["tokens"] if t["kind"] == "job"] == ["assignment.assign_unit"]
    with pytest.raises(Conflict):
        engine.suspend(inst["id"], None, OPERATOR)

    resumed = engine.resume(inst["id"], OPERATOR)
    assert resumed["status"] == "waiting"
    assert count_rows(engine, HeldResult) == 0
    [held] = released_results(engine)  # sent again through the outbox to the results queue
    assert held["job_id"] == job.job_id
    assert engine.accept_result(held) == "completed"
    after = engine.get_instance(inst["id"])
    # The reply buffered during the suspension was delivered as soon as the instance waited for it.
    assert "wait_reply" not in after["waiting_tasks"]
    assert "message_delivered" in actions(engine, inst["id"])
    assert actions(engine, inst["id"]).count("job_completed") >= 2
    assert {"suspended", "resumed"} <= set(actions(engine, inst["id"]))


def test_a_suspended_instance_hides_its_tasks_and_its_timer_waits_until_resume(engine, skipping_clock):
    engine.deploy(SMOKE)
    review = at_review(engine, "SUSP-2")
    task = review_task(engine, review["id"])
    engine.suspend(review["id"], None, OPERATOR)
    assert engine.list_tasks(STAFF, review["id"]) == []
    with pytest.raises(Conflict, match="suspended"):  # hidden, and said to be waiting
        engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    engine.resume(review["id"], OPERATOR)
    assert review_task(engine, review["id"])["task_id"] == task["task_id"]

    waiting = waiting_for_reply(engine, "SUSP-3")
    engine.suspend(waiting["id"], "unit is moving offices", OPERATOR)
    skipping_clock.advance(days=31)
    assert engine.fire_due_timers() == 0
    assert engine.get_instance(waiting["id"])["waiting_tasks"] == ["wait_reply"]
    engine.resume(waiting["id"], OPERATOR)
    assert engine.fire_due_timers() == 1  # the timer that fell due meanwhile fires now
    assert engine.get_instance(waiting["id"])["waiting_tasks"] == ["escalate"]


def test_a_cancelled_instance_ends_with_its_tasks_and_jobs_closed_and_drops_late_results(engine):
    engine.deploy(SMOKE)
    inst = at_assignment(engine, "CANCEL-1")
    job = take_job(engine, "assignment.assign_unit")
    with pytest.raises(InvalidInput):
        engine.cancel(inst["id"], " ", OPERATOR)
    cancelled = engine.cancel(inst["id"], "withdrawn by the proposer", OPERATOR)
    assert cancelled["status"] == "cancelled"
    assert cancelled["closed"]["jobs"] == 1
    assert count_rows(engine, Job, job_id=job.job_id, status="cancelled") == 1
    assert engine.accept_result(result_for(job, "ok", ASSIGNMENT)) == "dropped"
    assert engine.accept_result(result_for(job, "failed", message="down")) == "dropped"
    # No retry was sent for a cancelled instance: its one message is the cancellation's event.
    assert [(r["exchange"], r["routing_key"]) for r in outbox_rows(engine)] == [
        (contracts.EVENTS_EXCHANGE, contracts.PROCESS_CANCELLED)
    ]
    assert engine.get_instance(inst["id"])["status"] == "cancelled"
    assert engine.where(inst["id"])["tokens"] == []
    with pytest.raises(Conflict):
        engine.cancel(inst["id"], "again", OPERATOR)
    with pytest.raises(Conflict):
        engine.suspend(inst["id"], None, OPERATOR)

    review = at_review(engine, "CANCEL-2")
    engine.cancel(review["id"], "duplicate", OPERATOR)
    assert count_rows(engine, WorkItem, instance_id=review["id"], status="cancelled") == 1
    assert engine.list_tasks(STAFF, review["id"]) == []
    # Its history says where its tokens stood when it was stopped, for the diagram to show.
    assert stood_at(engine, inst["id"]) == ["assign_unit"]
    assert stood_at(engine, review["id"]) == ["review"]


def stood_at(engine, instance_id):
    [line] = [h for h in engine.history(instance_id) if h["action"] == "cancelled"]
    return line["data"]["stood_at"]


def outbox_rows(engine):
    with transaction(engine.sessions) as s:
        return [
            {"exchange": r.exchange, "routing_key": r.routing_key, "payload": dict(r.payload)}
            for r in s.scalars(select(Outbox).order_by(Outbox.id))
        ]


def cancellation_events(engine):
    return [
        r["payload"]
        for r in outbox_rows(engine)
        if (r["exchange"], r["routing_key"]) == (contracts.EVENTS_EXCHANGE, contracts.PROCESS_CANCELLED)
    ]


def test_a_cancellation_tells_the_services_once_with_the_business_key_the_reason_and_who(engine):
    """The services close what they keep open for the business object (a proposal's status, its
    assignments, deadlines, rating round) from the ``process.cancelled`` event the cancellation
    commits with."""
    engine.deploy(SMOKE)
    inst = at_assignment(engine, "CANCEL-EV-1")
    before = len(cancellation_events(engine))
    engine.cancel(inst["id"], "申请人撤回：重复提交", OPERATOR)
    [event] = cancellation_events(engine)[before:]
    body = contracts.EventSchema().load(event)
    assert body["name"] == contracts.PROCESS_CANCELLED
    assert body["event_id"] == f"cancelled:{inst['id']}"
    assert body["subject"] == "CANCEL-EV-1"
    assert contracts.ProcessCancelledSchema().load(body["payload"]) == {
        "instance_id": inst["id"],
        "process_id": "smoke",
        "business_key": "CANCEL-EV-1",
        "reason": "申请人撤回：重复提交",
        "by": "ops.sun",
    }
    # Refused again (already cancelled): no second event.
    with pytest.raises(Conflict):
        engine.cancel(inst["id"], "again", OPERATOR)
    assert len(cancellation_events(engine)) == before + 1

    # Without a business key the subject is the instance's id; the services find nothing of theirs.
    keyless = engine.start("smoke", None, dict(DATA), MEMBER)
    engine.cancel(keyless["id"], "test data", OPERATOR)
    [last] = cancellation_events(engine)[before + 1 :]
    assert last["subject"] == keyless["id"] and last["payload"]["business_key"] is None


def closed_task_notices(engine, subject):
    """What the gateway keeps of the ``notify.task_closed`` events about ``subject``: each notice
    as (recipients, title, text)."""
    told = []
    for row in outbox_rows(engine):
        if (row["exchange"], row["routing_key"]) != (contracts.EVENTS_EXCHANGE, "notify.task_closed"):
            continue
        body = contracts.EventSchema().load(row["payload"])
        if body["subject"] == subject:
            payload = contracts.NotificationPayloadSchema().load(body["payload"])
            told.append((payload["recipients"], payload["title"], payload["text"]))
            told.extend((n["recipients"], n["title"], n["text"]) for n in body["notices"])
    return told


def test_whoever_held_a_task_the_cancellation_closed_is_told_it_is_gone_and_why(engine):
    """The open review went to every staff member's list: staff are told it closed, who cancelled
    the process and why. A task someone claimed is told to that person alone. Nothing open, no notice."""
    engine.deploy(SMOKE)
    review = at_review(engine, "CANCEL-TOLD-1")
    engine.cancel(review["id"], "申请人撤回", OPERATOR)
    [(recipients, title, text)] = closed_task_notices(engine, "CANCEL-TOLD-1")
    assert recipients == ["role:staff"]
    assert title == "待办已关闭：Review the submission"
    assert "ops.sun" in text and "申请人撤回" in text and "无需再办理" in text

    claimed = at_review(engine, "CANCEL-TOLD-2")
    engine.claim(review_task(engine, claimed["id"])["task_id"], STAFF)
    engine.cancel(claimed["id"], "重复提交", OPERATOR)
    [(recipients, _, text)] = closed_task_notices(engine, "CANCEL-TOLD-2")
    assert recipients == [STAFF["user"]] and "重复提交" in text

    waiting = at_assignment(engine, "CANCEL-TOLD-3")  # a job is open, no task
    engine.cancel(waiting["id"], "测试数据", OPERATOR)
    assert closed_task_notices(engine, "CANCEL-TOLD-3") == []


def test_a_cancellation_with_no_reason_or_an_overlong_one_is_refused_and_changes_nothing(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "CANCEL-EV-2")
    before = len(cancellation_events(engine))
    for reason in ("", "   ", "x" * 2001):
        with pytest.raises(InvalidInput) as refused:
            engine.cancel(inst["id"], reason, OPERATOR)
        assert "reason" in refused.value.details
        with pytest.raises(InvalidInput):
            engine.cancel_instances(reason, business_key_prefix="CANCEL-EV-2", principal=OPERATOR)
    assert engine.get_instance(inst["id"])["status"] == "waiting"
    assert len(cancellation_events(engine)) == before
    engine.cancel(inst["id"], "x" * 2000, OPERATOR)  # the longest reason the event carries
    assert cancellation_events(engine)[-1]["payload"]["reason"] == "x" * 2000


def test_a_cancelled_instance_waits_for_nothing_in_every_view(engine):
    engine.deploy(SMOKE)
    review = at_review(engine, "CANCEL-VIEW-1")
    assert engine.get_instance(review["id"])["waiting_tasks"] == ["review"]
    answer = engine.cancel(review["id"], "duplicate", OPERATOR)
    assert answer["waiting_tasks"] == [] and answer["waiting_messages"] == [] and answer["next_timer"] is None
    assert engine.get_instance(review["id"])["waiting_tasks"] == []
    assert engine.where(review["id"])["instance"]["waiting_tasks"] == []


def test_a_batch_names_a_status_no_instance_has_and_says_what_each_was(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "BATCH-WAS-1")
    with pytest.raises(InvalidInput) as refused:
        engine.cancel_instances("test data", status="bogus", principal=OPERATOR)
    assert "status" in refused.value.details and "waiting" in refused.value.message
    done = engine.cancel_instances("test data", business_key_prefix="BATCH-WAS-", principal=OPERATOR)
    assert [(i["id"], i["status"], i["was"]) for i in done["done"]] == [(inst["id"], "cancelled", "waiting")]


def test_where_names_each_token_of_an_instance(engine):
    engine.deploy(SMOKE)
    review = at_review(engine, "WHERE-1")
    [token] = engine.where(review["id"])["tokens"]
    assert token["kind"] == "user_task" and token["task"] == "review" and token["status"] == "open"
    waiting = waiting_for_reply(engine, "WHERE-2")
    kinds = {t["kind"]: t for t in engine.where(waiting["id"])["tokens"]}
    assert kinds["message"]["name"] == "unit_reply" and kinds["message"]["buffered"] == 0
    assert kinds["timer"]["due"] == waiting["next_timer"]


def test_batch_cancel_by_business_key_prefix_with_a_dry_run_first(engine):
    engine.deploy(SMOKE)
    batch = [engine.start("smoke", f"BATCH-{n}", dict(DATA), MEMBER)["id"] for n in range(3)]
    other = engine.start("smoke", "BATCHX_OTHER", dict(DATA), MEMBER)["id"]
    with pytest.raises(InvalidInput):
        engine.cancel_instances("no filter", dry_run=True, principal=OPERATOR)
    dry = engine.cancel_instances("test data", business_key_prefix="BATCH-", dry_run=True, principal=OPERATOR)
    assert sorted(i["id"] for i in dry["matched"]) == sorted(batch) and dry["done"] == []
    assert {engine.get_instance(i)["status"] for i in batch} == {"waiting"}

    done = engine.cancel_instances("test data", business_key_prefix="BATCH-", principal=OPERATOR)
    assert sorted(i["id"] for i in done["done"]) == sorted(batch) and done["failed"] == []
    assert {engine.get_instance(i)["status"] for i in batch} == {"cancelled"}
    assert engine.get_instance(other)["status"] == "waiting"
    again = engine.cancel_instances("test data", business_key_prefix="BATCH-", dry_run=True, principal=OPERATOR)
    assert again["matched"] == []  # the ended ones are not matched again


def test_batch_incident_retry_by_operation_with_a_dry_run_first(engine, settings):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "RETRY-ALL-1", dict(DATA), MEMBER)
    for _ in range(settings.job_max_attempts):
        job = take_job(engine, "intake.record_submission")
        engine.accept_result(result_for(job, "failed", message="intake is down"))
    [incident] = engine.incidents()
    assert incident["operation"] == "intake.record_submission"

    assert engine.retry_incidents("assignment.assign_unit", dry_run=True, principal=OPERATOR)["matched"] == []
    dry = engine.retry_incidents("intake.record_submission", dry_run=True, principal=OPERATOR)
    assert [i["id"] for i in dry["matched"]] == [incident["id"]]
    assert engine.incident(incident["id"])["status"] == "open"

    engine.suspend(inst["id"], None, OPERATOR)
    refused = engine.retry_incidents("intake.record_submission", principal=OPERATOR)
    assert refused["done"] == [] and "suspended" in refused["failed"][0]["error"]
    engine.resume(inst["id"], OPERATOR)
    assert engine.get_instance(inst["id"])["status"] == "incident"

    done = engine.retry_incidents("intake.record_submission", principal=OPERATOR)
    assert [i["status"] for i in done["done"]] == ["retrying"]
    retried = take_job(engine, "intake.record_submission")
    assert engine.accept_result(result_for(retried, "ok", {"id": 41, "title": DATA["title"]})) == "completed"
    assert engine.incident(incident["id"])["status"] == "resolved"


def test_only_operators_may_suspend_resume_or_cancel(engine):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "AUTH-1", dict(DATA), MEMBER)
    for action in (
        lambda: engine.suspend(inst["id"], None, STAFF),
        lambda: engine.cancel(inst["id"], "no", MEMBER),
        lambda: engine.cancel_instances("no", business_key_prefix="AUTH", principal=STAFF),
        lambda: engine.retry_incidents(principal=MEMBER),
    ):
        with pytest.raises(Forbidden):
            action()
    assert engine.get_instance(inst["id"])["status"] == "waiting"
    with pytest.raises(NotFound):
        engine.suspend("no-such-instance", None, OPERATOR)


def test_where_names_the_elements_passed_and_the_diagram_is_the_file_its_version_was_deployed_from(engine):
    engine.deploy(SMOKE)
    review = at_review(engine, "DONE-1")
    where = engine.where(review["id"])
    assert {"start", "record_submission"} <= set(where["completed"])
    assert "review" not in where["completed"] and "end" not in where["completed"]
    drawn = engine.version_diagram("smoke", review["version"])
    assert drawn["file"] == "smoke.bpmn" and drawn["xml"] == SMOKE["smoke.bpmn"].decode()
    assert engine.version_diagram("smoke", "active")["version"] == review["version"]
    with pytest.raises(NotFound):
        engine.version_diagram("smoke", "999")
    engine.cancel(review["id"], "checking where", OPERATOR)
    assert {"start", "record_submission"} <= set(engine.where(review["id"])["completed"])


class _Deadlock(Exception):
    pgcode = "40P01"  # PostgreSQL's deadlock_detected, as psycopg2 gives it


def test_a_status_change_the_database_rolls_back_for_another_transaction_is_run_again(engine):
    """A cancel (its instance, then its jobs) and a job's step (its job, then its instance) can
    deadlock on PostgreSQL; the one the server rolls back is run again, as after a stale revision."""
    from sqlalchemy.exc import OperationalError

    engine.deploy(SMOKE)
    inst = at_assignment(engine, "DEADLOCK-1")
    calls, before = [], engine.store.conflicts

    def change(s, row):
        calls.append(row.id)
        if len(calls) == 1:
            raise OperationalError("UPDATE jobs ...", {}, _Deadlock("deadlock detected"))
        return "done"

    assert engine.store.set_status(inst["id"], "suspended", ("waiting",), change, OPERATOR) == "done"
    assert calls == [inst["id"], inst["id"]] and engine.store.conflicts == before + 1
    assert engine.get_instance(inst["id"])["status"] == "suspended"

    def broken(s, row):
        raise OperationalError("UPDATE jobs ...", {}, Exception("server closed the connection"))

    with pytest.raises(OperationalError):  # any other database error is not retried
        engine.store.set_status(inst["id"], "cancelled", ("suspended",), broken, OPERATOR)
    assert engine.get_instance(inst["id"])["status"] == "suspended"


def test_a_task_closed_by_a_cancellation_says_so_to_whoever_could_have_done_it(engine):
    """Staff had the review open when an operator cancelled the instance: completing or claiming
    it is refused naming the cancellation (who, when, why, and the same in details.cancelled);
    anyone who could not have acted on it only learns there is no such task."""
    engine.deploy(SMOKE)
    review = at_review(engine, "CANCEL-TASK-1")
    task = review_task(engine, review["id"])
    engine.cancel(review["id"], "submitted twice", OPERATOR)
    with pytest.raises(Conflict) as refused:
        engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    assert "cancelled" in refused.value.message and "ops.sun" in refused.value.message
    assert "submitted twice" in refused.value.message
    cancelled = refused.value.details["cancelled"]
    assert (cancelled["reason"], cancelled["by"], cancelled["note"]) == (
        "process_cancelled",
        "ops.sun",
        "submitted twice",
    )
    assert cancelled["at"]
    with pytest.raises(Conflict, match="cancelled"):
        engine.claim(task["task_id"], STAFF)
    with pytest.raises(NotFound):
        engine.complete_task(task["task_id"], {"approved": True}, MEMBER)  # never theirs to do


def test_a_task_done_twice_is_refused_as_done_and_a_suspended_ones_as_waiting(engine):
    engine.deploy(SMOKE)
    done = at_review(engine, "TWICE-1")
    task = review_task(engine, done["id"])
    engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    with pytest.raises(Conflict, match="already completed"):
        engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    held = at_review(engine, "HELD-1")
    waiting = review_task(engine, held["id"])
    engine.suspend(held["id"], "checking", OPERATOR)
    with pytest.raises(Conflict, match="suspended"):
        engine.complete_task(waiting["task_id"], {"approved": True}, STAFF)
