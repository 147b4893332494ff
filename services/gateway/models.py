from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, UtcDateTime
from shared.messaging.models import messaging_models

Base = make_base()
Outbox, Inbox = messaging_models(Base)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, when made. It
    expires at ``expires_at`` (a person's after hours, a department system's after months)."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    roles: Mapped[list] = mapped_column(JSON)
    unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20), default="person", server_default="person")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PublicLimitCount(Base):
    """How many public submissions one client address or one venue made in one window (a fixed
    window of ``ZTC_PUBLIC_CASES_WINDOW_SECONDS``, starting at ``window_start`` in epoch seconds),
    and how many console logins failed per account from an address and per address
    (``ZTC_CONSOLE_LOGIN_WINDOW_SECONDS``)."""

    __tablename__ = "public_limit_counts"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)  # address | venue | login_account | login_address
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a caller gave a creating request that succeeded, with the request's
    fingerprint (:mod:`.idempotency`): another request under the same key is refused."""

    __tablename__ = "idempotency_keys"

    user: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConsoleAccount(Base):
    """A person who signs in to the web console with a password. Only an Argon2id hash of the
    password is stored (argon2-cffi); ``roles`` and ``unit`` are what the session's API token carries."""

    __tablename__ = "console_accounts"

    user: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list] = mapped_column(JSON)
    unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
