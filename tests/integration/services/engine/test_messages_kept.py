"""Messages that wait, on a real database (SQLite and PostgreSQL): one for an instance that exists
is never dropped by the time to live (a suspended instance takes it on resume, however long that
took); those with no instance are listed (the engine's ``waiting_messages``, ``ztc messages``) and
counted in the metrics; only they expire."""

from __future__ import annotations

import json

from services.engine.models import BufferedMessage, Outbox as EngineOutbox
from tests.integration.services.engine.test_rules import REPLY, SMOKE, actions, count_rows, waiting_for_reply
from tests.integration.shared.test_metrics import _Db, _scrape
from tests.integration.services.ztc.test_cli import ztc

OPERATOR = {"user": "ops.sun", "roles": ["operator"], "unit": None}


def test_a_message_buffered_for_a_suspended_instance_outlives_its_ttl_and_is_delivered_on_resume(
    engine, settings, skipping_clock
):
    engine.deploy(SMOKE)
    inst = waiting_for_reply(engine, "KEEP-1")
    engine.suspend(inst["id"], "checking the unit", OPERATOR)
    assert engine.send_message(dict(REPLY, correlation_key="KEEP-1", message_id="keep-1"))["status"] == "buffered"
    # An orphan: nothing has its key.
    assert engine.send_message(dict(REPLY, correlation_key="NOBODY", message_id="orphan-1"))["status"] == "buffered"

    skipping_clock.advance(seconds=settings.message_ttl_seconds + 3600)
    assert engine.expire_messages() == 1  # the orphan only
    assert count_rows(engine, BufferedMessage, message_id="orphan-1", status="expired") == 1
    [kept] = engine.waiting_messages()
    assert kept["message_id"] == "keep-1" and kept["kept_past_ttl"] is True
    assert kept["instances"] == [
        {"id": inst["id"], "process_id": "smoke", "status": "suspended", "waiting_for_it": False}
    ]

    engine.resume(inst["id"], OPERATOR)
    after = engine.get_instance(inst["id"])
    assert after["waiting_tasks"] == ["record_outcome"]
    assert "message_delivered" in actions(engine, inst["id"])
    assert count_rows(engine, BufferedMessage, message_id="keep-1", status="delivered") == 1
    assert engine.waiting_messages() == []


def test_a_message_for_a_blocked_instance_is_kept_and_the_sweep_delivers_it_when_it_waits(
    engine, settings, skipping_clock
):
    engine.deploy(SMOKE)
    # Its instance exists but does not wait for the reply yet (the review is still open).
    from tests.integration.services.engine.test_rules import at_review

    inst = at_review(engine, "KEEP-2")
    engine.send_message(dict(REPLY, correlation_key="KEEP-2", message_id="keep-2"))
    skipping_clock.advance(seconds=settings.message_ttl_seconds * 2)
    assert engine.expire_messages() == 0
    [row] = engine.waiting_messages()
    assert row["instances"][0]["waiting_for_it"] is False and row["instances"][0]["status"] == "waiting"
    assert row["kept_past_ttl"] is True
    # Once the instance ends, a message nothing can take any more expires.
    engine.cancel(inst["id"], "withdrawn", OPERATOR)
    assert engine.expire_messages() == 1


def test_waiting_messages_are_listed_by_ztc_and_counted_in_the_metrics(engine, settings):
    engine.deploy(SMOKE)
    inst = waiting_for_reply(engine, "LIST-1")
    engine.suspend(inst["id"], None, OPERATOR)
    engine.send_message(dict(REPLY, correlation_key="LIST-1", message_id="list-1"))
    engine.send_message(dict(REPLY, correlation_key="NO-SUCH-KEY", message_id="list-2"))
    engine.send_message(dict(REPLY, correlation_key="NO-SUCH-KEY-2", message_id="list-3"))

    listed = ztc(settings, "messages")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert "key=NO-SUCH-KEY id=list-2 [buffered]: NO INSTANCE with this key" in listed.stdout
    assert f"instance {inst['id']} (smoke, suspended, not waiting for it now)" in listed.stdout
    as_json = json.loads(ztc(settings, "messages", "--json").stdout)
    assert [m["message_id"] for m in as_json] == ["list-1", "list-2", "list-3"]
    assert [len(m["instances"]) for m in as_json] == [1, 0, 0]

    text = _scrape("engine", _Db(settings, "engine", EngineOutbox))
    assert 'ztc_messages_buffered{has_instance="no",name="unit_reply"} 2.0' in text
    assert 'ztc_messages_buffered{has_instance="yes",name="unit_reply"} 1.0' in text
