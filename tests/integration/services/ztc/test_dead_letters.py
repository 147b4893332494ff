"""A poison message, end to end on the real broker: a message the engine cannot handle ends in
the dead-letter queue with its reason, reading it loses nothing, the cause is fixed, and
``ztc dead-letters replay`` brings it back to be processed exactly once. Discarding needs a
reason and records the whole letter."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from services.engine.models import History, Instance
from shared import contracts
from shared.config import ROOT
from shared.messaging.deadletter import box
from tests.integration.conftest import System
from tests.support import publish, ready_count, wait_for, ztc

SMOKE_TEXT = (ROOT / "bpmn" / "smoke.bpmn").read_text()
FIXED = {"poison_demo.bpmn": SMOKE_TEXT.replace('<bpmn:process id="smoke"', '<bpmn:process id="poison_demo"').encode()}
MEMBER = {"user": "member.li", "roles": ["member"], "unit": None}


@pytest.fixture
def engine_only(settings):
    running = System(settings, ("engine",))
    yield running
    running.stop()


def _instances(system, key):
    with system.session("engine") as s:
        return s.query(Instance).filter(Instance.business_key == key).all()


def test_a_poison_start_command_is_dead_lettered_fixed_and_replayed_exactly_once(engine_only):
    system, settings = engine_only, engine_only.settings
    command = {
        "command_id": f"cmd-{uuid.uuid4().hex[:8]}",
        "process_id": "poison_demo",
        "business_key": "POISON-1",
        "principal": MEMBER,
        "data": {"title": "Repair the bus shelter", "unit": "transport", "reply_within": "P30D"},
    }
    publish(settings.amqp_uri, contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY, command)

    letters = box(settings)
    [letter] = wait_for(lambda: letters.list(), message="the start command in the dead-letter queue")
    assert "no process 'poison_demo' is deployed" in letter["reason"]
    assert letter["original_queue"] == contracts.ENGINE_STARTS_QUEUE
    assert letter["original_routing_key"] == contracts.START_ROUTING_KEY
    assert letter["body"]["command_id"] == command["command_id"]
    assert _instances(system, "POISON-1") == []

    # Reading, by the library and by ztc, takes nothing away.
    listed = ztc(settings, "dead-letters", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [d["id"] for d in json.loads(listed.stdout)] == [letter["id"]]
    shown = ztc(settings, "dead-letters", "show", letter["id"])
    assert shown.returncode == 0 and "no process 'poison_demo' is deployed" in shown.stdout
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 1
    queues = ztc(settings, "queues", "--json")
    assert queues.returncode == 0, queues.stderr
    by_name = {q["name"]: q for q in json.loads(queues.stdout)["queues"]}
    assert by_name[contracts.DEAD_QUEUE]["messages"] == 1
    assert by_name[contracts.DEAD_QUEUE]["oldest_age_seconds"] is not None
    assert by_name[contracts.ENGINE_STARTS_QUEUE]["dead_letters"] == 1
    assert by_name[contracts.ENGINE_STARTS_QUEUE]["consumers"] >= 1
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 1

    # Replaying before the fix would only kill it again: a dry run says what would go where.
    dry = ztc(settings, "dead-letters", "replay", "--all", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert [d["id"] for d in json.loads(dry.stdout)["matched"]] == [letter["id"]]
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 1

    # The fix: the missing process is deployed. Then the replay.
    system.engine.deploy(FIXED)
    replayed = ztc(settings, "dead-letters", "replay", letter["id"])
    assert replayed.returncode == 0, replayed.stderr
    assert "1 dead letter(s) replayed" in replayed.stdout
    [inst] = wait_for(lambda: _instances(system, "POISON-1"), message="the replayed command's instance")
    assert inst.process_id == "poison_demo"

    time.sleep(1.5)  # anything that would process it a second time has had its chance
    assert len(_instances(system, "POISON-1")) == 1
    with system.session("engine") as s:
        started = s.query(History).filter(History.instance_id == inst.id, History.action == "started").count()
    assert started == 1
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 0
    assert ready_count(settings.amqp_uri, contracts.ENGINE_STARTS_QUEUE) == 0
    again = ztc(settings, "dead-letters", "replay", "--all")
    assert again.returncode == 0 and "0 dead letter(s) replayed" in again.stdout
    gone = ztc(settings, "dead-letters", "replay", letter["id"])  # replayed already: no such letter now
    assert gone.returncode == 1 and f"no dead letter {letter['id']}" in gone.stderr
    nope = ztc(settings, "dead-letters", "discard", "nope", "--reason", "typo")
    assert nope.returncode == 1 and "no dead letter nope" in nope.stderr


def test_discarding_needs_a_reason_and_records_the_whole_letter(engine_only):
    settings = engine_only.settings
    for n in range(2):
        publish(
            settings.amqp_uri,
            contracts.MESSAGES_EXCHANGE,
            contracts.START_ROUTING_KEY,
            {"command_id": f"junk-{n}", "process_id": "nothing_like_it", "business_key": f"JUNK-{n}"},
        )
    letters = box(settings)
    wait_for(lambda: len(letters.list()) == 2, message="two dead letters")

    no_reason = ztc(settings, "dead-letters", "discard", "--all")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    nothing_chosen = ztc(settings, "dead-letters", "discard", "--reason", "test junk")
    assert nothing_chosen.returncode == 1 and "say which dead letters" in nothing_chosen.stderr
    dry = ztc(
        settings,
        "dead-letters",
        "discard",
        "--queue",
        contracts.ENGINE_STARTS_QUEUE,
        "--reason",
        "test junk",
        "--dry-run",
        "--json",
    )
    assert dry.returncode == 0 and len(json.loads(dry.stdout)["matched"]) == 2
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 2

    first = letters.list()[0]
    gone = ztc(settings, "dead-letters", "discard", first["id"], "--reason", "sent by a test script")
    assert gone.returncode == 0, gone.stderr
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 1
    [record] = [
        json.loads(line) for line in (settings.var_dir / "dead-letters-discarded.jsonl").read_text().splitlines()
    ]
    assert record["reason"] == "sent by a test script" and record["by"].startswith("ztc:")
    assert record["letter"]["id"] == first["id"] and record["letter"]["body"] == first["body"]


def test_reading_dead_letters_on_a_quorum_queue_many_times_loses_none(tmp_path, vhost, database_url_template):
    from shared.messaging import topology
    from tests.support import make_settings

    settings = make_settings(tmp_path, vhost, database_url_template, ZTC_QUEUE_TYPE="quorum")
    topology.declare(settings.amqp_uri, queue_type="quorum")
    for n in range(3):
        publish(
            settings.amqp_uri,
            contracts.DEAD_EXCHANGE,
            "intake.record_submission",
            {"n": n},
            headers={
                contracts.REASON_HEADER: f"test letter {n}",
                "x-ztc-original-queue": contracts.job_queue("intake"),
            },
        )
    letters = box(settings)
    first = letters.list()
    assert [d["body"]["n"] for d in first] == [0, 1, 2]
    for _ in range(25):  # more than RabbitMQ 4's default delivery limit of 20
        again = letters.list()
    assert [d["id"] for d in again] == [d["id"] for d in first]  # same letters, same order, same ids
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 3
    letters.discard("test letters", everything=True)
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 0
