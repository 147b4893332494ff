"""Notifications that reach people: the gateway on the real broker and a real database, sending to
a real SMTP server (aiosmtpd, in its own process: tests/smtp_sink.py) and a real HTTP server
standing for the SMS gateway. A ``notify.<kind>`` event published on ``ztc.events`` ends as an
e-mail and a text message for the people who asked for them, once; a server that is down gets
it when it is back; a day's notices come as one digest at the digest hour."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from click.testing import CliRunner
from kombu import Connection
from nameko.runners import ServiceRunner

from services.gateway import tokens
from services.gateway.channels import ChannelError, HttpSmsChannel
from services.gateway.deliveries import Delivery
from services.gateway.notifications import Notification
from services.gateway.service import GatewayService
from services.ztc.cli import main as ztc
from shared import clock, config, contracts
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging import topology
from tests import smtp_sink
from tests.support import free_port, make_settings, publish, wait_for

PEOPLE = {
    "member": ("member.li", ["member"], None),
    "handler": ("handler.zhao", ["unit"], "transport"),
    "operator": ("ops.chen", ["operator"], None),
    "staff": ("staff.wang", ["staff"], None),
}


class SmsGateway:
    """A local HTTP server taking the SMS gateway's JSON contract; answers ``status`` (200 unless told)."""

    def __init__(self):
        self.received, self.status = [], 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
                outer.received.append(
                    {
                        "body": body,
                        "authorization": self.headers.get("Authorization"),
                        "idempotency_key": self.headers.get("Idempotency-Key"),
                    }
                )
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms():
    gateway = SmsGateway()
    yield gateway
    gateway.close()


@pytest.fixture
def start_gateway(tmp_path, vhost, database_url_template, sms):
    """Start the gateway with SMTP on a port of its own (no server there until a test starts one)
    and the SMS gateway above; returns ``(settings, sessions, call, smtp_port)``."""
    runners = []

    def start(**env):
        smtp_port = free_port()
        settings = make_settings(
            tmp_path,
            vhost,
            database_url_template,
            ZTC_GATEWAY_PORT=str(free_port()),
            ZTC_SMTP_HOST="127.0.0.1",
            ZTC_SMTP_PORT=str(smtp_port),
            ZTC_SMTP_SENDER="notice@cppcc.example.cn",
            ZTC_SMTP_TIMEOUT_SECONDS="2",
            ZTC_SMS_GATEWAY_URL=sms.url,
            ZTC_SMS_GATEWAY_TOKEN="sms-secret",
            ZTC_NOTIFY_RETRY_PAUSE_SECONDS="0.2",
            ZTC_NOTIFY_RETRY_PAUSE_MAX_SECONDS="0.5",
            **env,
        )
        migrate("gateway", settings.database_url("gateway"))
        topology.declare(settings.amqp_uri)
        sessions = session_factory(settings.database_url("gateway"))
        with transaction(sessions) as s:
            keys = {who: tokens.issue(s, user, roles, unit) for who, (user, roles, unit) in PEOPLE.items()}
        runner = ServiceRunner(settings.nameko_config())
        runner.add_service(GatewayService)
        runner.start()
        runners.append(runner)
        base = f"http://127.0.0.1:{settings.gateway_port}"

        def call(method, path, who, body=None):
            return requests.request(
                method, base + path, json=body, timeout=10, headers={"Authorization": f"Bearer {keys[who]}"}
            )

        wait_for(lambda: _consuming(settings.amqp_uri), message="the gateway consuming its events queue")
        return settings, sessions, call, smtp_port

    yield start
    for runner in runners:
        runner.stop()
    dispose_all()


def _consuming(amqp_uri):
    try:
        with Connection(amqp_uri) as conn:
            return conn.default_channel.queue_declare(queue=contracts.events_queue("gateway"), passive=True)[2] > 0
    except Exception:  # not declared yet
        return False


def notify(settings, recipients, kind="reminder", title="提案 2026-0001 临近办理期限", text="请于三日内签收并答复。"):
    body = {
        "event_id": uuid.uuid4().hex,
        "name": contracts.NOTIFY_PREFIX + kind,
        "occurred_at": clock.now().isoformat(),
        "subject": "2026-0001",
        "thread": None,
        "members": [],
        "payload": {"recipients": recipients, "title": title, "text": text},
    }
    publish(settings.amqp_uri, contracts.EVENTS_EXCHANGE, body["name"], body)
    return body


