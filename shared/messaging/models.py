"""Outbox and inbox tables, made for each service's own declarative base.

The outbox holds messages written in the same transaction as the state they describe; the relay
publishes them after commit. The inbox records each job a worker has finished, so a second
delivery of the same job has no second effect, and (keyed ``cancelled:<instance id>``) each instance
whose cancellation the service heard, so a job of it still queued is answered without running.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.db import UtcDateTime
from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def messaging_models(Base: type[DeclarativeBase]) -> tuple[type[Any], type[Any]]:
    # The classes are made on each service's own declarative base, so every service has its own
    # outbox and inbox tables; a base given as an argument is beyond what mypy can check.
    class Outbox(Base):  # type: ignore[valid-type, misc]
        __tablename__ = "outbox"
        __table_args__ = (Index("ix_outbox_available", "available_at"),)

        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        exchange: Mapped[str] = mapped_column(String(100))
        routing_key: Mapped[str] = mapped_column(String(200))
        payload: Mapped[dict[str, Any]] = mapped_column(JSON)
        headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
        available_at: Mapped[datetime] = mapped_column(UtcDateTime())
        created_at: Mapped[datetime] = mapped_column(UtcDateTime())
        attempts: Mapped[int] = mapped_column(Integer, default=0)
        last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    class Inbox(Base):  # type: ignore[valid-type, misc]
        __tablename__ = "inbox"

        job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
        operation: Mapped[str] = mapped_column(String(200))
        status: Mapped[str] = mapped_column(String(20))
        result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
        processed_at: Mapped[datetime] = mapped_column(UtcDateTime())

    return Outbox, Inbox
