"""``ztc units credentials`` and ``ztc apps credentials`` on the real broker: issued once (printed,
kept nowhere), refused a second time, rotated (the old password stops working), and the user
gets exactly the permissions of shared/messaging/access.py."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection

from services.assignment.operations import ensure_units
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from shared import contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging import access, identity
from tests import support
from tests.support import publish, ztc


@pytest.fixture
def broker(settings):
    migrate("assignment", settings.database_url("assignment"))
    with transaction(session_factory(settings.database_url("assignment"))) as s:
        ensure_units(SqlAssignmentUnitOfWork(s), {"transport": "Municipal Transport Bureau"})
    from services.evaluation.points.models import Member

    migrate("evaluation", settings.database_url("evaluation"))
    with transaction(session_factory(settings.database_url("evaluation"))) as s:
        s.add(Member(user="member.li", name="李明", sector="经济界", terms=[], added_at=datetime.now(timezone.utc)))
    from shared.messaging import topology

    topology.declare(settings.amqp_uri)
    yield settings
    support.delete_users_with_prefix(settings.bus_user_prefix)
    dispose_all()


def test_an_apps_credentials_are_issued_once_rotated_and_allow_only_submitting(broker):
    settings = broker
    issued = ztc(settings, "apps", "credentials", "issue", "member.li", "--role", "member", "--json")
    assert issued.returncode == 0, issued.stderr
    creds = json.loads(issued.stdout)
    assert creds["user"] == identity.submitter_user(settings, "member", "member.li")
    assert creds["permissions"] == access.submitter_grant(settings, "member", "member.li").permission()
    assert ztc(settings, "apps", "credentials", "issue", "member.li", "--role", "member").returncode != 0
    publish(
        creds["amqp_uri"],
        contracts.MESSAGES_EXCHANGE,
        contracts.OPINION_SUBMIT_ROUTING_KEY,
        {"reference": "r-1", "item": {}},
        user_id=creds["user"],
    )
    with pytest.raises(AccessRefused):
        publish(
            creds["amqp_uri"], contracts.MESSAGES_EXCHANGE, contracts.MESSAGE_ROUTING_KEY, {}, user_id=creds["user"]
        )
    rotated = json.loads(
        ztc(settings, "apps", "credentials", "rotate", "member.li", "--role", "member", "--json").stdout
    )
    assert rotated["password"] != creds["password"]
    with pytest.raises(AccessRefused):
        with Connection(creds["amqp_uri"], connect_timeout=5) as conn:
            conn.connect()
    publish(
        rotated["amqp_uri"],
        contracts.MESSAGES_EXCHANGE,
        contracts.OPINION_SUBMIT_ROUTING_KEY,
        {"reference": "r-2", "item": {}},
        user_id=rotated["user"],
    )


def test_an_app_is_for_a_member_of_the_directory_or_an_informant_with_a_login_id(broker):
    settings = broker
    stranger = ztc(settings, "apps", "credentials", "issue", "nobody.here", "--role", "member")
    assert stranger.returncode != 0 and "no member 'nobody.here' in the members directory" in stranger.stderr
    bad_id = ztc(settings, "apps", "credentials", "issue", "a b/c", "--role", "informant")
    assert bad_id.returncode != 0 and "is not a login id" in bad_id.stderr
    informant = ztc(settings, "apps", "credentials", "issue", "informant.he", "--role", "informant", "--json")
    assert informant.returncode == 0, informant.stderr
    assert json.loads(informant.stdout)["user"] == identity.submitter_user(settings, "informant", "informant.he")


def test_a_units_credentials_need_the_unit_in_the_directory_and_come_with_its_queue(broker):
    settings = broker
    unknown = ztc(settings, "units", "credentials", "issue", "nowhere")
    assert unknown.returncode != 0 and "no unit 'nowhere'" in unknown.stderr
    assert ztc(settings, "units", "credentials", "rotate", "transport").returncode != 0  # nothing to rotate yet
    creds = json.loads(ztc(settings, "units", "credentials", "issue", "transport", "--json").stdout)
    with Connection(creds["amqp_uri"], connect_timeout=5) as conn:
        assert conn.default_channel.queue_declare(queue=contracts.unit_queue("transport"), passive=True)
        with pytest.raises(AccessRefused):
            conn.default_channel.basic_get(contracts.DEAD_QUEUE)
