"""The operators' HTTP routes and each service's /metrics, with the engine and the gateway
running on the real broker: every /api/ops route is refused to anyone but an operator, and does
for an operator what ``ztc`` does."""

from __future__ import annotations


import pytest
import requests

from services.gateway import tokens
from shared import contracts
from shared.db import migrate, session_factory, transaction
from tests.integration.conftest import System
from tests.support import free_port, make_settings, publish, ready_count, wait_for

DATA = {"title": "Repair the bus shelter", "unit": "transport", "reply_within": "P30D"}
MEMBER = {"user": "member.li", "roles": ["member"], "unit": None}
OPERATOR = {"user": "ops.sun", "roles": ["operator"], "unit": None}  # raw starts are for operators


@pytest.fixture
def ops(tmp_path, vhost, database_url_template):
    ports = {"gateway": free_port(), "engine": free_port(), "gateway_metrics": free_port()}
    settings = make_settings(
        tmp_path,
        vhost,
        database_url_template,
        ZTC_GATEWAY_PORT=str(ports["gateway"]),
        ZTC_METRICS_PORT_ENGINE=str(ports["engine"]),
        ZTC_METRICS_PORT_GATEWAY=str(ports["gateway_metrics"]),
        ZTC_READY_TIMEOUT_SECONDS="1",
    )
    migrate("gateway", settings.database_url("gateway"))
    with transaction(session_factory(settings.database_url("gateway"))) as s:
        keys = {
            "operator": tokens.issue(s, "ops.sun", ["operator"], None),
            "staff": tokens.issue(s, "staff.wang", ["staff"], None),
        }
    system = System(settings, ("engine", "gateway"))
    base = f"http://127.0.0.1:{settings.gateway_port}"

    def call(method, path, who="operator", json=None):
        return requests.request(
            method, base + path, headers={"Authorization": f"Bearer {keys[who]}"}, json=json, timeout=30
        )

    try:
        yield system, call, ports
    finally:
        system.stop()


def test_a_service_that_takes_requests_but_never_answers_is_named_after_the_ready_timeout(ops):
    """A frozen service: its queue is there and takes the ping, nothing answers. /ready and the
    operators' services page name it once ZTC_READY_TIMEOUT_SECONDS (1 here) has passed for all the
    pings together, not after the RPC timeout (60 s) for each."""
    from kombu import Connection, Exchange, Queue

    system, call, _ = ops
    with Connection(system.settings.amqp_uri) as conn:  # intake's RPC queue, as nameko declares it
        Queue("rpc-intake", Exchange("nameko-rpc", type="topic", durable=True), "intake.*", durable=True)(
            conn
        ).declare()
    ready = requests.get(f"http://127.0.0.1:{system.settings.gateway_port}/ready", timeout=30)
    assert ready.status_code == 503
    services = ready.json()["services"]
    assert services["engine"] == "ok"
    assert services["intake"] == ("RpcTimeout: intake did not answer a ping within 1s (ZTC_READY_TIMEOUT_SECONDS)")
    assert "UnknownService" in services["assignment"]  # no queue at all: said at once
    page = call("GET", "/api/ops/services").json()
    assert page["ready"] is False and page["services"]["intake"]["error"] == services["intake"]
    from services.gateway.routes.operators import ServicesAnswer
    from tests.support import conforms

    conforms(ServicesAnswer(), page)  # as the OpenAPI document says


ROUTES = [
    ("GET", "/api/ops/queues", None),
    ("GET", "/api/ops/dead-letters", None),
    ("POST", "/api/ops/dead-letters/replay", {"all": True}),
    ("POST", "/api/ops/dead-letters/discard", {"all": True, "reason": "x"}),
    ("POST", "/api/ops/instances/some-id/suspend", {}),
    ("POST", "/api/ops/instances/some-id/resume", None),
    ("POST", "/api/ops/instances/some-id/cancel", {"reason": "x"}),
    ("GET", "/api/ops/instances/some-id/where", None),
    ("POST", "/api/ops/instances/cancel", {"reason": "x", "business_key_prefix": "A"}),
    ("POST", "/api/ops/incidents/retry", {"dry_run": True}),
    ("GET", "/api/ops/services", None),
]


