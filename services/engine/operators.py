"""What operators do to instances: suspend, resume, cancel, see where the tokens are, and the
batch forms of cancel and incident retry (each with a dry run).

Composed into :class:`~services.engine.engine.Engine` over the instance store. A *suspended* instance takes no job results,
messages or timers until it is resumed, and loses none of them: job results wait in
``held_results``, messages stay buffered, a timer that fell due fires on resume, and its open
tasks are hidden from the task list. A *cancelled* instance ends: its open tasks are cancelled,
its pending jobs closed (late results are dropped), its open incidents resolved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared import clock, contracts
from shared.db import transaction
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.calendar import CHINA_TZ
from shared.messaging.outbox import notify, publish_event
from shared.principal import acting_user

from .incidents import incident_dict
from .messages import buffered_counts
from .models import BufferedMessage, HeldResult, Incident, Instance, Job, Outbox, WorkItem
from .store import ENDED, HALTED, STATUSES, InstanceStore, StepInstance, iso  # noqa: F401 - HALTED is part of what operators may see
from .views import CancelledInstanceView, InstanceView

if TYPE_CHECKING:
    from .incidents import Incidents
    from .instances import Instances
    from .jobs import Jobs


def require_operator(principal: Mapping[str, Any] | None) -> None:
    """Operators' actions: a caller that names itself must hold the operator role (the services
    calling with no principal act for the system)."""
    if principal is not None and "operator" not in set(principal.get("roles") or []):
        raise Forbidden(f"{principal.get('user') or 'this caller'} is not an operator")


CANCELLED_PAYLOAD = contracts.ProcessCancelledSchema()


def task_holders(item: WorkItem) -> list[str]:
    """The addresses a task reached (``shared/contracts`` notification recipients): the person who
    claimed it; else its candidate user; else its candidate unit (``unit:<code>``, every person of
    the unit); else its candidate role. A task with no candidate at all is told to nobody."""
    if item.claimed_by:
        return [item.claimed_by]
    if item.candidate_user:
        return [item.candidate_user]
    found = [f"unit:{item.candidate_unit}"] if item.candidate_unit else []
    if item.candidate_role and not found:
        found.append(f"role:{item.candidate_role}")
    return found


def closed_task_notices(
    items: Sequence[WorkItem], subject: str, reason: str, by: str, at: datetime
) -> list[dict[str, Any]]:
    """One notice (``contracts.NoticeSchema``) for each task a cancellation closed, to whoever held
    it: the task is gone from their list, who cancelled the process, when (China time) and why."""
    when = at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    notices = []
    for item in items:
        recipients = task_holders(item)
        if not recipients:
            continue
        notices.append(
            {
                "event_id": f"{contracts.TASK_CLOSED}:{item.task_id}",
                "kind": contracts.TASK_CLOSED,
                "subject": subject[:100],
                "thread": None,
                "recipients": recipients,
                "title": f"待办已关闭：{item.title}"[:200],
                "text": (
                    f"{subject} 的流程已由 {by} 于 {when}（北京时间）撤销，原因：{reason}。"
                    f"待办「{item.title}」已关闭，无需再办理。"
                ),
            }
        )
    return notices


def cancel_reason(reason: str | None) -> str:
    """A cancellation's reason, as given: required (the services record it, the people concerned are
    told it) and at most ``contracts.CANCEL_REASON_MAX`` characters."""
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to cancel", {"reason": ["Missing data for required field."]})
    if len(reason or "") > contracts.CANCEL_REASON_MAX:
        raise InvalidInput(
            f"a cancellation's reason is at most {contracts.CANCEL_REASON_MAX} characters ({len(reason or '')} given)",
            {"reason": [f"Longer than maximum length {contracts.CANCEL_REASON_MAX}."]},
        )
    return reason or ""


class Operators:
    def __init__(self, store: InstanceStore, instances: Instances, incidents: Incidents, jobs: Jobs) -> None:
        self.store = store
        self.instances = instances
        self.incidents = incidents
        self.jobs = jobs

    # -- job results meet the instance's state -------------------------------------------------
    def accept_result(self, raw: Any) -> str:  # a decoded message body, checked by the schema
        """The job-result entrypoint: a result for a suspended instance is held, one for a
        cancelled instance dropped, any other applied (:meth:`handle_result`)."""
        return self.jobs.handle_result(raw, hold=True)

    # -- suspend, resume, cancel -------------------------------------------------------------
    def suspend(
        self, instance_id: str, reason: str | None = None, principal: Mapping[str, Any] | None = None
    ) -> InstanceView:
        require_operator(principal)

        def change(s: Session, inst: Instance) -> None:
            items = s.scalars(
                select(WorkItem).where(WorkItem.instance_id == instance_id, WorkItem.status == "open")
            ).all()
            for item in items:
                item.status = "suspended"
            self.store.history(
                s, instance_id, principal, "suspended", None, {"reason": reason, "tasks_hidden": len(items)}
            )

        self.store.set_status(instance_id, "suspended", ("running", "waiting", "incident"), change, principal)
        return self.instances.get(instance_id)

    def resume(self, instance_id: str, principal: Mapping[str, Any] | None = None) -> InstanceView:
        require_operator(principal)
        with transaction(self.store.sessions) as s:
            inst = s.get(Instance, instance_id)
            if inst is None:
                raise NotFound(f"no instance {instance_id}")
            if inst.status != "suspended":
                raise Conflict(f"instance {instance_id} is {inst.status}, not suspended")

        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> str:
            if inst.status != "suspended":
                raise Conflict(f"instance {instance_id} is {inst.status}, not suspended")
            for item in s.scalars(
                select(WorkItem).where(WorkItem.instance_id == instance_id, WorkItem.status == "suspended")
            ):
                item.status = "open"
            held = s.scalars(
                select(HeldResult).where(HeldResult.instance_id == instance_id).order_by(HeldResult.id)
            ).all()
            now = clock.now()
            for row in held:
                # Through the outbox to the results queue: applied as if it had just arrived.
                s.add(
                    Outbox(
                        exchange=contracts.RESULTS_EXCHANGE,
                        routing_key=contracts.RESULT_ROUTING_KEY,
                        payload=row.payload,
                        headers={},
                        available_at=now,
                        created_at=now,
                        attempts=0,
                    )
                )
                s.delete(row)
            s.flush()
            self.store.history(s, instance_id, principal, "resumed", None, {"held_results_released": len(held)})
            return "resumed"

        setattr(change, "ztc_resumes", True)  # noqa: B010 (a mark on a function object, unknown to its type)
        # Saving recomputes what the instance waits for, delivers buffered messages it waits for,
        # and the next timer tick fires what fell due meanwhile.
        self.store.mutate(instance_id, change, principal)
        return self.instances.get(instance_id)

    def cancel(
        self, instance_id: str, reason: str, principal: Mapping[str, Any] | None = None
    ) -> CancelledInstanceView:
        require_operator(principal)
        reason = cancel_reason(reason)
        closed: dict[str, int] = {}

        def change(s: Session, inst: Instance) -> None:
            now = clock.now()
            items = s.scalars(
                select(WorkItem).where(WorkItem.instance_id == instance_id, WorkItem.status.in_(("open", "suspended")))
            ).all()
            for item in items:
                item.status, item.completed_at = "cancelled", now
            jobs = s.scalars(
                select(Job).where(Job.instance_id == instance_id, Job.status.in_(("pending", "incident")))
            ).all()
            for job in jobs:
                job.status, job.updated_at = "cancelled", now
            incidents = s.scalars(
                select(Incident).where(Incident.instance_id == instance_id, Incident.status.in_(("open", "retrying")))
            ).all()
            for incident in incidents:
                incident.status, incident.resolved_at = "resolved", now
                incident.resolution = f"instance cancelled: {reason}"
            held = s.scalars(select(HeldResult).where(HeldResult.instance_id == instance_id)).all()
            for row in held:
                s.delete(row)
            closed.update(tasks=len(items), jobs=len(jobs), incidents=len(incidents), held_results=len(held))
            # Whoever held a closed task is told it is gone, and why: it left their list at once.
            notices = closed_task_notices(items, inst.business_key or instance_id, reason, acting_user(principal), now)
            if notices:  # the first is the message, the others ride on it (as NoticeSchema)
                notify(s, Outbox, **notices[0], notices=notices[1:])
            # Where its tokens stood, for the diagram to show where it was stopped.
            key, spec = self.store.spec(s, inst.version_id)
            workflow = self.store.runtime.loads(copy.deepcopy(inst.state), spec, version_key=key)
            stood_at = self.store.runtime.current_elements(workflow)
            self.store.history(
                s,
                instance_id,
                principal,
                "cancelled",
                None,
                {"reason": reason, "closed": dict(closed), "stood_at": stood_at},
            )
            # The services close what they keep open for the business object, in this transaction's
            # outbox: committed with the cancellation or not at all.
            publish_event(
                s,
                Outbox,
                contracts.PROCESS_CANCELLED,
                f"cancelled:{instance_id}",
                inst.business_key or instance_id,
                payload=CANCELLED_PAYLOAD.load(
                    {
                        "instance_id": instance_id,
                        "process_id": inst.process_id,
                        "business_key": inst.business_key,
                        "reason": reason,
                        "by": acting_user(principal),
                    }
                ),
            )

        self.store.set_status(
            instance_id, "cancelled", ("running", "waiting", "incident", "suspended"), change, principal
        )
        return {**self.instances.get(instance_id), "closed": closed}

    # -- where the tokens are ------------------------------------------------------------------
    def where(self, instance_id: str) -> dict[str, Any]:
        """Where the instance is now: each user task (for whom, claimed by), each job (operation,
        attempt, last error), each message it waits for (and whether one is buffered), its next
        timer, open incidents, results held while suspended, and the elements it has completed."""
        with transaction(self.store.sessions) as s:
            inst = s.get(Instance, instance_id)
            if inst is None:
                raise NotFound(f"no instance {instance_id}")
            description = self.instances.describe(s, inst)
            tokens: list[dict[str, object]] = []
            for w in s.scalars(
                select(WorkItem)
                .where(WorkItem.instance_id == instance_id, WorkItem.status.in_(("open", "suspended")))
                .order_by(WorkItem.created_at)
            ):
                tokens.append(
                    {
                        "kind": "user_task",
                        "task": w.task_name,
                        "title": w.title,
                        "task_id": w.task_id,
                        "status": w.status,
                        "candidate_role": w.candidate_role,
                        "candidate_unit": w.candidate_unit,
                        "candidate_user": w.candidate_user,
                        "claimed_by": w.claimed_by,
                        "since": iso(w.created_at),
                    }
                )
            for j in s.scalars(
                select(Job)
                .where(Job.instance_id == instance_id, Job.status.in_(("pending", "incident")))
                .order_by(Job.created_at)
            ):
                tokens.append(
                    {
                        "kind": "job",
                        "task": j.task_name,
                        "operation": j.operation,
                        "job_id": j.job_id,
                        "status": j.status,
                        "attempt": j.attempt,
                        "max_attempts": j.max_attempts,
                        "last_error": j.last_error,
                        "since": iso(j.updated_at),
                    }
                )
            waiting_messages, next_timer = [], None
            key, spec = self.store.spec(s, inst.version_id)
            runtime = self.store.runtime
            workflow = runtime.loads(copy.deepcopy(inst.state), spec, version_key=key)
            completed = runtime.completed_elements(workflow)
            if inst.status not in ENDED:
                wait = runtime.wait_state(workflow)
                waiting_messages, next_timer = wait.waiting_messages, wait.next_timer
            for name in waiting_messages:
                buffered = (
                    s.scalar(
                        select(func.count())
                        .select_from(BufferedMessage)
                        .where(
                            BufferedMessage.name == name,
                            BufferedMessage.correlation_key == inst.business_key,
                            BufferedMessage.status == "buffered",
                        )
                    )
                    if inst.business_key
                    else 0
                )
                tokens.append(
                    {"kind": "message", "name": name, "correlation_key": inst.business_key, "buffered": buffered}
                )
            if next_timer is not None:
                tokens.append({"kind": "timer", "due": iso(clock.as_utc(next_timer))})
            held = s.scalar(select(func.count()).select_from(HeldResult).where(HeldResult.instance_id == instance_id))
        return {"instance": description, "tokens": tokens, "held_results": held, "completed": completed}

    # -- batches -----------------------------------------------------------------------------
    def select_instances(
        self,
        business_key_prefix: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        if not (business_key_prefix or process_id or status):
            raise InvalidInput(
                "say which instances: a business key prefix, a process or a status",
                {"business_key_prefix": ["Give at least one filter."]},
            )
        if status and status not in STATUSES:
            raise InvalidInput(
                f"no instance is ever {status!r}: one of {', '.join(STATUSES)}",
                {"status": [f"Must be one of: {', '.join(STATUSES)}."]},
            )
        with transaction(self.store.sessions) as s:
            query = (
                select(Instance.id, Instance.process_id, Instance.business_key, Instance.status)
                .order_by(Instance.created_at)
                .limit(limit)
            )
            if business_key_prefix:
                escaped = business_key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(Instance.business_key.like(escaped + "%", escape="\\"))
            if process_id:
                query = query.where(Instance.process_id == process_id)
            if status:
                query = query.where(Instance.status == status)
            return [{"id": i, "process_id": p, "business_key": k, "status": st} for i, p, k, st in s.execute(query)]

    def cancel_instances(
        self,
        reason: str,
        business_key_prefix: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        dry_run: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Cancel every instance that matches (not those already ended); ``dry_run`` only lists them."""
        require_operator(principal)
        reason = cancel_reason(reason)
        matched = [
            i for i in self.select_instances(business_key_prefix, process_id, status) if i["status"] not in ENDED
        ]
        if dry_run:
            return {"dry_run": True, "matched": matched, "done": [], "failed": []}
        done, failed = [], []
        for row in matched:
            try:
                self.cancel(row["id"], reason, principal)
                done.append({**row, "status": "cancelled", "was": row["status"]})
            except (Conflict, NotFound) as exc:
                failed.append({**row, "error": exc.message})
        return {"dry_run": False, "matched": matched, "done": done, "failed": failed}

    def retry_incidents(
        self,
        operation: str | None = None,
        process_id: str | None = None,
        dry_run: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Retry every open incident (of ``operation`` / ``process_id`` if given)."""
        require_operator(principal)
        with transaction(self.store.sessions) as s:
            query = (
                select(Incident, Instance.process_id, Instance.status)
                .join(Instance, Instance.id == Incident.instance_id)
                .where(Incident.status == "open")
                .order_by(Incident.id)
            )
            if operation:
                query = query.where(Incident.operation == operation)
            if process_id:
                query = query.where(Instance.process_id == process_id)
            matched: list[dict[str, Any]] = [
                {**incident_dict(i), "process_id": p, "instance_status": st} for i, p, st in s.execute(query)
            ]
        if dry_run:
            return {"dry_run": True, "matched": matched, "done": [], "failed": []}
        done, failed = [], []
        for row in matched:
            if row["instance_status"] in HALTED:
                failed.append({**row, "error": f"instance {row['instance_id']} is {row['instance_status']}"})
                continue
            try:
                done.append(self.incidents.retry(row["id"], principal))
            except (Conflict, NotFound) as exc:
                failed.append({**row, "error": exc.message})
        return {"dry_run": False, "matched": matched, "done": done, "failed": failed}


def operator_counts(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Figures for the metrics: instances by process and state, open incidents by operation,
    pending jobs, held results."""
    with transaction(sessions) as s:
        instances = [
            (p, st, n)
            for p, st, n in s.execute(
                select(Instance.process_id, Instance.status, func.count()).group_by(
                    Instance.process_id, Instance.status
                )
            )
        ]
        incidents = [
            (op or "", n)
            for op, n in s.execute(
                select(Incident.operation, func.count()).where(Incident.status == "open").group_by(Incident.operation)
            )
        ]
        pending = [
            (op, n)
            for op, n in s.execute(
                select(Job.operation, func.count()).where(Job.status == "pending").group_by(Job.operation)
            )
        ]
        held = s.scalar(select(func.count()).select_from(HeldResult))
        work = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.status == "open"))
        messages = buffered_counts(s)
    return {
        "instances": instances,
        "incidents": incidents,
        "pending_jobs": pending,
        "held_results": held,
        "open_work_items": work,
        "buffered_messages": messages,
    }
