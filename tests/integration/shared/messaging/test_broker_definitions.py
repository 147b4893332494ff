"""deploy/rabbitmq/definitions.json loaded into a real broker (a throwaway vhost, through the
management API) is what the services declare: a queue declared with other arguments than the
broker has is refused with PRECONDITION_FAILED, so a process that declares everything it uses
without error proves the two agree.

The services' declarations are made in a fresh process with ``ZTC_QUEUE_TYPE`` set, so the
``@listen`` queues are built at import exactly as in a service process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
from amqp.exceptions import AccessRefused, PreconditionFailed
from kombu import Connection

from shared import config, contracts
from shared.db import migrate
from shared.messaging import definitions, topology
from tests import support

DECLARE_EVERYTHING = """
import sys
from kombu import Connection
from shared.messaging import topology

uri = sys.argv[1]
topology.declare(uri, units=topology.seeded_units())          # what the launcher and assignment declare
with Connection(uri) as conn:
    channel = conn.channel()
    for queue in topology.listened_queues():                   # what each @listen declares when it consumes
        queue(channel).declare()
print("declared", len(topology.listened_queues()))
"""


def _settings(tmp_path, vhost, **env):
    return support.make_settings(tmp_path, vhost, f"sqlite:///{tmp_path}/{{service}}.db", **env)


def _env(settings, queue_type):
    env = dict(os.environ)
    env.update(support.settings_env(settings))
    env["ZTC_QUEUE_TYPE"] = queue_type
    return env


def _declare_as_the_services(settings, queue_type):
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", DECLARE_EVERYTHING, settings.amqp_uri],
        cwd=config.ROOT,
        env=_env(settings, queue_type),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _broker_queues(vhost):
    resp = requests.get(f"{support.RABBIT_API}/queues/{vhost}", auth=support.RABBIT_AUTH, timeout=10)
    resp.raise_for_status()
    return {q["name"]: q for q in resp.json()}


def test_committed_quorum_definitions_load_and_match_the_services(tmp_path, vhost):
    settings = _settings(tmp_path, vhost, ZTC_QUEUE_TYPE="quorum")
    document = json.loads(definitions.DEFINITIONS_FILE.read_text(encoding="utf-8"))
    definitions.load_definitions(settings, document)

    queues = _broker_queues(vhost)
    assert set(queues) == {q["name"] for q in document["queues"]}
    assert {q["type"] for q in queues.values()} == {"quorum"}

    done = _declare_as_the_services(settings, "quorum")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("declared")
    # Declaring added nothing the definitions lacked.
    assert set(_broker_queues(vhost)) == set(queues)

    # The broker applies the at-least-once dead-lettering policy to the quorum queues.
    support.wait_for(
        lambda: _broker_queues(vhost)[contracts.job_queue("intake")].get("policy") == "ztc-dead-letters-at-least-once",
        timeout=30,
        message="the policy applied",
    )


def test_a_process_with_the_other_queue_type_is_refused(tmp_path, vhost):
    """The check has teeth: a service left on classic queues cannot declare against the cluster's."""
    settings = _settings(tmp_path, vhost)
    definitions.load_definitions(settings, definitions.definitions(queue_type="quorum"))
    with Connection(settings.amqp_uri) as conn:
        with pytest.raises(PreconditionFailed, match="x-queue-type"):
            topology.job_queue("intake", "classic")(conn.channel()).declare()
    done = _declare_as_the_services(settings, "classic")
    assert done.returncode != 0 and "PRECONDITION_FAILED" in done.stderr


def test_classic_definitions_match_the_default_services(tmp_path, vhost):
    settings = _settings(tmp_path, vhost)
    definitions.load_definitions(settings, definitions.definitions(queue_type="classic"))
    assert {q["type"] for q in _broker_queues(vhost).values()} == {"classic"}
    done = _declare_as_the_services(settings, "classic")
    assert done.returncode == 0, done.stderr[-3000:]


