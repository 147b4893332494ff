"""The AMQP permission matrix (docs/security.md, "AMQP permissions"), row by row against the real
broker: each user of ``shared.messaging.access`` (every service, the operator, two units, a member's
app) is installed on a throwaway vhost with the permissions ``make run`` installs, and tries each
publish, consume and bind of the matrix; the broker's answer must be the row's."""

from __future__ import annotations

import contextlib

import pytest
from amqp import Message
from amqp.exceptions import AccessRefused, NotFound
from kombu import Connection, Exchange, Queue

from shared.messaging import access, topology
from tests import support

SETTINGS = support.make_settings(support.config.ROOT / "var", "-", "sqlite:///:memory:")  # names only
ROWS = access.matrix(SETTINGS)


def _id(row) -> str:
    target = row.queue if row.action == "consume" else f"{row.exchange or 'default'}:{row.key}"
    if row.action == "bind":
        target = f"{row.queue}->{row.exchange}:{row.key}"
    return f"{row.user}|{row.action}|{target}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A vhost with the product's exchanges and queues (and nameko's rpc-intake queue), and every
    user of the matrix with its password; yields {label: amqp URI}."""
    with contextlib.ExitStack() as stack:
        vhost = stack.enter_context(support.rabbit_vhost())
        settings = support.make_settings(
            tmp_path_factory.mktemp("matrix"), vhost, "sqlite:///:memory:", ZTC_BUS_USER_PREFIX=SETTINGS.bus_user_prefix
        )
        topology.declare(settings.amqp_uri, units=access.SAMPLE_UNITS)
        with Connection(settings.amqp_uri) as conn:
            Queue(
                "rpc-intake", Exchange(access.RPC_EXCHANGE, "topic", durable=True), routing_key="intake.*", durable=True
            )(conn.default_channel).declare()
        grants = access.grants(settings, access.SAMPLE_UNITS, access.SAMPLE_SUBMITTERS)
        uris = stack.enter_context(support.broker_users(settings, grants))
        yield {access._label(g): uris[g.user] for g in grants}


def attempt(uri: str, row) -> bool:
    """Whether the broker lets the row's user do it (False: ACCESS_REFUSED)."""
    with Connection(uri, connect_timeout=10) as conn:
        channel = conn.connection.channel()
        try:
            if row.action == "publish":
                channel.basic_publish(
                    Message(b"{}", content_type="application/json"), exchange=row.exchange, routing_key=row.key
                )
                channel.basic_qos(0, 1, False)  # a round trip: a refusal closes the channel first
            elif row.action == "consume":
                channel.basic_get(row.queue, no_ack=True)
            else:
                channel.queue_bind(row.queue, row.exchange, row.key)
                channel.queue_unbind(row.queue, row.exchange, row.key)
            return True
        except AccessRefused:
            return False
        except NotFound as exc:  # the matrix names only objects that exist
            raise AssertionError(f"{row}: {exc}") from None


def test_the_matrix_has_a_row_for_every_kind_of_user_and_action():
    users = {row.user for row in ROWS}
    assert {
        "engine",
        "intake",
        "assignment",
        "supervision",
        "evaluation",
        "gateway",
        "operator",
        "unit transport",
        "unit education",
        "member member.li",
    } == users
    assert {row.action for row in ROWS} == {"publish", "consume", "bind"}
    assert any(row.allowed for row in ROWS) and any(not row.allowed for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[_id(row) for row in ROWS])
def test_each_row_of_the_matrix_is_what_the_broker_does(broker, row):
    got = attempt(broker[row.user], row)
    assert got == row.allowed, (
        f"{row.user} {row.action} {row.target()}: the broker "
        f"{'allowed' if got else 'refused'} it, the matrix says "
        f"{'allowed' if row.allowed else 'refused'}"
    )
