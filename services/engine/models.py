"""The engine's tables. Instance state is SpiffWorkflow's JSON plus the columns people query."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, UtcDateTime
from shared.messaging.models import messaging_models


class Base(DeclarativeBase):
    """The engine's own tables, metadata and database."""

    type_annotation_map = TYPE_ANNOTATION_MAP


Outbox, Inbox = messaging_models(Base)


class ProcessVersion(Base):
    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deployed_by: Mapped[str] = mapped_column(String(100))
    # The process's versions counted 1, 2, 3… in the order they were deployed (what designers say).
    number: Mapped[int] = mapped_column(Integer, default=1)


class Activation(Base):
    """Append-only: which version of a process new instances start on, from when, chosen by whom.

    The newest row of a process names its active version; a process with none is not startable
    (every version is a draft). ``how``: deploy (a new file), redeploy (a known file deployed again:
    a rollback), activate (chosen with ``ztc versions activate``), migration (the table's start)."""

    __tablename__ = "activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    how: Mapped[str] = mapped_column(String(20))
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    activated_by: Mapped[str] = mapped_column(String(100))


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_business_key", "business_key"),
        Index("ix_instances_status_timer", "status", "next_timer"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    waiting_tasks: Mapped[list[str]] = mapped_column(JSON, default=list)
    waiting_messages: Mapped[str] = mapped_column(String(1000), default="")
    next_timer: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class History(Base):
    """Append-only: who did what, when, with what data."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    task: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    __tablename__ = "jobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    task_name: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    principal: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # pending | done | incident
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    task_name: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # open | retrying | resolved
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class WorkItem(Base):
    """A user task waiting for a person: the task list."""

    __tablename__ = "work_items"
    # The task list filters open items by role, unit and user in SQL (tasklist.visible_to).
    # A person's page walks ix_work_items_open_order in the list's order, one range per kind of
    # candidate they match (tasklist.page), so it reads a page's rows, not every open item of theirs.
    __table_args__ = (
        Index(
            "ix_work_items_open_order",
            "status",
            text("coalesce(candidate_role, '')"),
            text("coalesce(candidate_unit, '')"),
            text("coalesce(candidate_user, '')"),
            "created_at",
            "task_id",
            # The candidates as they are, too: the count reads this index alone (SQLite looks up
            # the table for a row whose expressions' columns the index does not hold).
            "candidate_role",
            "candidate_unit",
            "candidate_user",
        ),
        # A person's task of one proposal (complete_open_task, ?business_key=): read by its key, not
        # found among all their open items.
        Index("ix_work_items_business_key", "business_key", "status"),
    )

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    task_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    candidate_role: Mapped[str | None] = mapped_column(String(100), nullable=True)
    candidate_unit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    candidate_user: Mapped[str | None] = mapped_column(String(100), nullable=True)
    form_schema: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # open | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Why the task is asked for (again): the business error the diagram caught in the step that
    # opened it, ``{code, message, operation}`` (a service refused what the last step sent it:
    # an extension past its cap, a member the directory lacks); None if the step caught none.
    reason: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class BufferedMessage(Base):
    """A message received from outside; kept until an instance takes it or its time to live ends."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_waiting", "name", "correlation_key", "status"),)

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # buffered | delivered | expired
    instance_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class HeldResult(Base):
    """A job result that reached a suspended instance: kept here, applied when it is resumed."""

    __tablename__ = "held_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    job_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    held_at: Mapped[datetime] = mapped_column(UtcDateTime())
