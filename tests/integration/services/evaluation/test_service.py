"""The evaluation service on the real RabbitMQ and a real database: the engine opens a rating round
with a job, proposers rate over RPC, and the last rating sends ``ratings_complete`` to the engine's
message queue. Someone who is not a proposer is refused and sends nothing."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select

from services.evaluation.models import Outbox, Rating
from services.evaluation.service import EvaluationService
from shared import contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import Conflict, Forbidden, NotFound
from shared.messaging import topology
from tests.support import sealed_job, SigningRpc, get_messages, publish, wait_for

pytestmark = pytest.mark.integration

NUMBER = "2027-0042"
LI = {"user": "member.li", "roles": ["member"]}
ZHAO = {"user": "member.zhao", "roles": ["member"]}
STAFF = {"user": "staff.wang", "roles": ["staff"]}
OTHER_MEMBER = {"user": "member.wu", "roles": ["member"]}


class Evaluation:
    """EvaluationService running in this process, and an RPC client for it."""

    def __init__(self, settings, vhost):
        self.settings, self.vhost = settings, vhost
        migrate("evaluation", settings.database_url("evaluation"))
        topology.declare(settings.amqp_uri)
        self.runner = ServiceRunner(settings.nameko_config())
        self.runner.add_service(EvaluationService)
        self.runner.start()
        self._rpc = ClusterRpcProxy(settings.nameko_config())
        self.rpc = SigningRpc(self._rpc.start(), settings)

    def stop(self):
        try:
            self._rpc.stop()
        finally:
            self.runner.stop()
            dispose_all()

    def run_job(self, operation, params):
        """Send a job as the engine does and wait for its result on the engine's results queue."""
        job_id = uuid.uuid4().hex
        publish(
            self.settings.amqp_uri,
            contracts.JOBS_EXCHANGE,
            operation,
            sealed_job(
                {
                    "job_id": job_id,
                    "instance_id": "instance-1",
                    "task_id": "task-1",
                    "operation": operation,
                    "params": params,
                    "attempt": 1,
                    "business_key": params.get("number"),
                },
                self.settings,
            ),
        )
        results = wait_for(
            lambda: get_messages(self.vhost, contracts.ENGINE_RESULTS_QUEUE), message=f"the result of {operation}"
        )
        [result] = [json.loads(m["payload"]) for m in results]
        assert (result["job_id"], result["status"]) == (job_id, "ok"), result
        return result["result"]

    def engine_messages(self, at_least):
        """Every message on the engine's queue, taken once ``at_least`` arrived and the relay had
        two more cycles to send any others (each commit wakes it at once)."""
        taken = []

        def take():
            queue = contracts.ENGINE_MESSAGES_QUEUE
            taken.extend(json.loads(m["payload"]) for m in get_messages(self.vhost, queue))
            return len(taken) >= at_least

        wait_for(take, message=f"{at_least} message(s) for the engine")
        time.sleep(2 * self.settings.relay_interval_seconds)
        take()
        return taken

    def count(self, query):
        with transaction(session_factory(self.settings.database_url("evaluation"))) as s:
            return s.scalar(query)


@pytest.fixture
def evaluation(settings, vhost):
    running = Evaluation(settings, vhost)
    yield running
    running.stop()


def test_the_last_proposer_rating_over_rpc_closes_the_round_and_tells_the_engine(evaluation):
    opened = evaluation.run_job("evaluation.open_rating", {"number": NUMBER, "proposers": ["member.li", "member.zhao"]})
    assert opened["round"] == 1 and opened["due"]

    first = evaluation.rpc.evaluation.rate(NUMBER, "satisfied", "satisfied", "thank you", principal=LI)
    last = evaluation.rpc.evaluation.rate(
        NUMBER, "basically_satisfied", "unsatisfied", "not yet solved", principal=ZHAO
    )
    assert (first["round_closed"], last["round_closed"]) == (False, True)

    [message] = evaluation.engine_messages(at_least=1)
    assert (message["name"], message["correlation_key"], message["message_id"]) == (
        "ratings_complete",
        NUMBER,
        f"ratings-{NUMBER}-1",
    )
    assert message["payload"]["round"] == 1 and message["payload"]["rehandle"] is True
    assert [r["rater"] for r in message["payload"]["ratings"]] == ["member.li", "member.zhao"]
    [round_seen_by_staff] = evaluation.rpc.evaluation.ratings(NUMBER, principal=STAFF)["rounds"]
    assert round_seen_by_staff["outcome"] == "rehandle"


@pytest.mark.parametrize(
    "someone_else, refusal", [(STAFF, Forbidden), (OTHER_MEMBER, NotFound)], ids=["staff", "other_member"]
)
def test_rating_as_someone_else_is_refused_and_sends_nothing(evaluation, someone_else, refusal):
    evaluation.run_job("evaluation.open_rating", {"number": NUMBER, "proposers": ["member.li"]})

    with pytest.raises(refusal):  # another member: 404, as for a proposal with no round open
        evaluation.rpc.evaluation.rate(NUMBER, "unsatisfied", "unsatisfied", None, principal=someone_else)
    assert evaluation.count(select(func.count()).select_from(Rating)) == 0
    assert (
        evaluation.count(
            select(func.count()).select_from(Outbox).where(Outbox.routing_key == contracts.MESSAGE_ROUTING_KEY)
        )
        == 0
    )

    # The proposer's own rating then closes the round: the only message the engine gets is that one.
    evaluation.rpc.evaluation.rate(NUMBER, "satisfied", "satisfied", None, principal=LI)
    [message] = evaluation.engine_messages(at_least=1)
    assert message["payload"]["rehandle"] is False
    assert [r["rater"] for r in message["payload"]["ratings"]] == ["member.li"]


@pytest.mark.both_databases
def test_proposers_rating_at_the_same_time_close_the_round_once(evaluation):
    proposers = [{"user": f"member.{i}", "roles": ["member"]} for i in range(6)]
    evaluation.run_job("evaluation.open_rating", {"number": NUMBER, "proposers": [p["user"] for p in proposers]})

    calls = [
        evaluation.rpc.evaluation.rate.call_async(NUMBER, "satisfied", "satisfied", None, principal=p)
        for p in proposers
    ]
    closed = [call.result()["round_closed"] for call in calls]

    assert closed.count(True) == 1
    [message] = evaluation.engine_messages(at_least=1)
    assert sorted(r["rater"] for r in message["payload"]["ratings"]) == [p["user"] for p in proposers]


def test_when_the_rating_window_ends_the_silent_proposer_is_not_given_and_the_engine_is_told(evaluation):
    evaluation.run_job("evaluation.open_rating", {"number": NUMBER, "proposers": ["member.li", "member.zhao"]})
    evaluation.rpc.evaluation.rate(NUMBER, "satisfied", "basically_satisfied", None, principal=LI)

    closed = evaluation.run_job("evaluation.close_rating", {"number": NUMBER, "round": 1})

    assert (closed["closed"], closed["outcome"], closed["not_given"]) == (True, "accepted", ["member.zhao"])
    [message] = evaluation.engine_messages(at_least=1)
    assert (message["name"], message["message_id"]) == ("ratings_complete", f"ratings-{NUMBER}-1")
    assert message["payload"]["not_given"] == ["member.zhao"]
    assert [r["rater"] for r in message["payload"]["ratings"]] == ["member.li"]
    with pytest.raises(Conflict):
        evaluation.rpc.evaluation.rate(NUMBER, "satisfied", "satisfied", None, principal=ZHAO)
