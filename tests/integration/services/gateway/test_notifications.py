"""The gateway's notification inbox on the real broker and a real database: ``notify.<kind>``
events published on ``ztc.events`` become one row per recipient, read over HTTP by the user, by
every handler of an addressed unit, by everyone holding an addressed role."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from nameko.runners import ServiceRunner

from services.gateway import tokens
from services.gateway.notifications import Notification
from services.gateway.service import GatewayService
from shared import clock, contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
from tests.support import free_port, get_messages, make_settings, publish, ready_count, wait_for


@pytest.fixture
def gateway(tmp_path, vhost, database_url_template):
    settings = make_settings(tmp_path, vhost, database_url_template, ZTC_GATEWAY_PORT=str(free_port()))
    migrate("gateway", settings.database_url("gateway"))
    topology.declare(settings.amqp_uri)
    sessions = session_factory(settings.database_url("gateway"))
    people = {
        "member": ("member.li", ["member"], None),
        "handler": ("handler.zhao", ["unit"], "transport"),
        "handler2": ("handler.sun", ["unit"], "transport"),
        "staff": ("staff.wang", ["staff"], None),
        "education": ("handler.qian", ["unit"], "education"),
    }
    with transaction(sessions) as s:
        keys = {who: tokens.issue(s, user, roles, unit) for who, (user, roles, unit) in people.items()}
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(GatewayService)
    runner.start()
    base = f"http://127.0.0.1:{settings.gateway_port}"

    def call(method, path, who):
        return requests.request(method, base + path, headers={"Authorization": f"Bearer {keys[who]}"}, timeout=10)

    wait_for(lambda: _consuming(settings.amqp_uri), message="the gateway consuming its events queue")
    try:
        yield settings, sessions, call
    finally:
        runner.stop()
        dispose_all()


def _consuming(amqp_uri):
    from kombu import Connection

    try:
        with Connection(amqp_uri) as conn:
            _, _, consumers = conn.default_channel.queue_declare(queue=contracts.events_queue("gateway"), passive=True)
            return consumers > 0
    except Exception:  # not declared yet
        return False


def event(kind, recipients, event_id=None, subject="2026-0001", title="催办", text=""):
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "name": contracts.NOTIFY_PREFIX + kind,
        "occurred_at": clock.now().isoformat(),
        "subject": subject,
        "thread": None,
        "members": [],
        "payload": {"recipients": recipients, "title": title, "text": text},
    }


def send(settings, body):
    publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, body.get("name", "notify.x"), body)


def rows(sessions):
    with transaction(sessions) as s:
        return sorted((n.event_id, n.recipient) for n in s.query(Notification))


def test_a_notification_reaches_the_user_the_units_handlers_and_the_roles_holders(gateway):
    settings, sessions, call = gateway
    body = event("reminder", ["member.li", "unit:transport", "role:staff"], title="提案 2026-0001 临近办理期限")
    send(settings, body)
    wait_for(lambda: len(rows(sessions)) == 3, message="three inbox rows")

    for who in ("member", "handler", "handler2", "staff"):
        inbox = call("GET", "/api/notifications", who)
        assert inbox.status_code == 200
        assert [(n["kind"], n["subject"], n["title"]) for n in inbox.json()] == [
            ("reminder", "2026-0001", "提案 2026-0001 临近办理期限")
        ], who
    assert call("GET", "/api/notifications", "education").json() == []


@pytest.mark.both_databases
def test_a_redelivered_event_adds_nothing(gateway):
    settings, sessions, call = gateway
    body = event("escalation", ["staff.wang", "role:leader"])
    send(settings, body)
    wait_for(lambda: len(rows(sessions)) == 2, message="two inbox rows")
    send(settings, body)
    marker = event("escalation", ["staff.wang"])
    send(settings, marker)  # the queue keeps order: once this one is in, the repeat was handled
    wait_for(lambda: len(rows(sessions)) == 3, message="the marker's row")
    assert rows(sessions).count((body["event_id"], "staff.wang")) == 1
    assert ready_count(settings.amqp_uri, contracts.DEAD_QUEUE) == 0


def test_marking_read_and_the_unread_filter(gateway):
    settings, sessions, call = gateway
    first, second = event("reminder", ["member.li"]), event("reminder", ["member.li"])
    send(settings, first)
    send(settings, second)
    wait_for(lambda: len(rows(sessions)) == 2, message="two inbox rows")
    inbox = call("GET", "/api/notifications", "member").json()
    oldest = inbox[-1]
    assert oldest["event_id"] == first["event_id"] and oldest["read_at"] is None

    read = call("POST", f"/api/notifications/{oldest['id']}/read", "member")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = call("GET", "/api/notifications?unread=true", "member").json()
    assert [n["event_id"] for n in unread] == [second["event_id"]]
    assert len(call("GET", "/api/notifications", "member").json()) == 2


def test_someone_elses_notification_cannot_be_marked_read(gateway):
    settings, sessions, call = gateway
    send(settings, event("reminder", ["member.li"]))
    wait_for(lambda: len(rows(sessions)) == 1, message="one inbox row")
    mine = call("GET", "/api/notifications", "member").json()[0]

    refused = call("POST", f"/api/notifications/{mine['id']}/read", "staff")
    assert refused.status_code == 404
    assert call("GET", "/api/notifications", "member").json()[0]["read_at"] is None


def test_a_malformed_notification_is_dead_lettered_with_its_reason_and_nothing_kept(gateway, vhost):
    settings, sessions, call = gateway
    bad = event("reminder", [])
    send(settings, bad)

    def dead():
        return [
            m
            for m in get_messages(vhost, contracts.DEAD_QUEUE)
            if json.loads(m["payload"]).get("event_id") == bad["event_id"]
        ]

    letter = wait_for(dead, message="the malformed event in ztc.dead")[0]
    reason = letter["properties"]["headers"][contracts.REASON_HEADER]
    assert "invalid_input" in reason and "recipients" in reason
    assert rows(sessions) == []


def test_the_inbox_is_in_the_openapi_document(gateway):
    settings, sessions, call = gateway
    document = requests.get(f"http://127.0.0.1:{settings.gateway_port}/openapi.json", timeout=10).json()
    assert "get" in document["paths"]["/api/notifications"]
    assert "post" in document["paths"]["/api/notifications/{notification_id}/read"]


@pytest.mark.both_databases
def test_the_inbox_is_read_a_page_at_a_time_newest_first_across_the_callers_addresses(gateway):
    """A handler's inbox is theirs, their unit's and their role's notices: read newest first, at
    most ``limit``, and ``before`` the last one shown gives the older ones, every one once; the
    unread filter pages the same way; a nonsense query is refused with its field named."""
    from datetime import timedelta

    from sqlalchemy import insert

    settings, sessions, call = gateway
    at = clock.now() - timedelta(days=1)
    recipients = ["handler.zhao", "unit:transport", "role:unit", "member.li", "unit:education"]
    with transaction(sessions) as s:
        s.execute(
            insert(Notification),
            [
                {
                    "event_id": f"e{n}",
                    "recipient": recipients[n % len(recipients)],
                    "kind": "reminder",
                    "subject": f"2026-{n:04d}",
                    "title": f"notice {n}",
                    "text": "",
                    "created_at": at + timedelta(seconds=n),
                    "read_at": at if n % 4 == 0 else None,
                }
                for n in range(1, 301)
            ],
        )
    with transaction(sessions) as s:
        mine = sorted(
            (n.id for n in s.query(Notification) if n.recipient in ("handler.zhao", "unit:transport", "role:unit")),
            reverse=True,
        )
        unread = sorted(
            (
                n.id
                for n in s.query(Notification)
                if n.recipient in ("handler.zhao", "unit:transport", "role:unit") and n.read_at is None
            ),
            reverse=True,
        )
    assert len(mine) == 180

    def pages(query):
        seen, before = [], None
        while True:
            page = call("GET", f"/api/notifications?{query}" + (f"&before={before}" if before else ""), "handler")
            assert page.status_code == 200, page.text
            ids = [n["id"] for n in page.json()]
            assert len(ids) <= 40
            if not ids:
                return seen
            seen += ids
            before = ids[-1]

    first = call("GET", "/api/notifications", "handler").json()
    assert [n["id"] for n in first] == mine[:50]  # 50 by default
    assert pages("limit=40") == mine
    assert pages("limit=40&unread=true") == unread
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("before=x", "before"),
        ("unread=maybe", "unread"),
    ):
        refused = call("GET", f"/api/notifications?{query}", "handler")
        assert refused.status_code == 400 and field in refused.json()["details"], (query, refused.text)
