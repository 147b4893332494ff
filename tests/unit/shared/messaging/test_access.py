"""Who may do what on the bus (shared/messaging/access.py), checked on the generated grants and
matrix without a broker (tests/integration/shared/messaging/test_amqp_permissions.py runs every row on a real one),
and the signatures of principals and jobs (shared/principal.py)."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from shared import config, contracts
from shared import principal as signing
from shared.messaging import access, identity

SETTINGS = config.load({})
ROWS = access.matrix(SETTINGS)
SERVICES = ("engine", "intake", "assignment", "supervision", "evaluation", "gateway")
OUTSIDERS = ("unit transport", "unit education", "member member.li")


def allowed(user, action, exchange="", key="", queue="") -> bool:
    [row] = [r for r in ROWS if (r.user, r.action, r.exchange, r.key, r.queue) == (user, action, exchange, key, queue)]
    return row.allowed


def who(action, exchange="", key="", queue="") -> set:
    return (
        {r.user for r in ROWS if (r.action, r.exchange, r.key, r.queue) == (action, exchange, key, queue) and r.allowed}
        if action == "publish" or action == "consume"
        else set()
    )


def test_a_unit_reads_only_its_own_queue_and_writes_only_its_own_commands():
    assert allowed("unit transport", "consume", queue="ztc.unit.transport")
    assert not allowed("unit transport", "consume", queue="ztc.unit.education")
    assert allowed("unit transport", "publish", contracts.UNIT_COMMANDS_EXCHANGE, "transport.sign")
    assert not allowed("unit transport", "publish", contracts.UNIT_COMMANDS_EXCHANGE, "education.submit_reply")
    assert not allowed("unit education", "publish", contracts.UNIT_COMMANDS_EXCHANGE, "transport.sign")
    mine = {(contracts.UNIT_COMMANDS_EXCHANGE, "transport.sign")}
    for row in ROWS:
        if row.user == "unit transport" and row.action == "publish" and (row.exchange, row.key) not in mine:
            assert not row.allowed, row  # no job, result, BPMN message, event, dead letter, RPC...
        if row.user in OUTSIDERS and row.action == "bind":
            assert not row.allowed, row  # no binding to ztc.jobs, ztc.units, ztc.events...


def test_an_app_only_submits_opinion_items():
    for row in ROWS:
        if row.user == "member member.li":
            expected = (row.action, row.exchange, row.key) == (
                "publish",
                contracts.MESSAGES_EXCHANGE,
                contracts.OPINION_SUBMIT_ROUTING_KEY,
            )
            assert row.allowed == expected, row


def test_only_the_engine_publishes_jobs_and_only_services_publish_results_messages_and_events():
    operator = {"operator"}  # replays dead letters to where they first went
    assert who("publish", contracts.JOBS_EXCHANGE, "intake.record_filing") == {"engine"} | operator
    assert (
        who("publish", contracts.RESULTS_EXCHANGE, contracts.RESULT_ROUTING_KEY)
        == {"intake", "assignment", "supervision", "evaluation"} | operator
    )
    assert (
        who("publish", contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY)
        == {"intake", "assignment", "evaluation"} | operator
    )  # the senders of shared/contracts/messages.py
    assert (
        who("publish", contracts.MESSAGES_EXCHANGE, contracts.START_ROUTING_KEY) == {"intake", "assignment"} | operator
    )
    assert (
        who("publish", contracts.EVENTS_EXCHANGE, "notify.received")
        == {"intake", "assignment", "supervision", "evaluation"} | operator
    )
    assert who("publish", contracts.UNITS_EXCHANGE, "transport.assignment.created") == {"assignment"} | operator


def test_nobody_binds_everything_of_the_jobs_units_events_or_rpc():
    owners = {contracts.DEAD_EXCHANGE: "operator", contracts.UNIT_COMMANDS_EXCHANGE: "assignment"}  # '#' is theirs
    for row in ROWS:
        if row.action == "bind" and row.key == "#" and owners.get(row.exchange) != row.user:
            assert not row.allowed, row
    for service in ("intake", "assignment", "supervision", "evaluation"):
        assert allowed(service, "bind", contracts.JOBS_EXCHANGE, f"{service}.#", contracts.job_queue(service))


def test_rpc_keeps_working_for_services_and_the_gateway():
    assert allowed("gateway", "publish", access.RPC_EXCHANGE, "intake.list")
    for service in ("engine", "intake", "assignment", "supervision", "evaluation"):
        # A service calls only the services its class has proxies for (supervision asks intake who
        # proposed what; intake asks evaluation about members), and answers on reply keys.
        grant, use = access.grant_for_label(SETTINGS, service), access.service_use(service)
        for target in ("engine", "intake", "assignment", "supervision", "evaluation"):
            assert grant.may_publish(access.RPC_EXCHANGE, f"{target}.ping") == (target in use.rpc_targets), (
                service,
                target,
            )
        assert allowed(service, "publish", access.RPC_EXCHANGE, "9b2f4c1e-5d6a-4e8b-9c0d-1a2b3c4d5e6f")  # replies
    assert access.service_use("supervision").rpc_targets == ("intake",)
    assert not access.grant_for_label(SETTINGS, "engine").may_publish(access.RPC_EXCHANGE, "intake.list")
    gateway = access.grant_for_label(SETTINGS, "gateway")
    reply = "rpc.reply-gateway-9b2f4c1e-5d6a-4e8b-9c0d-1a2b3c4d5e6f"
    assert gateway.may_bind(reply, access.RPC_EXCHANGE, "9b2f4c1e-5d6a-4e8b-9c0d-1a2b3c4d5e6f")
    assert not gateway.may_bind(reply, access.RPC_EXCHANGE, "#")
    assert gateway.may_consume(reply) and not gateway.may_consume(
        "rpc.reply-intake-9b2f4c1e-5d6a-4e8b-9c0d-1a2b3c4d5e6f"
    )
    intake = access.grant_for_label(SETTINGS, "intake")
    assert intake.may_bind("rpc-intake", access.RPC_EXCHANGE, "intake.*")
    assert not intake.may_bind("rpc-intake", access.RPC_EXCHANGE, "engine.*")


def test_every_user_has_a_topic_permission_on_every_topic_exchange():
    for grant in access.grants(SETTINGS, ["transport"], [("informant", "informant.he")]):
        assert {p["exchange"] for p in grant.topic_permissions()} == set(access.TOPIC_EXCHANGES)


def test_the_broker_users_are_named_from_the_prefix_and_classified_back():
    settings = config.load({"ZTC_BUS_USER_PREFIX": "zz-"})
    assert identity.classify("zz-engine", settings) == identity.Sender("zz-engine", "service", "engine")
    assert identity.classify("zz-operator", settings).kind == "operator"
    assert identity.classify("zz-unit-civil_affairs", settings) == identity.Sender(
        "zz-unit-civil_affairs", "unit", "civil_affairs"
    )
    assert identity.classify("zz-informant-informant.he", settings).name == "informant.he"
    assert identity.classify("ztc-engine", settings).kind == "unknown"
    assert identity.classify(None, settings).kind == "nobody"
    assert identity.classify("guest", settings, shared_user="guest").is_service()


def test_the_definitions_carry_the_users_without_passwords():
    doc = json.loads((config.ROOT / "deploy" / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    assert {u["name"] for u in doc["users"]} >= {"ztc-engine", "ztc-gateway", "ztc-operator", "ztc-unit-transport"}
    assert all(u["password_hash"] == "" for u in doc["users"])
    assert {p["user"] for p in doc["permissions"]} == {u["name"] for u in doc["users"]}


def test_the_security_document_has_the_generated_matrix():
    text = (config.ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert "## AMQP permissions" in text
    assert access.security_section(config.load({})) in text, (
        "docs/security.md is stale: run `python -m shared.messaging.access docs`"
    )


# -- signatures --------------------------------------------------------------------------------
KEY = b"k" * 40
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}


def test_a_signed_principal_verifies_and_anything_else_is_refused():
    good = signing.sign(STAFF, KEY, ttl=60)
    assert signing.verify(good, KEY) == STAFF
    assert signing.verify(json.loads(json.dumps(good)), KEY) == STAFF  # as it crosses the bus
    for bad, why in (
        (STAFF, "unsigned"),
        (None, "no principal"),
        ("staff.wang", "object"),
        ({**good, "roles": ["staff", "operator"]}, "badly signed"),
        ({**good, "unit": "transport"}, "badly signed"),
        (signing.sign(STAFF, b"x" * 40), "badly signed"),
        (signing.sign(STAFF, KEY, ttl=-1), "expired"),
        ({**good, "extra": 1}, "unknown fields"),
    ):
        with pytest.raises(signing.BadSignature, match=why):
            signing.verify(bad, KEY)


def test_a_sealed_job_unseals_and_a_changed_or_unsealed_one_is_refused():
    job = {
        "job_id": "j",
        "operation": "intake.record_filing",
        "params": {"decision": "not_filed", "x": 1.5},
        "principal": STAFF,
        "attempt": 1,
    }
    sealed = signing.seal(job, KEY, signing.JOB)
    assert signing.unseal(json.loads(json.dumps(sealed)), KEY, signing.JOB) == job
    for bad in (
        job,
        {**sealed, "params": {"decision": "filed", "x": 1.5}},
        {**sealed, "principal": {**STAFF, "roles": ["operator"]}},
        signing.seal(job, b"x" * 40, signing.JOB),
        signing.seal(job, KEY, "something else"),
    ):
        with pytest.raises(signing.BadSignature):
            signing.unseal(bad, KEY, signing.JOB)


def test_the_key_file_is_made_once_with_mode_600(tmp_path):
    settings = config.load({"ZTC_VAR_DIR": str(tmp_path)})
    key = signing.ensure_key_file(settings.bus_key_file)
    assert stat.S_IMODE(os.stat(settings.bus_key_file).st_mode) == 0o600
    assert signing.ensure_key_file(settings.bus_key_file) == key and len(key) >= 32
    assert signing.key_of(config.load({"ZTC_BUS_KEY": "from-the-environment-" * 2})) == b"from-the-environment-" * 2


def test_generated_passwords_are_kept_with_mode_600_and_the_environment_wins(tmp_path):
    settings = config.load({"ZTC_VAR_DIR": str(tmp_path), "ZTC_BUS_PASSWORD_ENGINE": "given"})
    first = access.local_passwords(settings, ["ztc-engine", "ztc-intake"])
    assert first["ztc-engine"] == "given" and len(first["ztc-intake"]) >= 24
    path = tmp_path / identity.CREDENTIALS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert access.local_passwords(settings, ["ztc-intake"]) == {"ztc-intake": first["ztc-intake"]}
    assert identity.local_operator_uri(settings) is None
    access.local_passwords(settings, ["ztc-operator"])
    assert identity.local_operator_uri(settings).startswith("amqp://ztc-operator:")


def test_amqps_uris_get_tls_options_with_the_ca():
    settings = config.load({"ZTC_AMQP_URI": "amqps://u:p@mq.example:5671/ztc", "ZTC_AMQP_CA_FILE": "/etc/ca.pem"})
    import ssl

    assert settings.amqp_ssl() == {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": "/etc/ca.pem"}
    assert settings.nameko_config()["AMQP_SSL"]["ca_certs"] == "/etc/ca.pem"
    assert config.load({}).amqp_ssl() is None and "AMQP_SSL" not in config.load({}).nameko_config()
    assert time.time()  # the expiry of signed principals is wall time, not the (skippable) domain clock