def deliveries(sessions):
    with transaction(sessions) as s:
        return [(d.user, d.channel, d.status, d.attempts) for d in s.query(Delivery).order_by(Delivery.id)]


def inbox_rows(sessions):
    with transaction(sessions) as s:
        return s.query(Notification).count()


def test_an_email_and_a_text_message_reach_the_member_with_recipient_subject_and_chinese_body(
    start_gateway, sms, tmp_path
):
    settings, sessions, call, smtp_port = start_gateway()
    saved = call(
        "PUT",
        "/api/notifications/preferences",
        "member",
        {"channels": ["email", "sms"], "email": "li.ming@example.cn", "mobile": "13800138000"},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["available_channels"] == ["email", "sms"]
    mailbox = tmp_path / "mail.jsonl"
    with smtp_sink.running(smtp_port, mailbox):
        notify(settings, ["member.li", "role:member"])
        [mail] = wait_for(lambda: smtp_sink.received(mailbox), message="the e-mail at the SMTP server")
        wait_for(lambda: sms.received, message="the text message at the SMS gateway")
    assert mail["rcpt_tos"] == ["li.ming@example.cn"] and mail["mail_from"] == "notice@cppcc.example.cn"
    message = mail["message"]
    assert message["Subject"] == "【直通车】提案 2026-0001 临近办理期限"
    assert message.get_content_charset() == "utf-8"
    assert "请于三日内签收并答复。" in message.get_content() and "事项：2026-0001" in message.get_content()
    [text] = sms.received
    assert text["body"]["to"] == "13800138000"
    assert text["body"]["text"] == "【直通车】提案 2026-0001 临近办理期限（2026-0001）：请于三日内签收并答复。"
    assert text["authorization"] == "Bearer sms-secret" and text["idempotency_key"] == text["body"]["message_id"]
    assert sorted(deliveries(sessions)) == [("member.li", "email", "sent", 1), ("member.li", "sms", "sent", 1)]


@pytest.mark.both_databases
def test_smtp_down_then_up_the_email_is_delivered_once(start_gateway, tmp_path):
    settings, sessions, call, smtp_port = start_gateway(ZTC_NOTIFY_MAX_ATTEMPTS="100")
    assert (
        call(
            "PUT", "/api/notifications/preferences", "handler", {"channels": ["email"], "email": "zhao@jtj.example.cn"}
        ).status_code
        == 200
    )
    notify(settings, ["unit:transport"], kind="escalation", title="交通局逾期未签收")
    wait_for(lambda: [d for d in deliveries(sessions) if d[3] >= 2], message="attempts while the server is down")
    pending = call("GET", "/api/ops/notifications/deliveries?status=pending", "operator").json()
    assert pending[0]["address"] == "z***@jtj.example.cn" and "SMTP server" in pending[0]["last_error"]

    mailbox = tmp_path / "mail.jsonl"
    with smtp_sink.running(smtp_port, mailbox):
        wait_for(lambda: smtp_sink.received(mailbox), message="the e-mail once the server is back")
        wait_for(lambda: deliveries(sessions)[0][2] == "sent", message="the delivery recorded as sent")
        time.sleep(1.5)  # several ticks of the delivery loop: nothing is sent again
        mails = smtp_sink.received(mailbox)
    assert len(mails) == 1 and mails[0]["message"]["Subject"] == "【直通车】交通局逾期未签收"


def test_failed_deliveries_are_listed_to_operators_and_sent_again_on_retry(start_gateway, tmp_path):
    settings, sessions, call, smtp_port = start_gateway(ZTC_NOTIFY_MAX_ATTEMPTS="2")
    call("PUT", "/api/notifications/preferences", "staff", {"channels": ["email"], "email": "wang@zx.example.cn"})
    notify(settings, ["staff.wang"])
    failed = wait_for(
        lambda: call("GET", "/api/ops/notifications/deliveries", "operator").json(),
        message="the failed delivery in the operators' list",
    )
    assert [(d["user"], d["status"], d["attempts"], d["address"]) for d in failed] == [
        ("staff.wang", "failed", 2, "w***@zx.example.cn")
    ]
    assert call("GET", "/api/ops/notifications/deliveries", "staff").status_code == 403
    env = {"ZTC_VAR_DIR": str(settings.var_dir), "ZTC_DATABASE_URL": settings.database_url_template}
    listed = CliRunner().invoke(ztc, ["notifications", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(d["id"], d["address"]) for d in json.loads(listed.stdout)] == [(failed[0]["id"], "w***@zx.example.cn")]

    mailbox = tmp_path / "mail.jsonl"
    with smtp_sink.running(smtp_port, mailbox):
        retried = call("POST", "/api/ops/notifications/deliveries/retry", "operator", {"ids": [failed[0]["id"]]})
        assert retried.status_code == 200 and retried.json()[0]["status"] == "pending"
        wait_for(lambda: smtp_sink.received(mailbox), message="the retried e-mail")
    assert call("GET", "/api/ops/notifications/deliveries", "operator").json() == []
    again = CliRunner().invoke(ztc, ["notifications", "retry", "--all"], env=env)
    assert again.exit_code == 0 and "no failed delivery" in again.stdout


@pytest.mark.both_databases
def test_the_daily_digest_gathers_a_days_notices_into_one_message(skipping_clock, start_gateway, tmp_path):
    skipping_clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))  # 17:00 in Beijing
    settings, sessions, call, smtp_port = start_gateway(ZTC_NOTIFY_DIGEST_HOUR="8")
    assert (
        call(
            "PUT",
            "/api/notifications/preferences",
            "member",
            {"channels": ["email"], "email": "li.ming@example.cn", "mode": "digest"},
        ).status_code
        == 200
    )
    titles = ["联名邀请：关于老城区停车的建议", "提案 2026-0001 已立案", "提案 2026-0001 已交办交通局"]
    for number, title in enumerate(titles, 1):
        notify(settings, ["member.li"], kind="proposal_progress", title=title, text="")
        wait_for(lambda number=number: inbox_rows(sessions) == number, message=f"notice {number} in the inbox")
        skipping_clock.advance(minutes=10)  # each notice stored at its own time: the digest's order
    mailbox = tmp_path / "mail.jsonl"
    with smtp_sink.running(smtp_port, mailbox):
        time.sleep(1.5)  # several ticks: a digest reader gets nothing before the hour
        assert smtp_sink.received(mailbox) == [] and deliveries(sessions) == []
        skipping_clock.set(datetime(2026, 3, 3, 0, 0, tzinfo=timezone.utc))  # 08:00 the next day
        [mail] = wait_for(lambda: smtp_sink.received(mailbox), message="the digest")
        time.sleep(1.5)
        assert len(smtp_sink.received(mailbox)) == 1
    assert mail["rcpt_tos"] == ["li.ming@example.cn"]
    assert mail["message"]["Subject"] == "【直通车】每日通知摘要 2026-03-03（3 条）"
    body = mail["message"].get_content()
    assert [body.index(title) for title in titles] == sorted(body.index(title) for title in titles)


