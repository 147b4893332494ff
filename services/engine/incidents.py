"""Incidents: a job that failed its last attempt, a business error no boundary event catches, or a
step that failed (a script, an expression, a limit). An operator retries or resolves them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import validate

from shared.contracts import field_types as fields
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import clock
from shared.db import counted_page, transaction
from shared.errors import Conflict, InvalidInput, NotFound
from shared.validation import PageQuery, load, page_answer, page_window
from shared.workflow.runtime import StepFailed

from .jobs import undeclared
from .models import Incident, Job
from .store import INCIDENT_OPENED, UNCHANGED, InstanceStore, StepInstance, iso
from .views import IncidentView


def incident_dict(i: Incident) -> IncidentView:
    return {
        "id": i.id,
        "instance_id": i.instance_id,
        "job_id": i.job_id,
        "task": i.task_name,
        "operation": i.operation,
        "error": i.error,
        "status": i.status,
        "created_at": iso(i.created_at),
        "resolved_at": iso(i.resolved_at),
        "resolution": i.resolution,
    }


INCIDENT_STATUSES = ("open", "retrying", "resolved")


class IncidentQuery(PageQuery):
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(("", *INCIDENT_STATUSES)),
        metadata={"description": "open (the default), retrying, resolved; empty: every incident"},
    )


class Incidents:
    def __init__(self, store: InstanceStore) -> None:
        self.store = store
        self.send_job: Any = None  # Jobs.send: a retried job goes out again

    # -- opening --------------------------------------------------------------------------------
    def for_step(self, s: Session, inst: StepInstance, exc: StepFailed, principal: Mapping[str, Any] | None) -> str:
        """A failed step: the state reached is saved with an open incident naming the element."""
        incident = Incident(
            instance_id=inst.id,
            job_id=None,
            task_name=exc.task_name,
            operation=None,
            error=exc.message,
            status="open",
            created_at=clock.now(),
        )
        s.add(incident)
        s.flush()
        s.info[INCIDENT_OPENED] = True
        self.store.history(
            s, inst.id, principal, "incident", exc.task_name, {"incident_id": incident.id, "error": exc.message}
        )
        return "incident"

    def open_for_step_once(self, s: Session, inst: StepInstance, exc: StepFailed) -> None:
        """An incident for a step, unless one is open for that element already (however often the
        instance is saved meanwhile)."""
        already = s.scalar(
            select(func.count())
            .select_from(Incident)
            .where(
                Incident.instance_id == inst.id,
                Incident.status == "open",
                Incident.job_id.is_(None),
                Incident.task_name == exc.task_name,
            )
        )
        if not already:
            self.for_step(s, inst, exc, None)

    def raise_for_job(self, job_id: str, error: str, instance_id: str | None = None) -> None:
        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> object:
            job = s.get(Job, job_id)
            assert job is not None  # a job's row is never deleted
            if job.status != "pending":
                return UNCHANGED
            self.open_for_job(s, job, error)
            return "incident"

        if instance_id is None:
            with transaction(self.store.sessions) as s:
                job = s.get(Job, job_id)
                assert job is not None  # an incident's job is never deleted
                instance_id = job.instance_id
        self.store.mutate(instance_id, change)

    def open_for_job(self, s: Session, job: Job, error: str) -> None:
        job.status = "incident"
        job.last_error = error
        job.updated_at = clock.now()
        incident = s.scalar(select(Incident).where(Incident.job_id == job.job_id, Incident.status == "retrying"))
        if incident is None:
            incident = Incident(
                instance_id=job.instance_id,
                job_id=job.job_id,
                task_name=job.task_name,
                operation=job.operation,
                created_at=clock.now(),
                error=error,
                status="open",
            )
            s.add(incident)
        incident.status = "open"
        incident.error = error
        s.flush()
        s.info[INCIDENT_OPENED] = True
        self.store.history(
            s,
            job.instance_id,
            None,
            "incident",
            job.task_name,
            {"job_id": job.job_id, "incident_id": incident.id, "error": error},
        )

    # -- reading ----------------------------------------------------------------------------------
    def page(self, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A page of the incidents, newest first: ``query`` holds ``page`` (from 1), ``per_page``
        (1-200, default 50) and ``status`` (open by default; retrying, resolved, or empty for
        every one), with their ``total`` counted in SQL. Resolved incidents stay for the record,
        so a deployment's whole list only grows: it is read a page at a time."""
        data = load(IncidentQuery, dict(query or {}), "the incidents' query")
        offset, limit = page_window(data)
        where = [Incident.status == data["status"]] if data["status"] else []
        with transaction(self.store.sessions) as s:
            total, rows = counted_page(s, Incident, where, (Incident.id.desc(),), offset, limit)
            return page_answer(data, total, [incident_dict(i) for i in rows])

    def list(self, status: str | None = "open") -> list[IncidentView]:
        with transaction(self.store.sessions) as s:
            query = select(Incident).order_by(Incident.id)
            if status:
                query = query.where(Incident.status == status)
            return [incident_dict(i) for i in s.scalars(query)]

    def get(self, incident_id: int) -> IncidentView:
        with transaction(self.store.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            return incident_dict(incident)

    # -- operators' actions -------------------------------------------------------------------------
    def retry(self, incident_id: int, principal: Mapping[str, Any] | None = None) -> IncidentView:
        """Send the incident's job again with a fresh budget of attempts (or run a failed step again)."""
        store = self.store
        with transaction(store.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            if incident.status != "open":
                raise Conflict(f"incident {incident_id} is {incident.status}, not open")
            instance_id = incident.instance_id

        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> str:
            incident = s.get(Incident, incident_id)
            assert incident is not None  # an incident's row is never deleted
            if incident.status != "open":
                raise Conflict(f"incident {incident_id} is {incident.status}, not open")
            if incident.job_id is None:
                # A failed step: run it again; if it fails again the incident stays open.
                store.history(s, inst.id, principal, "incident_retry", incident.task_name, {"incident_id": incident_id})
                try:
                    store.runtime.retry_failed(workflow)
                except StepFailed as exc:
                    incident.error = exc.message
                    return "failed again"
                incident.status = "resolved"
                incident.resolved_at = clock.now()
                incident.resolution = "retried to completion"
                return "retried"
            job = s.get(Job, incident.job_id)
            assert job is not None  # a job's row is never deleted
            unknown = undeclared(job.operation)
            if unknown:
                raise Conflict(
                    f"element '{job.task_name}': {unknown}; sending it again cannot help — "
                    "deploy a version that names an existing operation and move the instance "
                    "to it with 'ztc instances migrate'"
                )
            job.attempt += 1
            assert store.settings is not None  # only an engine made to validate diagrams has none
            job.max_attempts = job.attempt + store.settings.job_max_attempts - 1
            job.status = "pending"
            job.updated_at = clock.now()
            incident.status = "retrying"
            # The job acts for whoever it was first sent for; the operator's retry is in the history.
            self.send_job(
                s, inst, job.job_id, job.task_id, job.operation, job.params, job.attempt, job.principal, clock.now()
            )
            store.history(
                s,
                inst.id,
                principal,
                "incident_retry",
                job.task_name,
                {"incident_id": incident_id, "job_id": job.job_id, "attempt": job.attempt},
            )
            return "retrying"

        store.mutate(instance_id, change, principal)
        return self.get(incident_id)

    def resolve(self, incident_id: int, resolution: str, principal: Mapping[str, Any] | None = None) -> IncidentView:
        """Close an incident without retrying (the operator fixed things by other means)."""
        if not resolution:
            raise InvalidInput("a resolution is required", {"resolution": ["Missing data for required field."]})
        with transaction(self.store.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            instance_id = incident.instance_id

        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> str:
            incident = s.get(Incident, incident_id)
            assert incident is not None  # an incident's row is never deleted
            if incident.status == "resolved":
                raise Conflict(f"incident {incident_id} is already resolved")
            incident.status = "resolved"
            incident.resolved_at = clock.now()
            incident.resolution = resolution
            self.store.history(
                s,
                inst.id,
                principal,
                "incident_resolved",
                incident.task_name,
                {"incident_id": incident_id, "resolution": resolution},
            )
            return "resolved"

        self.store.mutate(instance_id, change, principal)
        return self.get(incident_id)
