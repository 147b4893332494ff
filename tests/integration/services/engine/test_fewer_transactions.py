"""A step's work in as few transactions as its guarantees allow, on a real database (SQLite and
PostgreSQL): a start is one transaction and answers from what it saved; a message is buffered,
correlated and delivered in one; completing a task checks who may, fills the form and steps in one; the answers are what reading the instance back gives, and the
revision check, the retry after a conflict and the idempotency by message id hold as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from services.engine.models import BufferedMessage, HeldResult
from shared.errors import Conflict, Forbidden, InvalidInput
from tests.integration.services.engine.test_designers_versions import WAITER
from tests import support
from tests.integration.services.engine.test_rules import (
    DATA,
    MEMBER,
    REPLY,
    SMOKE,
    STAFF,
    at_review,
    review_task,
    _second_engine,
    actions,
    answer,
    count_rows,
    take_job,
    waiting_for_reply,
)

pytestmark = pytest.mark.both_databases


@contextmanager
def commits(engine) -> Iterator[list[str]]:
    """The transactions ``engine`` commits inside the block, one entry each."""
    bind = engine.sessions.kw["bind"]
    seen: list[str] = []

    def count(_conn) -> None:
        seen.append("commit")

    event.listen(bind, "commit", count)
    try:
        yield seen
    finally:
        event.remove(bind, "commit", count)


def statements(engine):
    """The SQL statements ``engine`` runs inside the block."""
    return support.statements(engine.sessions.kw["bind"])


def test_a_start_is_one_transaction_and_answers_what_reading_it_back_answers(engine):
    engine.deploy(SMOKE)
    data = dict(DATA, note="铁路 — ünïcode", nested={"a": [1, 2.5, None, True]})
    with commits(engine) as seen, statements(engine) as sql:
        started = engine.start("smoke", "ONE-1", data, MEMBER)
    assert len(seen) == 1
    # A new instance that opened no incident has none: none is looked for, nothing is read back.
    assert not [q for q in sql if "incidents" in q or q.lstrip().startswith("SELECT instances")]
    assert started == engine.get_instance(started["id"])
    assert started["status"] == "waiting" and started["revision"] == 1 and started["incidents"] == []


def test_a_start_command_is_one_transaction_and_its_redelivery_answers_the_same_instance(engine):
    engine.deploy(WAITER)
    command = {"command_id": "one-1", "process_id": "waiter", "business_key": "ONE-2", "data": {"wait_for": "P3D"}}
    with commits(engine) as seen:
        started = engine.start_command(dict(command, principal=None))
    assert len(seen) == 1
    assert started == engine.get_instance(started["id"])
    assert started["next_timer"] is not None
    with commits(engine) as seen:
        again = engine.start_command(dict(command, principal=None))
    assert again == started and len(seen) == 1


def test_a_start_that_failed_into_an_incident_answers_its_incident_as_reading_it_back_does(engine):
    engine.deploy(WAITER)
    started = engine.start_command(
        {"command_id": "one-3", "process_id": "waiter", "business_key": "ONE-3", "data": {"wait_for": "P3 days"}}
        | {"principal": None}
    )
    assert started["status"] == "incident" and len(started["incidents"]) == 1
    assert started == engine.get_instance(started["id"])


def test_a_message_to_a_waiting_instance_is_buffered_and_delivered_in_one_transaction(engine):
    engine.deploy(SMOKE)
    inst = waiting_for_reply(engine, "ONE-4")
    with commits(engine) as seen:
        sent = engine.send_message(dict(REPLY, correlation_key="ONE-4", message_id="one-4"))
    assert sent == {"status": "delivered", "message_id": "one-4", "delivered_to": inst["id"]}
    assert len(seen) == 1
    assert count_rows(engine, BufferedMessage, message_id="one-4", status="delivered", instance_id=inst["id"]) == 1
    assert engine.get_instance(inst["id"])["waiting_tasks"] == ["record_outcome"]
    # Sent again, it is a duplicate: not delivered twice.
    again = engine.send_message(dict(REPLY, correlation_key="ONE-4", message_id="one-4"))
    assert again["status"] == "duplicate" and again["delivered_to"] == inst["id"] and again["state"] == "delivered"
    assert actions(engine, inst["id"]).count("message_delivered") == 1


def test_a_message_nobody_waits_for_is_buffered_in_one_transaction(engine):
    engine.deploy(SMOKE)
    with commits(engine) as seen:
        sent = engine.send_message(dict(REPLY, correlation_key="ONE-5", message_id="one-5"))
    assert sent == {"status": "buffered", "message_id": "one-5", "delivered_to": None}
    assert len(seen) == 1
    assert count_rows(engine, BufferedMessage, message_id="one-5", status="buffered") == 1


def test_a_message_whose_step_lost_a_race_is_buffered_again_with_the_retry_and_delivered_once(
    engine, settings, monkeypatch
):
    engine.deploy(SMOKE)
    inst = waiting_for_reply(engine, "ONE-6")
    other = _second_engine(settings)
    real = engine.runtime.deliver_message
    calls = []

    def deliver_message(workflow, name, payload):
        calls.append(name)
        if len(calls) == 1:  # another engine saves the instance first: this save finds a newer revision
            other.store.mutate(inst["id"], lambda s, i, wf: "checked")
        return real(workflow, name, payload)

    monkeypatch.setattr(engine.runtime, "deliver_message", deliver_message)
    sent = engine.send_message(dict(REPLY, correlation_key="ONE-6", message_id="one-6"))
    assert sent == {"status": "delivered", "message_id": "one-6", "delivered_to": inst["id"]}
    assert calls == ["unit_reply", "unit_reply"], "the stale save was not retried"
    assert engine.store.conflicts == 1
    assert count_rows(engine, BufferedMessage, message_id="one-6") == 1
    final = engine.get_instance(inst["id"])
    assert final["revision"] == inst["revision"] + 2 and final["waiting_tasks"] == ["record_outcome"]
    assert actions(engine, inst["id"]).count("message_delivered") == 1


def test_a_message_whose_step_fails_is_kept_buffered_and_the_failure_reported(engine, monkeypatch):
    engine.deploy(SMOKE)
    inst = waiting_for_reply(engine, "ONE-7")

    def refuse(*args, **kwargs):
        raise Conflict("the step failed")

    monkeypatch.setattr(engine.runtime, "deliver_message", refuse)
    with pytest.raises(Conflict):
        engine.send_message(dict(REPLY, correlation_key="ONE-7", message_id="one-7"))
    assert count_rows(engine, BufferedMessage, message_id="one-7", status="buffered") == 1
    assert engine.get_instance(inst["id"])["revision"] == inst["revision"]
    monkeypatch.undo()
    # The sweep delivers it, once.
    assert engine.deliver_waiting_messages() == 1
    assert count_rows(engine, BufferedMessage, message_id="one-7", status="delivered", instance_id=inst["id"]) == 1
    assert engine.send_message(dict(REPLY, correlation_key="ONE-7", message_id="one-7"))["status"] == "duplicate"


def test_a_message_id_seen_before_is_not_delivered_to_an_instance_that_waits_for_its_name(engine):
    engine.deploy(SMOKE)
    assert engine.send_message(dict(REPLY, correlation_key="ELSEWHERE", message_id="one-8"))["status"] == "buffered"
    inst = waiting_for_reply(engine, "ONE-8")
    again = engine.send_message(dict(REPLY, correlation_key="ONE-8", message_id="one-8"))
    assert again["status"] == "duplicate" and again["state"] == "buffered" and again["delivered_to"] is None
    after = engine.get_instance(inst["id"])
    assert after["revision"] == inst["revision"] and after["waiting_messages"] == ["unit_reply"]
    assert "message_delivered" not in actions(engine, inst["id"])
    # Its step was rolled back whole, its cached workflow with it: the next message is delivered.
    sent = engine.send_message(dict(REPLY, correlation_key="ONE-8", message_id="one-8b"))
    assert sent == {"status": "delivered", "message_id": "one-8b", "delivered_to": inst["id"]}
    assert engine.get_instance(inst["id"])["waiting_tasks"] == ["record_outcome"]


def test_completing_a_task_is_one_transaction_and_answers_what_reading_it_back_answers(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "ONE-9")
    task = review_task(engine, inst["id"])
    with commits(engine) as seen:
        done = engine.complete_task(task["task_id"], {"approved": True, "comment": "好"}, STAFF)
    assert len(seen) == 1
    assert done == engine.get_instance(inst["id"])
    assert done["revision"] == inst["revision"] + 1 and done["created_at"] == inst["created_at"]
    assert done["data"]["review_by"] == STAFF["user"] and done["data"]["comment"] == "好"


def test_a_task_refused_in_its_one_transaction_changes_nothing(engine):
    engine.deploy(SMOKE)
    inst = at_review(engine, "ONE-10")
    task = review_task(engine, inst["id"])
    with pytest.raises(Forbidden):
        engine.complete_task(task["task_id"], {"approved": True}, MEMBER)
    with pytest.raises(InvalidInput):
        engine.complete_task(task["task_id"], {"approved": "perhaps"}, STAFF)
    assert engine.get_instance(inst["id"]) == inst
    assert review_task(engine, inst["id"])["status"] == "open"
    engine.complete_task(task["task_id"], {"approved": False}, STAFF)
    with pytest.raises(Conflict, match="already completed"):  # done: said so, not "no such task"
        engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    assert actions(engine, inst["id"]).count("task_completed") == 1


def test_a_job_result_and_a_task_completion_read_their_instance_with_their_job_or_item(engine):
    engine.deploy(SMOKE)
    inst = engine.start("smoke", "ONE-11", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")
    with statements(engine) as sql:
        assert answer(engine, job, "ok", {"id": 1}) == "completed"
    assert not [q for q in sql if q.lstrip().startswith("SELECT instances")], sql
    # Its first attempt had no incident retried on it to resolve.
    assert not [q for q in sql if "incidents" in q], sql
    assert answer(engine, job, "ok", {"id": 1}) == "dropped"  # applied once
    task = review_task(engine, inst["id"])
    with statements(engine) as sql:
        engine.complete_task(task["task_id"], {"approved": True}, STAFF)
    assert not [q for q in sql if q.lstrip().startswith("SELECT instances")], sql


def test_a_tick_with_nothing_due_commits_nothing_and_writes_nothing(engine):
    engine.deploy(SMOKE)
    waiting_for_reply(engine, "TICK-1")  # an instance waits for a message
    engine.send_message(dict(REPLY, correlation_key="TICK-2", message_id="tick-2"))  # buffered, not yet past its TTL
    with commits(engine) as committed, statements(engine) as ran:
        assert engine.fire_due_timers() == 0
        assert engine.deliver_waiting_messages() == 0
        assert engine.expire_messages() == 0
    assert committed == []
    assert not [sql for sql in ran if not sql.lstrip().upper().startswith("SELECT")]
    assert count_rows(engine, BufferedMessage, status="buffered") == 1


def test_a_job_result_from_the_queue_is_one_transaction_that_also_decides_hold_or_drop(engine):
    engine.deploy(SMOKE)
    engine.start("smoke", "ONE-12", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")
    raw = {key: job.payload[key] for key in ("job_id", "instance_id", "task_id", "operation", "attempt")}
    with commits(engine) as seen:
        assert engine.accept_result(dict(raw, status="ok", result={"id": 1}, error=None)) == "completed"
    assert len(seen) == 1
    # A failure for a suspended instance is held as a success is (and applied after the resume).
    inst = engine.start("smoke", "ONE-13", dict(DATA), MEMBER)
    job = take_job(engine, "intake.record_submission")
    raw = {key: job.payload[key] for key in ("job_id", "instance_id", "task_id", "operation", "attempt")}
    engine.suspend(inst["id"], None, {"user": "ops", "roles": ["operator"]})
    failed = dict(raw, status="failed", result=None, error={"code": "failed", "message": "down"})
    with commits(engine) as seen:
        assert engine.accept_result(failed) == "held"
    assert len(seen) == 1
    assert count_rows(engine, HeldResult, job_id=job.job_id) == 1