def test_preferences_that_cannot_be_delivered_are_refused_and_nothing_changes(start_gateway):
    settings, sessions, call, smtp_port = start_gateway()
    good = {"channels": ["email"], "email": "li.ming@example.cn"}
    assert call("PUT", "/api/notifications/preferences", "member", good).status_code == 200
    refused = call("PUT", "/api/notifications/preferences", "member", {"channels": ["email"], "email": "李明@"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_input" and "email" in refused.json()["details"]
    refused = call("PUT", "/api/notifications/preferences", "member", {"channels": ["sms"], "mobile": "010-1234"})
    assert refused.status_code == 400 and "mobile" in refused.json()["details"], refused.text
    mine = call("GET", "/api/notifications/preferences", "member").json()
    assert (mine["channels"], mine["email"], mine["mode"]) == (["email"], "li.ming@example.cn", "immediate")


def test_the_sms_adapter_posts_the_documented_json_and_tells_a_refusal_from_an_outage(sms):
    settings = config.load({"ZTC_SMS_GATEWAY_URL": sms.url, "ZTC_SMS_TIMEOUT_SECONDS": "2"})
    adapter = HttpSmsChannel(settings)
    adapter.send("13900139000", "", "【直通车】您有一条新通知", "ztc-delivery-1")
    assert sms.received == [
        {
            "body": {"to": "13900139000", "text": "【直通车】您有一条新通知", "message_id": "ztc-delivery-1"},
            "authorization": None,
            "idempotency_key": "ztc-delivery-1",
        }
    ]
    sms.status = 400
    with pytest.raises(ChannelError) as refused:
        adapter.send("13900139000", "", "x", "ztc-delivery-2")
    assert refused.value.permanent
    sms.status = 503
    with pytest.raises(ChannelError) as outage:
        adapter.send("13900139000", "", "x", "ztc-delivery-3")
    assert not outage.value.permanent