def test_operators_routes_refuse_everyone_else_and_act_for_operators(ops):
    system, call, ports = ops
    for method, path, body in ROUTES:
        refused = call(method, path, "staff", body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"] == "forbidden"

    queues = call("GET", "/api/ops/queues")
    assert queues.status_code == 200, queues.text
    names = {q["name"] for q in queues.json()["queues"]}
    assert {contracts.ENGINE_RESULTS_QUEUE, contracts.DEAD_QUEUE} <= names
    assert call("GET", "/api/ops/services").json()["services"]["engine"] == {"status": "ok"}
    ready = requests.get(f"http://127.0.0.1:{system.settings.gateway_port}/ready", timeout=30)
    assert ready.status_code == 503  # only the engine runs behind this gateway
    assert ready.json()["services"]["engine"] == "ok" and "UnknownService" in ready.json()["services"]["intake"]

    inst = system.rpc.engine.start("smoke", "OPS-1", DATA, OPERATOR)
    suspended = call("POST", f"/api/ops/instances/{inst['id']}/suspend", json={"reason": "looking into it"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    where = call("GET", f"/api/ops/instances/{inst['id']}/where").json()
    assert [t["operation"] for t in where["tokens"] if t["kind"] == "job"] == ["intake.record_submission"]
    again = call("POST", f"/api/ops/instances/{inst['id']}/suspend", json={})
    assert again.status_code == 409
    assert call("POST", f"/api/ops/instances/{inst['id']}/resume").json()["status"] == "waiting"
    no_reason = call("POST", f"/api/ops/instances/{inst['id']}/cancel", json={})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["details"]
    assert call("POST", "/api/ops/instances/missing/cancel", json={"reason": "x"}).status_code == 404

    system.rpc.engine.start("smoke", "OPS-2", DATA, OPERATOR)
    dry = call(
        "POST", "/api/ops/instances/cancel", json={"reason": "test", "business_key_prefix": "OPS-", "dry_run": True}
    ).json()
    assert dry["dry_run"] is True and len(dry["matched"]) == 2 and dry["done"] == []
    done = call("POST", "/api/ops/instances/cancel", json={"reason": "test", "business_key_prefix": "OPS-"}).json()
    assert len(done["done"]) == 2
    assert system.rpc.engine.get_instance(inst["id"])["status"] == "cancelled"

    # The engine's figures, served on its own metrics port.
    engine_metrics = requests.get(f"http://127.0.0.1:{ports['engine']}/metrics", timeout=10).text
    assert 'ztc_instances{process="smoke",state="cancelled"} 2.0' in engine_metrics
    assert 'ztc_outbox_backlog{service="engine"}' in engine_metrics
    gateway_metrics = requests.get(f"http://127.0.0.1:{ports['gateway_metrics']}/metrics", timeout=10).text
    assert 'ztc_outbox_backlog{service="gateway"}' in gateway_metrics


def test_dead_letters_over_http_are_listed_replayed_and_discarded_with_a_reason(ops):
    system, call, ports = ops
    settings = system.settings
    publish(
        settings.amqp_uri,
        contracts.MESSAGES_EXCHANGE,
        contracts.START_ROUTING_KEY,
        {"command_id": "c-http-1", "process_id": "not_deployed", "business_key": "DL-1"},
    )
    letters = wait_for(lambda: call("GET", "/api/ops/dead-letters").json(), message="the dead letter")
    [letter] = letters
    assert "no process 'not_deployed'" in letter["reason"]
    assert (letter["reason_kind"], letter["attempts"]) == ("refused", 1)
    assert call("GET", f"/api/ops/dead-letters/{letter['id']}").json()["body"]["command_id"] == "c-http-1"
    assert call("GET", "/api/ops/dead-letters/nope").status_code == 404
    assert call("POST", "/api/ops/dead-letters/replay", json={}).status_code == 400
    # Retrying incidents names its choice too: an empty body no longer retries every one.
    unsaid = call("POST", "/api/ops/incidents/retry", json={})
    assert unsaid.status_code == 400 and "all" in unsaid.json()["details"], unsaid.text
    every = call("POST", "/api/ops/incidents/retry", json={"all": True})
    assert every.status_code == 200 and every.json()["dry_run"] is False, every.text
    dry = call("POST", "/api/ops/dead-letters/replay", json={"all": True, "dry_run": True}).json()
    assert [d["id"] for d in dry["matched"]] == [letter["id"]] and dry["replayed"] == []
    # An id no dead letter has is named, not passed over as done.
    mistyped = call("POST", "/api/ops/dead-letters/replay", json={"ids": ["nope", letter["id"]], "dry_run": True})
    assert mistyped.status_code == 200 and mistyped.json()["unknown"] == ["nope"], mistyped.text
    none = call("POST", "/api/ops/dead-letters/discard", json={"ids": ["nope"], "reason": "x", "dry_run": True})
    assert none.json()["unknown"] == ["nope"] and none.json()["matched"] == []
    assert call("POST", "/api/ops/dead-letters/discard", json={"all": True}).status_code == 400
    gone = call(
        "POST", "/api/ops/dead-letters/discard", json={"ids": [letter["id"]], "reason": "a test command"}
    ).json()
    assert [d["id"] for d in gone["discarded"]] == [letter["id"]]
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 0
    assert "a test command" in (settings.var_dir / "dead-letters-discarded.jsonl").read_text()
    engine_metrics = requests.get(f"http://127.0.0.1:{ports['engine']}/metrics", timeout=10).text
    assert (
        f'ztc_dead_letters_total{{kind="refused",queue="{contracts.ENGINE_STARTS_QUEUE}",service="engine"}}'
        in engine_metrics
    )
