"""Members' performance points on the real RabbitMQ and a real database: domain events published
on ``ztc.events`` reach the evaluation service's events queue and become ledger entries once;
attendance recorded over RPC leaves through the outbox as ``attendance.recorded`` and comes back
to the ledger as an event; a malformed event is dead-lettered with its reason and books nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from kombu import Connection
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import select

from services.evaluation.points.directory import ensure_members
from services.evaluation.points.models import HeardEvent, LedgerEntry
from services.evaluation.points.rules import RulebookPointsRules
from services.evaluation.service import EvaluationService
from services.evaluation.unit_of_work import SqlEvaluationUnitOfWork
from shared import clock, contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import Forbidden
from shared.messaging import topology
from tests.support import SigningRpc, get_messages, publish, ready_count, wait_for

pytestmark = pytest.mark.integration

STAFF = {"user": "staff.wang", "roles": ["staff"]}
LI = {"user": "member.li", "roles": ["member"]}
ZHOU = {"user": "member.zhou", "roles": ["member"]}


@pytest.fixture
def evaluation(settings):
    migrate("evaluation", settings.database_url("evaluation"))
    topology.declare(settings.amqp_uri)
    sessions = session_factory(settings.database_url("evaluation"))
    with transaction(sessions) as s:
        ensure_members(
            SqlEvaluationUnitOfWork(s),
            RulebookPointsRules(),
            [
                {"user": "member.li", "name": "李明华", "sector": "中国民主同盟"},
                {"user": "member.zhou", "name": "周雅琴", "sector": "教育界"},
            ],
        )
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(EvaluationService)
    runner.start()
    rpc_cluster = ClusterRpcProxy(settings.nameko_config())
    rpc = SigningRpc(rpc_cluster.start(), settings)
    wait_for(lambda: _consuming(settings.amqp_uri), message="evaluation consuming its events queue")
    try:
        yield sessions, rpc
    finally:
        rpc_cluster.stop()
        runner.stop()
        dispose_all()


def _consuming(amqp_uri):
    try:
        with Connection(amqp_uri) as conn:
            _, _, consumers = conn.default_channel.queue_declare(
                queue=contracts.events_queue("evaluation"), passive=True
            )
            return consumers > 0
    except Exception:  # not declared yet
        return False


def event(name, members, subject, thread=None, **payload):
    return contracts.EventSchema().dump(
        contracts.EventSchema().load(
            {
                "event_id": f"{name}:{subject}:{uuid.uuid4().hex[:8]}",
                "name": name,
                "occurred_at": clock.now().isoformat(),
                "subject": subject,
                "thread": thread,
                "members": members,
                "payload": payload,
            }
        )
    )


def send(settings, body):
    publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, body.get("name", "opinion.x"), body)


def entries(sessions, member="member.li"):
    with transaction(sessions) as s:
        return [
            (e.kind, e.activity, e.points, e.event_id)
            for e in s.scalars(select(LedgerEntry).where(LedgerEntry.member == member).order_by(LedgerEntry.id))
        ]


def heard(sessions):
    with transaction(sessions) as s:
        return {h.event_id for h in s.scalars(select(HeardEvent))}


@pytest.mark.both_databases
def test_a_thread_of_real_events_counts_its_authorship_once_and_a_redelivery_nothing(settings, evaluation):
    sessions, rpc = evaluation
    thread = "WX-2026-0001"
    taken = event("consultation.case_taken", [{"member": "member.li", "role": "member"}], "WX-2026-0001", thread)
    submitted = event("opinion.submitted", [{"member": "member.li", "role": "author"}], "SQ-2026-0001", thread)
    filed = event(
        "proposal.filed",
        [{"member": "member.li", "role": "lead"}, {"member": "member.zhou", "role": "co"}],
        "2026-0001",
        thread,
        number="2026-0001",
    )
    for body in (taken, submitted, filed):  # in the order they happened
        send(settings, body)
        wait_for(lambda body=body: body["event_id"] in heard(sessions), message=f"{body['name']} heard")
    for body in (filed, submitted):  # redeliveries
        send(settings, body)
    marker = event("opinion.adopted", [{"member": "member.zhou", "role": "author"}], "SQ-2026-0099")
    send(settings, marker)  # the queue keeps order: once this one is in, the repeats were handled
    wait_for(lambda: marker["event_id"] in heard(sessions), message="the marker")

    assert entries(sessions) == [
        ("earned", "consultation_case_taken", 2, taken["event_id"]),
        ("earned", "opinion_submitted", 5, submitted["event_id"]),
        ("adjustment", "opinion_submitted", -5, filed["event_id"]),
        ("earned", "proposal_lead", 15, filed["event_id"]),
    ]
    assert [e[:3] for e in entries(sessions, "member.zhou")] == [
        ("earned", "proposal_co", 3),
        ("earned", "opinion_adopted", 10),
    ]
    file = rpc.evaluation.performance_file("member.li", "2026", principal=LI)
    assert file["total"] == 17
    assert {e["event"]["event_id"] for e in file["entries"]} == {
        taken["event_id"],
        submitted["event_id"],
        filed["event_id"],
    }
    with pytest.raises(Forbidden):
        rpc.evaluation.performance_file("member.li", "2026", principal=ZHOU)
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 0


@pytest.mark.both_databases
def test_events_of_one_thread_arriving_together_still_count_its_authorship_once(settings, evaluation):
    """The listener works on several messages at once: bookings for one member must not interleave."""
    sessions, rpc = evaluation
    threads = [f"WX-2026-01{n:02d}" for n in range(8)]
    bodies = []
    for thread in threads:
        bodies += [
            event("opinion.submitted", [{"member": "member.li", "role": "author"}], f"SQ-{thread}", thread),
            event("opinion.submitted", [{"member": "member.li", "role": "author"}], f"SQ2-{thread}", thread),
            event("proposal.filed", [{"member": "member.li", "role": "lead"}], f"P-{thread}", thread),
        ]
    with Connection(settings.amqp_uri) as conn:  # all at once, on one connection
        producer = conn.Producer()
        for body in bodies:
            producer.publish(
                body, exchange=contracts.EVENTS_EXCHANGE, routing_key=body["name"], serializer="json", delivery_mode=2
            )
    wait_for(lambda: {b["event_id"] for b in bodies} <= heard(sessions), message="every event heard")
    with transaction(sessions) as s:
        rows = list(s.scalars(select(LedgerEntry).where(LedgerEntry.member == "member.li")))
        for thread in threads:
            mine = [r for r in rows if r.thread == thread]
            assert sum(r.points for r in mine) == 15, [(r.kind, r.activity, r.points) for r in mine]
            holders = [r for r in mine if r.exclusive_key and r.superseded_by is None]
            assert [(h.activity, h.points) for h in holders] == [("proposal_lead", 15)]


def test_attendance_recorded_over_rpc_reaches_the_ledger_as_an_event(settings, evaluation, vhost):
    sessions, rpc = evaluation
    record = rpc.evaluation.record_attendance(
        {
            "kind": "plenary",
            "title": "市政协全体会议",
            "held_on": "2026-01-20",
            "half_days": 4,
            "present": ["member.li"],
            "absent": ["member.zhou"],
        },
        principal=STAFF,
    )
    wait_for(lambda: record["event_id"] in heard(sessions), message="attendance.recorded heard")
    assert entries(sessions) == [("earned", "plenary_attendance", 20, record["event_id"])]
    assert entries(sessions, "member.zhou") == [("earned", "plenary_absence", -10, record["event_id"])]
    with pytest.raises(Forbidden):
        rpc.evaluation.record_attendance(
            {"kind": "plenary", "title": "x", "held_on": "2026-01-20", "present": ["member.li"]}, principal=LI
        )


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (lambda b: b.pop("subject"), "subject"),
        (lambda b: b.update(members=[{"role": "lead"}]), "member"),
        (lambda b: b.update(occurred_at="2019-06-01T00:00:00+00:00"), "outside every term"),
    ],
)
def test_a_malformed_event_is_dead_lettered_with_its_reason_and_books_nothing(
    settings, evaluation, vhost, spoil, reason
):
    sessions, rpc = evaluation
    bad = event("opinion.submitted", [{"member": "member.li", "role": "author"}], "SQ-BAD")
    spoil(bad)
    send(settings, bad)

    def dead():
        return [
            m
            for m in get_messages(vhost, contracts.DEAD_QUEUE)
            if json.loads(m["payload"]).get("event_id") == bad["event_id"]
        ]

    letter = wait_for(dead, message="the malformed event in ztc.dead")[0]
    said = letter["properties"]["headers"][contracts.REASON_HEADER]
    assert "invalid_input" in said and reason in said
    assert entries(sessions) == [] and bad["event_id"] not in heard(sessions)
