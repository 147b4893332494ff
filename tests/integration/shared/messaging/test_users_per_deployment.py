"""Broker users belong to the whole broker, not to a vhost: a second deployment on the same broker
(its own vhost) with the same user prefix would change the first one's passwords under it. The
install refuses instead, names the users and says what to do, and the first deployment keeps
working."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection

from shared.messaging import access, identity
from tests import support


@pytest.fixture
def two_vhosts():
    with support.rabbit_vhost() as first, support.rabbit_vhost() as second:
        yield first, second


def test_a_second_deployment_with_the_same_user_names_is_refused_and_the_first_keeps_its_passwords(
    tmp_path, two_vhosts
):
    first_vhost, second_vhost = two_vhosts
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    first = support.make_settings(tmp_path / "a", first_vhost, "sqlite://", ZTC_BUS_USER_PREFIX=prefix)
    second = support.make_settings(tmp_path / "b", second_vhost, "sqlite://", ZTC_BUS_USER_PREFIX=prefix)
    grants = [access.service_grant(first, "intake"), access.operator_grant(first)]
    passwords = {g.user: access.new_password() for g in grants}
    try:
        access.install(first, grants, passwords)
        access.install(first, grants, passwords)  # the same deployment again: its own users, no refusal
        again = {g.user: access.new_password() for g in grants}
        with pytest.raises(access.UsersOfAnotherVhost) as refused:
            access.install(second, [access.service_grant(second, "intake"), access.operator_grant(second)], again)
        message = str(refused.value)
        assert identity.service_user(first, "intake") in message and repr(first_vhost) in message
        assert "ZTC_BUS_USER_PREFIX" in message
        # Nothing was changed: the first deployment's intake still logs in with its password.
        user = identity.service_user(first, "intake")
        with Connection(identity.with_user(first.amqp_uri, user, passwords[user]), connect_timeout=5) as conn:
            conn.connect()
        # With a prefix of its own, the second deployment installs beside the first.
        own = support.make_settings(tmp_path / "c", second_vhost, "sqlite://", ZTC_BUS_USER_PREFIX=prefix + "b-")
        access.install(own, [access.service_grant(own, "intake")], {identity.service_user(own, "intake"): "pw-b"})
    finally:
        support.delete_users_with_prefix(prefix)
