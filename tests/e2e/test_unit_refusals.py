"""A department's system hears its refused commands on its own queue, every service its own process:
each refusal comes back as ``<unit>.command.refused`` with the command's correlation id, the kind of
refusal and why; the operators keep the dead-letter copy; nothing changed."""

from __future__ import annotations

import socket
import time
import uuid

from kombu import Connection, Queue

from shared import contracts
from shared.messaging import access
from tests.support import broker_users, wait_for

from .test_proposal_lifecycle import Api, assigned_to_transport, submit


def publish_with_id(uri, user, routing_key, body, correlation_id):
    from kombu import Exchange

    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            body,
            exchange=Exchange(contracts.UNIT_COMMANDS_EXCHANGE, "topic", passive=True),
            routing_key=routing_key,
            user_id=user,
            correlation_id=correlation_id,
            serializer="json",
            delivery_mode=2,
        )


def refusals_heard(uri, unit, correlation_ids, timeout=60.0) -> dict:
    """The refusals with ``correlation_ids`` read off ``unit``'s queue as the unit's own broker user
    (which may read that queue and no other); {correlation id: (routing key, body)}."""
    found = {}

    def on_message(body, message):
        if isinstance(body, dict) and body.get("correlation_id") in correlation_ids:
            found[body["correlation_id"]] = (message.delivery_info["routing_key"], body)
        message.ack()

    with Connection(uri) as conn:
        queue = Queue(contracts.unit_queue(unit), no_declare=True)
        with conn.Consumer(queue, callbacks=[on_message], accept=["json"]):
            deadline = time.monotonic() + timeout
            while len(found) < len(correlation_ids) and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except socket.timeout:
                    pass
    return found


def test_a_refused_unit_command_comes_back_on_the_units_own_queue_with_its_reason(running, e2e_settings):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number)
    run = uuid.uuid4().hex[:8]
    sent = {  # correlation id: (routing key, body, the refusal's kind)
        f"{run}-draft": (
            "transport.draft_reply",
            {"assignment_id": mine["id"], "category": "A", "text": "已办"},
            "conflict",
        ),  # not signed for yet
        f"{run}-object": ("transport.object", {"assignment_id": mine["id"]}, "invalid_input"),  # no reason
        f"{run}-missing": ("transport.sign", {"assignment_id": 987654}, "not_found"),
    }
    transport = access.unit_grant(e2e_settings, "transport")
    with broker_users(e2e_settings, [transport]) as uris:
        uri = uris[transport.user]
        for correlation_id, (key, body, _) in sent.items():
            publish_with_id(uri, transport.user, key, body, correlation_id)
        heard = refusals_heard(uri, "transport", set(sent))
    assert set(heard) == set(sent), f"refusals heard: {sorted(heard)}"
    for correlation_id, (key, _body, kind) in sent.items():
        routing_key, refusal = heard[correlation_id]
        assert routing_key == "transport.command.refused"
        assert refusal["command"] == key and refusal["unit"] == "transport"
        assert refusal["kind"] == kind, refusal
        assert refusal["message"], refusal
    assert "reason" in heard[f"{run}-object"][1]["details"]
    assert "sign for" in heard[f"{run}-draft"][1]["message"]

    # The operators keep their copy, with the reason; and nothing changed.
    def letters():
        found = api("operator", "GET", "/api/ops/dead-letters?routing_key=transport.draft_reply", expect=200).json()
        return [letter for letter in found if letter["reason"].startswith("conflict")]

    wait_for(letters, timeout=30, message="the refused command among the dead letters")
    assert api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["status"] == "assigned"


def test_a_command_that_is_not_refused_sends_no_refusal(running, e2e_settings):
    api = Api(*running)
    number = submit(api)
    mine = assigned_to_transport(api, number)
    correlation_id = f"{uuid.uuid4().hex[:8]}-sign"
    transport = access.unit_grant(e2e_settings, "transport")
    with broker_users(e2e_settings, [transport]) as uris:
        publish_with_id(
            uris[transport.user], transport.user, "transport.sign", {"assignment_id": mine["id"]}, correlation_id
        )
        wait_for(
            lambda: api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["status"] == "signed",
            timeout=60,
            message="the signing",
        )
        assert refusals_heard(uris[transport.user], "transport", {correlation_id}, timeout=3) == {}
