"""The rules of notifications that leave the system, without a broker or a mail server: who is
reached, when a failed delivery is tried again, what a digest gathers, how addresses are masked.
The channel is a fake that subclasses the real port."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from services.gateway import deliveries, digests, notifications, preferences
from services.gateway.channels import Channel, ChannelError, SmtpChannel, configured
from services.gateway.models import Base
from shared import clock, config, contracts
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import InvalidInput
from shared.validation import load

SETTINGS = config.load(
    {
        "ZTC_NOTIFY_RETRY_PAUSE_SECONDS": "30",
        "ZTC_NOTIFY_RETRY_PAUSE_MAX_SECONDS": "300",
        "ZTC_NOTIFY_MAX_ATTEMPTS": "4",
    }
)
LI = {"user": "member.li", "roles": ["member"], "unit": None}
ZHAO = {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"}
WANG = {"user": "staff.wang", "roles": ["staff"], "unit": None}


class FakeChannel(Channel):
    """Takes what it is given, or refuses while told to."""

    def __init__(self, name="email", failures=0, permanent=False):
        self.name, self.failures, self.permanent, self.sent = name, failures, permanent, []

    def send(self, address, subject, body, message_id):
        if self.failures:
            self.failures -= 1
            if self.permanent:
                raise ChannelError(f"550 <{address}>: recipient address rejected", permanent=True)
            raise ChannelError("the server is away")
        self.sent.append((address, subject, body, message_id))


class Fakes:
    def __init__(self, **channels):
        self.channels = channels

    @property
    def enabled(self):
        return tuple(self.channels)

    def get(self, name):
        return self.channels.get(name)


@pytest.fixture
def session(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/gateway.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


def register(session, principal, **body):
    loaded = load(
        preferences.PreferencesBody,
        {"channels": ["email"], "email": f"{principal['user']}@example.cn", **body},
        "preferences",
    )
    preferences.save(session, principal, loaded)
    session.commit()


def notice(session, recipients, kind="reminder", title="提案 2026-0001 临近办理期限", text="请于三日内答复。"):
    body = {
        "event_id": uuid.uuid4().hex,
        "name": contracts.NOTIFY_PREFIX + kind,
        "occurred_at": clock.now().isoformat(),
        "subject": "2026-0001",
        "thread": None,
        "members": [],
        "payload": {"recipients": recipients, "title": title, "text": text},
    }
    notifications.store(session, body)
    deliveries.enqueue(session, body, ("email", "sms"))
    session.commit()
    return body


def queued(session):
    return [
        (d.user, d.channel, d.address)
        for d in session.scalars(select(deliveries.Delivery).order_by(deliveries.Delivery.id))
    ]


def test_a_person_reached_by_name_and_by_role_gets_one_message_per_channel(session):
    register(session, WANG, channels=["email", "sms"], mobile="13800138000")
    notice(session, ["staff.wang", "role:staff"])
    assert queued(session) == [("staff.wang", "email", "staff.wang@example.cn"), ("staff.wang", "sms", "13800138000")]


def test_a_notice_to_a_unit_reaches_its_registered_handlers_only(session):
    register(session, ZHAO)
    register(session, LI)
    notice(session, ["unit:transport"])
    assert [user for user, *_ in queued(session)] == ["handler.zhao"]


def test_a_redelivered_event_queues_nothing_more(session):
    register(session, LI)
    body = notice(session, ["member.li"])
    deliveries.enqueue(session, body, ("email",))
    session.commit()
    assert len(queued(session)) == 1


def test_kinds_not_chosen_and_digest_readers_get_no_immediate_message(session):
    register(session, LI, kinds=["escalation"])
    register(session, WANG, mode="digest")
    notice(session, ["member.li", "staff.wang"], kind="reminder")
    assert queued(session) == []


def test_a_channel_the_system_lacks_queues_nothing(session):
    register(session, LI, channels=["sms"], mobile="13800138000")
    body = notice(session, ["member.li"])
    assert deliveries.enqueue(session, body, ("email",)) == 0


def test_a_failed_delivery_is_tried_again_after_doubling_pauses_then_marked_failed(session, skipping_clock):
    register(session, LI)
    notice(session, ["member.li"])
    channel = FakeChannel(failures=10)
    pauses = []
    for _ in range(4):
        deliveries.deliver_due(session, Fakes(email=channel), SETTINGS)
        row = session.scalars(select(deliveries.Delivery)).one()
        pauses.append((row.available_at - clock.now()).total_seconds())
        skipping_clock.advance(seconds=300)
    assert pauses[:3] == [30, 60, 120]
    assert (row.status, row.attempts, row.last_error) == ("failed", 4, "the server is away")
    assert deliveries.listing(session)[0]["id"] == row.id


def test_a_delivery_comes_through_when_the_channel_is_back_and_only_once(session, skipping_clock):
    register(session, LI)
    notice(session, ["member.li"])
    channel = FakeChannel(failures=1)
    assert deliveries.deliver_due(session, Fakes(email=channel), SETTINGS) == 0
    assert deliveries.deliver_due(session, Fakes(email=channel), SETTINGS) == 0  # not due yet
    skipping_clock.advance(seconds=30)
    assert deliveries.deliver_due(session, Fakes(email=channel), SETTINGS) == 1
    skipping_clock.advance(days=1)
    assert deliveries.deliver_due(session, Fakes(email=channel), SETTINGS) == 0
    assert len(channel.sent) == 1


def test_a_refusal_fails_at_once_and_an_operator_retry_sends_it(session):
    register(session, LI)
    notice(session, ["member.li"])
    channel = FakeChannel(failures=1, permanent=True)
    deliveries.deliver_due(session, Fakes(email=channel), SETTINGS)
    [failed] = deliveries.listing(session)
    assert failed["attempts"] == 1 and failed["address"] == "m***@example.cn"
    assert failed["last_error"] == "550 <m***@example.cn>: recipient address rejected"
    assert [r["status"] for r in deliveries.retry(session, [failed["id"]])] == ["pending"]
    session.commit()
    assert deliveries.deliver_due(session, Fakes(email=channel), SETTINGS) == 1
    with pytest.raises(InvalidInput):
        deliveries.retry(session, [])
    with pytest.raises(InvalidInput):
        deliveries.listing(session, status="lost")


def test_the_digest_waits_for_its_hour_and_gathers_the_days_notices_once(session, skipping_clock):
    skipping_clock.set(datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))  # 09:00 in Beijing
    register(session, LI, mode="digest")
    first = notice(session, ["member.li", "role:member"], title="联名邀请")
    skipping_clock.advance(hours=5)
    notice(session, ["member.li"], title="立案通知")
    skipping_clock.set(datetime(2026, 3, 2, 23, 59, tzinfo=timezone.utc))  # 07:59 on 3 March: not yet
    assert digests.queue_digests(session, ("email",), 8) == 0
    skipping_clock.advance(minutes=1)
    assert digests.queue_digests(session, ("email",), 8) == 1
    session.commit()
    assert digests.queue_digests(session, ("email",), 8) == 0
    [row] = session.scalars(select(deliveries.Delivery)).all()
    assert row.subject == "【直通车】每日通知摘要 2026-03-03（2 条）"
    assert row.body.count("联名邀请") == 1 and "立案通知" in row.body
    assert row.key.startswith("digest:member.li:2026-03-03") and first["event_id"]


def test_the_next_digest_starts_where_the_last_ended_and_an_empty_day_sends_nothing(session, skipping_clock):
    skipping_clock.set(datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc))  # 07:30 in Beijing
    register(session, LI, mode="digest")
    notice(session, ["member.li"])
    skipping_clock.advance(minutes=31)
    assert digests.queue_digests(session, ("email",), 8) == 1
    skipping_clock.advance(minutes=1)
    notice(session, ["member.li"], title="明天的摘要")  # after 08:00: tomorrow's digest
    skipping_clock.advance(days=1)
    assert digests.queue_digests(session, ("email",), 8) == 1
    skipping_clock.advance(days=1)
    assert digests.queue_digests(session, ("email",), 8) == 0
    assert [d.notices for d in session.scalars(select(digests.Digest).order_by(digests.Digest.day))] == [1, 1, 0]


def test_the_digest_hour_is_china_time():
    assert digests.due_time(datetime(2026, 3, 2, 23, 59, tzinfo=timezone.utc), 8) is None
    assert digests.due_time(datetime(2026, 3, 3, 0, 0, tzinfo=timezone.utc), 8) == datetime(
        2026, 3, 3, 0, 0, tzinfo=timezone.utc
    )


def test_pauses_double_up_to_their_bound():
    assert [deliveries.pause(n, SETTINGS) for n in range(1, 6)] == [30, 60, 120, 240, 300]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"channels": ["email"], "email": "不是地址"}, "email"),
        ({"channels": ["email"]}, "email"),
        ({"channels": ["sms"], "mobile": "12345"}, "mobile"),
        ({"channels": ["sms"]}, "mobile"),
        ({"channels": ["fax"]}, "channels"),
        ({"mode": "weekly"}, "mode"),
        ({"kinds": ["Reminder!"]}, "kinds"),
        ({"channels": [], "pager": "1"}, "pager"),
    ],
)
def test_preferences_that_cannot_be_delivered_are_refused_naming_the_field(body, field):
    with pytest.raises(InvalidInput) as refused:
        load(preferences.PreferencesBody, body, "the request body")
    assert field in refused.value.details


def test_addresses_are_masked_as_published_text_masks_them():
    assert preferences.mask_address("zhang.san@example.com") == "z***@example.com"
    assert preferences.mask_address("13800138000") == "138****8000"
    assert preferences.mask_address(None) is None


def test_an_email_is_utf8_with_a_message_id_of_its_delivery():
    settings = config.load({"ZTC_SMTP_HOST": "127.0.0.1", "ZTC_SMTP_SENDER": "notice@cppcc.example.cn"})
    message = SmtpChannel(settings).compose("li@example.cn", "【直通车】催办", "请于三日内答复。", "ztc-delivery-7")
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "【直通车】催办" and parsed["Message-ID"] == "<ztc-delivery-7@cppcc.example.cn>"
    assert parsed.get_content().strip() == "请于三日内答复。"


def test_channels_are_off_until_configured():
    assert configured(config.load({})).enabled == ()
    on = config.load({"ZTC_SMTP_HOST": "smtp.example.cn", "ZTC_SMS_GATEWAY_URL": "http://sms.example.cn/send"})
    assert configured(on).enabled == ("email", "sms")
    with pytest.raises(ValueError):
        config.load({"ZTC_SMTP_SECURITY": "tls"})
    with pytest.raises(ValueError):
        config.load({"ZTC_NOTIFY_DIGEST_HOUR": "24"})


def test_queue_digest_window_defaults_to_the_day_before(session, skipping_clock):
    skipping_clock.set(datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc))
    register(session, LI, mode="digest")
    skipping_clock.advance(hours=-30)
    notice(session, ["member.li"], title="太早")  # before the first window
    skipping_clock.set(datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc))
    digests.queue_digests(session, ("email",), 8)
    [digest] = session.scalars(select(digests.Digest)).all()
    assert digest.notices == 0
    assert digest.window_end - digest.window_start == timedelta(days=1)


def test_while_a_server_is_away_the_other_messages_wait_without_spending_attempts(session):
    for person in (LI, WANG):
        register(session, person, channels=["email", "sms"], mobile="13800138000")
    notice(session, ["member.li", "staff.wang"])
    email, text = FakeChannel(failures=10), FakeChannel("sms")
    assert deliveries.deliver_due(session, Fakes(email=email, sms=text), SETTINGS) == 2
    attempts = {(d.user, d.channel): (d.status, d.attempts) for d in session.scalars(select(deliveries.Delivery))}
    assert attempts == {
        ("member.li", "email"): ("pending", 1),
        ("member.li", "sms"): ("sent", 1),
        ("staff.wang", "email"): ("pending", 0),
        ("staff.wang", "sms"): ("sent", 1),
    }


def test_a_channel_switched_off_keeps_its_messages_and_holds_up_no_other(session):
    register(session, LI, channels=["sms", "email"], mobile="13800138000")  # the text message is queued first
    notice(session, ["member.li"])
    email = FakeChannel()
    assert deliveries.deliver_due(session, Fakes(email=email), SETTINGS, limit=1) == 1
    assert [d.status for d in session.scalars(select(deliveries.Delivery).order_by(deliveries.Delivery.channel))] == [
        "sent",
        "pending",
    ]
