"""The shapes of what the engine answers about an instance, an incident and a work item (JSON:
times as ISO 8601 strings). Types only: the dicts are built where the rows are read."""

from __future__ import annotations

from typing import Any, TypedDict


class IncidentView(TypedDict):
    id: int
    instance_id: str
    job_id: str | None
    task: str
    operation: str | None
    error: str
    status: str  # open | retrying | resolved
    created_at: str | None
    resolved_at: str | None
    resolution: str | None


class InstanceView(TypedDict):
    id: str
    process_id: str
    version: str
    business_key: str | None
    status: str
    waiting_tasks: list[str]
    waiting_messages: list[str]
    next_timer: str | None
    revision: int
    data: dict[str, Any]  # the instance's task data, as its diagram's scripts and forms made it
    incidents: list[IncidentView]  # those not resolved
    created_at: str | None
    updated_at: str | None


class WorkItemView(TypedDict):
    task_id: str
    instance_id: str
    process_id: str
    business_key: str | None
    task: str
    title: str
    candidate_role: str | None
    candidate_unit: str | None
    candidate_user: str | None
    form_schema: str | None
    claimed_by: str | None
    status: str  # open | completed | cancelled
    created_at: str | None
    # why it is asked for (again): the business error the step that opened it caught
    # ({code, message, operation}), or None
    reason: dict[str, Any] | None


class TaskPageView(TypedDict):
    page: int
    per_page: int
    total: int  # every open task the principal may act on among those filtered
    total_exact: bool  # always true: open tasks are counted to the last (they are few; the index has them)
    items: list[WorkItemView]


class CancelledInstanceView(InstanceView):
    closed: dict[str, int]  # how many open tasks, jobs, incidents and held results the cancel closed
