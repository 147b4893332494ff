"""Jobs: a service task's work sent to the owning service (written to the outbox in the same
transaction as the instance), and the results that come back — completed, a BPMN error the
diagram catches, a retry with backoff, or, after the last attempt, an incident."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeGuard, TypeVar, cast

from marshmallow import ValidationError
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from shared import clock, contracts
from shared import principal as signing
from shared.contracts import jobs as job_contracts
from shared.db import transaction
from shared.direct import Direct
from shared.errors import InvalidInput
from shared.workflow.runtime import JobRequest, TaskNotWaiting, WaitState

from .models import HeldResult, Incident, Instance, Job, Outbox
from .store import CAUGHT_ERROR, INSTANCES, STEP_COLUMNS, UNCHANGED, InstanceStore, StepInstance, step_instance


# A job result's step reads and writes its job with statements built once (see store.py).
JOBS = cast(Table, Job.__table__)
INCIDENTS = cast(Table, Incident.__table__)
JOB_COLUMNS = (JOBS.c.job_id, JOBS.c.status, JOBS.c.attempt, JOBS.c.instance_id, JOBS.c.task_id, JOBS.c.task_name)
# The job and its instance, in one statement (the instance's columns last: see store.STEP_COLUMNS).
LOAD_JOB = (
    select(*JOB_COLUMNS, *STEP_COLUMNS)
    .join_from(JOBS, INSTANCES, INSTANCES.c.id == JOBS.c.instance_id)
    .where(JOBS.c.job_id == bindparam("job_id"))
)
FINISH_JOB = update(JOBS).where(JOBS.c.job_id == bindparam("finished_id"))
RESOLVE_RETRIED = update(INCIDENTS).where(
    INCIDENTS.c.job_id == bindparam("retried_job_id"), INCIDENTS.c.status == "retrying"
)
# A result that reaches a suspended instance, kept for its resume.
HOLD = insert(cast(Table, HeldResult.__table__))
INSTANCE_STATUS = select(Instance.status).where(Instance.id == bindparam("instance_id"))
INSERT_JOB = insert(JOBS)
INSERT_OUTBOX = insert(cast(Table, Outbox.__table__))
# The same, run on the driver's cursor (shared/direct.py): a step's own statements.
LOAD_JOB_DIRECT = Direct(LOAD_JOB)
FINISH_JOB_DIRECT = Direct(FINISH_JOB, ("status", "updated_at"))
INSERT_JOB_DIRECT = Direct(
    INSERT_JOB,
    (
        "job_id",
        "instance_id",
        "task_id",
        "task_name",
        "operation",
        "params",
        "principal",
        "attempt",
        "max_attempts",
        "status",
        "created_at",
        "updated_at",
    ),
)
INSERT_OUTBOX_DIRECT = Direct(
    INSERT_OUTBOX, ("exchange", "routing_key", "payload", "headers", "available_at", "created_at", "attempts")
)
# Schemas without state or hooks, made once: making one costs more than what it does for a job.
JOB_SCHEMA = contracts.JobSchema()
RESULT_SCHEMA = contracts.JobResultSchema()
JobRow = Row[str, str, int, str, str, str]  # what LOAD_JOB reads of the job (its first columns)
J = TypeVar("J", Job, JobRow)


class IncidentsForJobs(Protocol):
    """What jobs ask of the incidents (:class:`.incidents.Incidents`, which imports this module)."""

    def open_for_job(self, s: Session, job: Job, error: str) -> None: ...

    def raise_for_job(self, job_id: str, error: str, instance_id: str | None = None) -> None: ...


UNKNOWN_OPERATION = "unknown_operation"  # shared.messaging.entrypoints answers it for no handler
REFUSED_JOB = "refused_job"  # ... and this for a job it could not take (its seal, its form)


def undeclared(operation: str) -> str | None:
    """Why ``operation`` cannot be sent (it is not declared in shared/contracts/jobs), or None."""
    if job_contracts.get(operation) is not None:
        return None
    known = sorted(job_contracts.OPERATIONS)
    close = difflib.get_close_matches(operation, known, n=1)
    return f"operation '{operation}' is not declared in shared/contracts/jobs, so no service handles it" + (
        f" (did you mean '{close[0]}'?)" if close else ""
    )


class Jobs:
    def __init__(self, store: InstanceStore, incidents: IncidentsForJobs) -> None:
        self.store = store
        self.incidents = incidents

    # -- out: the instance asks for work --------------------------------------------------------
    def emit_new(
        self,
        s: Session,
        inst: StepInstance,
        workflow: BpmnWorkflow,
        wait: WaitState,
        principal: Mapping[str, Any] | None,
    ) -> None:
        """A save step: every service task the instance reached becomes a job in the outbox, acting
        for whoever caused the step."""
        for request in wait.new_jobs:
            self.emit(s, inst, workflow, request, principal)

    def emit(
        self,
        s: Session,
        inst: StepInstance,
        workflow: BpmnWorkflow,
        request: JobRequest,
        principal: Mapping[str, Any] | None,
    ) -> None:
        job_id = uuid.uuid4().hex
        self.store.runtime.mark_job_sent(workflow, request.task_id, job_id)
        now = clock.now()
        assert self.store.settings is not None  # only an engine made to validate diagrams has none
        max_attempts = request.retries if request.retries else self.store.settings.job_max_attempts
        row = dict(
            job_id=job_id,
            instance_id=inst.id,
            task_id=request.task_id,
            task_name=request.task_name,
            operation=request.operation,
            params=request.params,
            principal=principal,
            attempt=1,
            max_attempts=max_attempts,
            status="pending",
            created_at=now,
            updated_at=now,
        )
        unknown = undeclared(request.operation)
        if not unknown:
            # The everyday path writes the job with a Core insert (no ORM object is needed after it).
            INSERT_JOB_DIRECT.later(s.connection(), row)
        else:
            job = Job(**row)
            s.add(job)
            # No service could take it (a version deployed before the operation was renamed or
            # removed): an incident on the instance now, instead of a job nobody answers.
            self.store.history(
                s,
                inst.id,
                principal,
                "job_not_sent",
                request.task_name,
                {"job_id": job_id, "operation": request.operation, "error": unknown},
            )
            self.incidents.open_for_job(s, job, f"element '{request.task_name}': {unknown}")
            return
        self.send(s, inst, job_id, request.task_id, request.operation, request.params, 1, principal, now)
        self.store.history(
            s, inst.id, principal, "job_sent", request.task_name, {"job_id": job_id, "operation": request.operation}
        )

    def send(
        self,
        s: Session,
        inst: Instance | StepInstance,
        job_id: str,
        task_id: str,
        operation: str,
        params: Mapping[str, Any],
        attempt: int,
        principal: Mapping[str, Any] | None,
        available_at: datetime,
    ) -> None:
        """The job message, sealed with the deployment key (the service refuses a job that is not:
        shared/principal.py), to the outbox (the relay publishes it after commit)."""
        payload = JOB_SCHEMA.dump(
            {
                "job_id": job_id,
                "instance_id": inst.id if hasattr(inst, "id") else inst,
                "task_id": task_id,
                "operation": operation,
                "params": params,
                "attempt": attempt,
                "business_key": getattr(inst, "business_key", None),
                "principal": principal,
            }
        )
        assert self.store.settings is not None  # only an engine made to validate diagrams has none
        payload = signing.seal(payload, signing.key_of(self.store.settings), signing.JOB)
        INSERT_OUTBOX_DIRECT.later(
            s.connection(),
            {
                "exchange": contracts.JOBS_EXCHANGE,
                "routing_key": operation,
                "payload": payload,
                "headers": {},
                "available_at": available_at,
                "created_at": clock.now(),
                "attempts": 0,
            },
        )

    # -- in: results ------------------------------------------------------------------------------
    def handle_result(self, raw: dict[str, Any], hold: bool = False) -> str:
        """Apply a job result. Returns what happened: completed, caught, retry, incident, dropped.

        A success or a business error is checked and applied in the one transaction that changes
        the instance (one transaction per result); a technical failure is checked and scheduled
        for retry in one transaction, and only the last attempt's failure takes a second one.
        With ``hold`` (the results queue's: :meth:`.operators.Operators.accept_result`) a result
        whose job's instance is suspended is kept for its resume ("held") and one whose instance
        is cancelled is dropped, whether or not it applies, decided in that same transaction."""
        try:
            result = RESULT_SCHEMA.load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed job result", exc.messages) from None
        held = raw if hold else None
        if result["status"] == "ok":
            return self._complete(result, held)
        if result["status"] == "error":
            return self._throw_error(result, held)
        error = (result.get("error") or {}).get("message") or "failed"
        code = (result.get("error") or {}).get("code")
        settings = self.store.settings
        assert settings is not None  # only an engine made to validate diagrams has none
        with transaction(self.store.sessions) as s:
            job = s.get(Job, result["job_id"])
            if held is not None and job is not None:
                status = s.connection().execute(INSTANCE_STATUS, {"instance_id": job.instance_id}).scalar()
                halted = self._halted(s, status, job.instance_id, job.job_id, held)
                if halted is not None:
                    return halted
            if not self.applies(job, result):
                return "dropped"
            instance_id = job.instance_id
            if code == UNKNOWN_OPERATION:
                # No handler takes it: trying again cannot help until the service is deployed.
                error = (
                    f"element '{job.task_name}': {error} — deploy a service that handles "
                    f"'{job.operation}' and retry the incident, or migrate the instance to a "
                    "version that names an existing operation"
                )
                outcome = "incident"
            elif code == REFUSED_JOB:
                # Sent again it would be refused again: the letter is in the dead-letter queue.
                error = (
                    f"element '{job.task_name}': {error} — the job is in the dead-letter queue "
                    "('ztc dead-letters list'); retry the incident once its cause is found"
                )
                outcome = "incident"
            elif job.attempt < job.max_attempts:
                delay = min(settings.job_backoff_seconds * 2 ** (job.attempt - 1), settings.job_backoff_max_seconds)
                job.attempt += 1
                job.last_error = error
                job.updated_at = clock.now()
                inst = s.get(Instance, job.instance_id)
                assert inst is not None  # a job's instance is never deleted
                self.send(
                    s,
                    inst,
                    job.job_id,
                    job.task_id,
                    job.operation,
                    job.params,
                    job.attempt,
                    job.principal,
                    clock.now() + timedelta(seconds=delay),
                )
                self.store.history(
                    s,
                    job.instance_id,
                    None,
                    "job_retry",
                    job.task_name,
                    {"job_id": job.job_id, "attempt": job.attempt, "error": error, "delay_seconds": delay},
                )
                outcome = "retry"
            else:
                outcome = "incident"
        if outcome == "retry":
            self.store.on_commit()
            return outcome
        self.incidents.raise_for_job(result["job_id"], error, instance_id)
        return "incident"

    @staticmethod
    def applies(job: J | None, result: Mapping[str, Any]) -> TypeGuard[J]:
        """A result applies to a job that is not done, for the attempt it answers, and to the
        instance and task the job belongs to; any other (a duplicate, a stale attempt) is dropped."""
        return (
            job is not None
            and job.status != "done"
            and job.attempt == result["attempt"]
            and job.instance_id == result["instance_id"]
            and job.task_id == result["task_id"]
        )

    @staticmethod
    def _halted(s: Session, status: str | None, instance_id: str, job_id: str, raw: dict[str, Any]) -> str | None:
        """A result for a cancelled instance is dropped, one for a suspended instance held (kept
        in this transaction); None for any other."""
        if status == "cancelled":
            return "dropped"
        if status == "suspended":
            s.connection().execute(
                HOLD, {"instance_id": instance_id, "job_id": job_id, "payload": raw, "held_at": clock.now()}
            )
            return "held"
        return None

    def _apply(
        self,
        result: Mapping[str, Any],
        apply: Callable[[Session, JobRow, BpmnWorkflow], object],
        held: dict[str, Any] | None = None,
    ) -> str:
        """Run ``apply(session, job, workflow)`` on the result's instance if the result applies
        to its job: the job and its instance read by one Core select, in the step's own
        transaction, on every attempt (where ``held``, the raw result, is held or dropped for a
        halted instance: :meth:`_halted`)."""
        job: JobRow | None = None
        halted: str | None = None

        def find(s: Session) -> StepInstance | None:
            nonlocal job, halted
            row = LOAD_JOB_DIRECT.first(s.connection(), {"job_id": result["job_id"]})
            job = cast(JobRow, row)
            if row is None:
                return None
            inst = step_instance(row)
            if held is not None:
                halted = self._halted(s, inst.status, inst.id, job.job_id, held)
                if halted is not None:
                    return None
            if not self.applies(job, result):
                return None
            return inst

        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> object:
            assert job is not None  # found, not done, in this transaction
            return apply(s, job, workflow)

        outcome: str = self.store.mutate(find, change) or halted or "dropped"
        return outcome

    def _complete(self, result: Mapping[str, Any], held: dict[str, Any] | None = None) -> str:
        def apply(s: Session, job: JobRow, workflow: BpmnWorkflow) -> object:
            try:
                self.store.runtime.complete_job(workflow, result["task_id"], result["job_id"], result["result"])
            except TaskNotWaiting:
                return UNCHANGED
            self._finish(s, job, "job_completed", {"job_id": job.job_id, "result": result["result"]})
            return "completed"

        return self._apply(result, apply, held)

    def _throw_error(self, result: Mapping[str, Any], held: dict[str, Any] | None = None) -> str:
        error = result.get("error") or {"code": "error", "message": ""}

        def apply(s: Session, job: JobRow, workflow: BpmnWorkflow) -> object:
            try:
                caught = self.store.runtime.throw_job_error(
                    workflow, result["task_id"], result["job_id"], error["code"], error.get("message", "")
                )
            except TaskNotWaiting:
                return UNCHANGED
            if caught:
                # A work item this step opens says why (tasklist.sync): the service's refusal.
                s.info[CAUGHT_ERROR] = {
                    "code": error["code"],
                    "message": error.get("message", ""),
                    "operation": result.get("operation"),
                }
                self._finish(
                    s,
                    job,
                    "bpmn_error",
                    {"job_id": job.job_id, "code": error["code"], "message": error.get("message", "")},
                )
                return "caught"
            row = s.get(Job, job.job_id)
            assert row is not None  # found in this transaction
            self.incidents.open_for_job(
                s, row, f"business error '{error['code']}' is not caught by the diagram: {error.get('message', '')}"
            )
            return "incident"

        return self._apply(result, apply, held)

    def _finish(self, s: Session, job: JobRow, action: str, data: Mapping[str, object]) -> None:
        """The job done, and an incident an operator retried on it resolved: Core updates, as no
        step reads these rows back. A job's first attempt has no such incident: an operator's
        retry (:meth:`.incidents.Incidents.retry`) is the only way an incident becomes
        "retrying", and it sends the job again as its next attempt."""
        now = clock.now()
        conn = s.connection()
        FINISH_JOB_DIRECT.later(conn, {"finished_id": job.job_id, "status": "done", "updated_at": now})
        self.store.history(s, job.instance_id, None, action, job.task_name, data)
        if job.attempt == 1:
            return
        conn.execute(
            RESOLVE_RETRIED,
            {
                "retried_job_id": job.job_id,
                "status": "resolved",
                "resolved_at": now,
                "resolution": "retried to completion",
            },
        )