def test_load_command_imports_into_the_vhost_of_the_amqp_uri(tmp_path, vhost):
    settings = _settings(tmp_path, vhost, ZTC_QUEUE_TYPE="quorum")
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "shared.messaging.definitions", "load"],
        cwd=config.ROOT,
        env=_env(settings, "quorum"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _broker_queues(vhost)[contracts.OPINION_SUBMISSIONS_QUEUE]["type"] == "quorum"


def test_a_service_consumes_and_dead_letters_on_quorum_queues(tmp_path, vhost):
    """A real service process (the runner the containers run) on the cluster's definitions: it
    consumes its quorum queue and dead-letters a refused message with its reason."""
    settings = _settings(tmp_path, vhost, ZTC_QUEUE_TYPE="quorum")
    definitions.load_definitions(settings, json.loads(definitions.DEFINITIONS_FILE.read_text(encoding="utf-8")))
    migrate("intake", settings.database_url("intake"))
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "services.runner", "intake"],
        cwd=config.ROOT,
        env=_env(settings, "quorum"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        support.wait_for(
            lambda: (
                proc.poll() is not None
                or _broker_queues(vhost)[contracts.OPINION_SUBMISSIONS_QUEUE].get("consumers", 0) >= 1
            ),
            timeout=60,
            message="intake consuming its opinion queue",
        )
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        support.publish(
            settings.amqp_uri,
            contracts.MESSAGES_EXCHANGE,
            contracts.OPINION_SUBMIT_ROUTING_KEY,
            {"not": "an opinion item"},
        )
        support.wait_for(
            lambda: support.ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 1,
            timeout=30,
            message="the refused item in ztc.dead",
        )
        [dead] = support.get_messages(vhost, contracts.DEAD_QUEUE)
        assert dead["properties"]["headers"][contracts.REASON_HEADER]
        assert support.ready_count(settings.amqp_uri, contracts.OPINION_SUBMISSIONS_QUEUE) == 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.postgresql_only
def test_prepare_readies_databases_broker_diagrams_and_seed_twice_over(tmp_path, vhost, database_url_template):
    """deploy/docker/prepare.py, what the compose `migrate` service and the Kubernetes Job run (on
    PostgreSQL, as those deployments do; the same preparation on SQLite is the launcher's, which
    every e2e system on SQLite starts with)."""
    settings = support.make_settings(tmp_path, vhost, database_url_template, ZTC_QUEUE_TYPE="quorum")
    env = _env(settings, "quorum")
    passwords = {n: f"{n}-secret" for n in (*config.SERVICES, config.OPERATOR)}
    env.update({f"ZTC_BUS_PASSWORD_{n.upper()}": p for n, p in passwords.items()})
    script = str(config.ROOT / "deploy" / "docker" / "prepare.py")
    missing = subprocess.run(
        [sys.executable, "-W", "ignore", script, "--wait", "10"],
        cwd=config.ROOT,
        env={**env, "ZTC_BUS_PASSWORD_ENGINE": ""},
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert missing.returncode != 0 and "ZTC_BUS_PASSWORD_ENGINE" in missing.stderr
    try:
        _prepare_twice(settings, env, script, passwords, vhost)
    finally:
        support.delete_users_with_prefix(settings.bus_user_prefix)


def _prepare_twice(settings, env, script, passwords, vhost):
    from kombu import Connection

    from shared.messaging import identity

    first = subprocess.run(
        [sys.executable, "-W", "ignore", script, "--wait", "10"],
        cwd=config.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "diagram proposal.bpmn" in first.stdout and "(new)" in first.stdout
    assert f"unit directory: {len(topology.seeded_units())} units added" in first.stdout
    assert "ready for the services" in first.stdout
    queues = _broker_queues(vhost)
    assert {q["type"] for q in queues.values()} == {"quorum"}
    assert contracts.unit_queue("transport") in queues

    again = subprocess.run(
        [sys.executable, "-W", "ignore", script, "--wait", "10"],
        cwd=config.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "(new)" not in again.stdout and "unit directory: 0 units added" in again.stdout
    assert "members directory: 0 members added" in again.stdout
    # Every service's broker user works with its password (twice installed, still the same); a
    # unit's exists, with its permissions, but cannot log in until its credentials are issued.
    for service in config.SERVICES:
        own = identity.for_service(settings.__class__(**{**settings.__dict__, "bus_passwords": passwords}), service)
        with Connection(own.amqp_uri, connect_timeout=5) as conn:
            conn.connect()
    resp = requests.get(
        f"{support.RABBIT_API}/permissions/{vhost}/{identity.unit_user(settings, 'transport')}",
        auth=support.RABBIT_AUTH,
        timeout=10,
    )
    assert resp.json()["read"] == r"^(ztc\.unit\.transport)$"
    with pytest.raises(AccessRefused):
        with Connection(
            identity.with_user(settings.amqp_uri, identity.unit_user(settings, "transport"), ""), connect_timeout=5
        ) as conn:
            conn.connect()


@pytest.mark.both_databases
def test_wait_for_holds_a_service_until_its_database_is_migrated(tmp_path, vhost, database_url_template):
    """The Kubernetes init container: it waits (and fails after --wait) until `prepare` migrated."""
    settings = support.make_settings(tmp_path, vhost, database_url_template)
    script = str(config.ROOT / "deploy" / "docker" / "prepare.py")
    env = _env(settings, "classic")

    def wait_for(service):
        return subprocess.run(
            [sys.executable, "-W", "ignore", script, "--wait-for", service, "--wait", "1"],
            cwd=config.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    waited = wait_for("intake")
    assert waited.returncode == 1 and "gave up" in waited.stdout
    migrate("intake", settings.database_url("intake"))
    done = wait_for("intake")
    assert done.returncode == 0 and "at the newest migration" in done.stdout, done.stdout + done.stderr
