"""The channels a notification leaves the system by: e-mail over SMTP and an SMS gateway over HTTP.

Each is an adapter behind :class:`Channel`, the port the delivery loop
(:mod:`services.gateway.deliveries`) sends through; a deployment swaps the SMS adapter by
subclassing it. A channel is on only when it is configured (``ZTC_SMTP_HOST``,
``ZTC_SMS_GATEWAY_URL``); :class:`Channels` gives the gateway's workers the ones that are.

An adapter raises :class:`ChannelError` when a message did not go: ``permanent`` when sending it
again cannot help (the server refused the recipient), else it is tried again later.
"""

from __future__ import annotations

import smtplib
import ssl
from abc import ABC, abstractmethod
from email.message import EmailMessage
from email.utils import formatdate

import requests
from nameko.extensions import DependencyProvider

from shared import config

EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)


class ChannelError(Exception):
    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Channel(ABC):
    name: str

    @abstractmethod
    def send(self, address: str, subject: str, body: str, message_id: str) -> None:
        """Hand one message for ``address`` to the channel; return only once it took it.
        ``message_id`` is the same for every attempt at one delivery, so a receiver that sees it
        twice (a crash after sending, before the delivery was recorded) can drop the repeat."""


class SmtpChannel(Channel):
    """E-mail through an SMTP server (smtplib): plain, STARTTLS or implicit TLS, login optional.
    The message is UTF-8 (Chinese subject and body), with a ``Message-ID`` made from the delivery."""

    name = EMAIL

    def __init__(self, settings: config.Settings):
        self.settings = settings

    def compose(self, address: str, subject: str, body: str, message_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.smtp_sender
        message["To"] = address
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        domain = self.settings.smtp_sender.rpartition("@")[2] or "localhost"
        message["Message-ID"] = f"<{message_id}@{domain}>"
        message.set_content(body, charset="utf-8")
        return message

    def send(self, address: str, subject: str, body: str, message_id: str) -> None:
        s = self.settings
        try:
            if s.smtp_security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            with smtp:
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                smtp.send_message(self.compose(address, subject, body, message_id))
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"the SMTP server refused the recipient: {_codes(exc)}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server's final answer; 4xx (busy, greylisted) may pass later.
            raise ChannelError(
                f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP server {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}: {exc}") from None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _codes(exc: smtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(f"{code} {_text(text)}" for code, text in exc.recipients.values())


class SmsChannel(Channel, ABC):
    """The port of an SMS gateway. A deployment whose operator speaks another protocol subclasses
    this and names its class in the gateway's ``Channels`` provider."""

    name = SMS


class HttpSmsChannel(SmsChannel):
    """An SMS gateway that takes ``POST <ZTC_SMS_GATEWAY_URL>`` with the JSON body
    ``{"to": "13800138000", "text": "...", "message_id": "..."}`` (and ``Authorization: Bearer
    <ZTC_SMS_GATEWAY_TOKEN>`` when set) and answers 2xx once it has taken the message. A 4xx
    answer (other than 408 and 429) is a refusal that sending again cannot change; anything else
    is tried again. The subject is not sent: a text message has none."""

    def __init__(self, settings: config.Settings):
        self.settings = settings

    def send(self, address: str, subject: str, body: str, message_id: str) -> None:
        s = self.settings
        headers = {"Idempotency-Key": message_id}
        if s.sms_gateway_token:
            headers["Authorization"] = f"Bearer {s.sms_gateway_token}"
        try:
            answer = requests.post(
                s.sms_gateway_url,
                json={"to": address, "text": body, "message_id": message_id},
                headers=headers,
                timeout=s.sms_timeout_seconds,
            )
        except requests.RequestException as exc:
            raise ChannelError(f"SMS gateway: {type(exc).__name__}: {exc}") from None
        if 200 <= answer.status_code < 300:
            return
        permanent = 400 <= answer.status_code < 500 and answer.status_code not in (408, 429)
        raise ChannelError(f"SMS gateway answered {answer.status_code}: {answer.text[:200]}", permanent=permanent)


class ChannelSet:
    """The channels this deployment has configured, by name."""

    def __init__(self, channels: dict[str, Channel]):
        self._channels = channels

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(name for name in CHANNELS if name in self._channels)

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)


def configured(settings: config.Settings) -> ChannelSet:
    found: dict[str, Channel] = {}
    if settings.smtp_host:
        found[EMAIL] = SmtpChannel(settings)
    if settings.sms_gateway_url:
        found[SMS] = HttpSmsChannel(settings)
    return ChannelSet(found)


class Channels(DependencyProvider):
    """The configured channels, for the gateway's workers (built once, at setup)."""

    def setup(self):
        self.channels = configured(self.container.config.get("ZTC_SETTINGS") or config.load())

    def get_dependency(self, worker_ctx):
        return self.channels
