"""The engine's rules, free of nameko: deploy, start, step, save; jobs, user tasks, messages,
timers, incidents. The nameko service (``service.py``) and the ``ztc`` command are thin shells
around :class:`Engine`.

Every change to an instance goes through :meth:`Engine._mutate`: load, change, save with an
optimistic revision check, all in one transaction that also writes the jobs the change produced
to the outbox. A save that finds another revision rolls back, reloads and tries again.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import IntegrityError

from shared import clock, contracts
from shared.db import transaction
from shared.errors import Conflict, DiagramRefused, Forbidden, InvalidInput, NotFound
from shared.forms import FORMS
from shared.sandbox import LimitExceeded
from shared.workflow import parser as diagram_parser
from shared.workflow.runtime import StepFailed, TaskNotWaiting, WorkflowRuntime, root_cause

from .models import (
    BufferedMessage,
    History,
    Incident,
    Instance,
    Job,
    Outbox,
    ProcessVersion,
    WorkItem,
)
from .operators import HALTED, OperatorActions

log = logging.getLogger(__name__)
MAX_SAVE_ATTEMPTS = 20


class _StaleRevision(Exception):
    pass


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _principal_name(principal) -> str:
    return (principal or {}).get("user") or "system"


class Engine(OperatorActions):
    def __init__(self, sessions, settings, runtime: WorkflowRuntime | None = None, on_commit=None):
        self.sessions = sessions
        self.settings = settings
        self.runtime = runtime or WorkflowRuntime()
        self.on_commit = on_commit or (lambda: None)
        self._spec_cache: dict[int, dict] = {}

    # -- deploy -----------------------------------------------------------------------------
    def validate(self, files: dict):
        """Parse ``files``; raise DiagramRefused naming every problem, or return definitions.

        The refusal's details carry ``problems`` (one line each: file, line, element, label,
        message and hint), ``problem_details`` (the same as fields) and ``notes`` (processes kept
        as documentation)."""
        try:
            return diagram_parser.parse(files)
        except diagram_parser.DiagramError as exc:
            raise DiagramRefused(
                f"{len(exc.problems)} problem(s) in {', '.join(sorted(files))}",
                {"problems": [str(p) for p in exc.problems],
                 "problem_details": [p.to_dict() for p in exc.problems],
                 "notes": exc.notes}) from None

    def deploy(self, files: dict, actor: str = "designer") -> list[dict]:
        """Validate and store ``files``; each new content is a new version. Returns what was stored."""
        definitions = self.validate(files)
        out = []
        with transaction(self.sessions) as s:
            for definition in definitions:
                existing = s.scalar(select(ProcessVersion).where(
                    ProcessVersion.process_id == definition.process_id,
                    ProcessVersion.version == definition.version))
                if existing is not None:
                    out.append({"process_id": definition.process_id, "version": definition.version,
                                "id": existing.id, "new": False, "notes": definition.notes})
                    continue
                row = ProcessVersion(
                    process_id=definition.process_id, name=definition.name, version=definition.version,
                    spec=definition.spec, files=definition.files, deployed_at=clock.now(),
                    deployed_by=actor)
                s.add(row)
                s.flush()
                out.append({"process_id": definition.process_id, "version": definition.version,
                            "id": row.id, "new": True, "notes": definition.notes})
        return out

    def versions(self, process_id: str | None = None) -> list[dict]:
        with transaction(self.sessions) as s:
            query = select(ProcessVersion).order_by(ProcessVersion.id)
            if process_id:
                query = query.where(ProcessVersion.process_id == process_id)
            return [{"id": v.id, "process_id": v.process_id, "name": v.name, "version": v.version,
                     "deployed_at": utc(v.deployed_at).isoformat(), "deployed_by": v.deployed_by}
                    for v in s.scalars(query)]

    def _latest_version(self, s, process_id):
        version = s.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                           .order_by(ProcessVersion.id.desc()).limit(1))
        if version is None:
            raise NotFound(f"no process '{process_id}' is deployed")
        return version

    def _spec(self, s, version_id: int) -> tuple[str, dict]:
        """(cache key, spec dict) of a version; the key is unique across databases."""
        cached = self._spec_cache.get(version_id)
        if cached is None:
            version = s.get(ProcessVersion, version_id)
            cached = (f"{version.process_id}@{version.version}", version.spec)
            self._spec_cache[version_id] = cached
        return cached

    # -- instances --------------------------------------------------------------------------
    def start(self, process_id: str, business_key: str | None = None, data: dict | None = None,
              principal: dict | None = None, instance_id: str | None = None) -> dict:
        """Start an instance. With ``instance_id`` the start is idempotent: an instance that
        already has that id is returned as it is."""
        instance_id = instance_id or str(uuid.uuid4())
        with transaction(self.sessions) as s:
            if s.get(Instance, instance_id) is not None:
                return self._describe(s, s.get(Instance, instance_id))
        try:
            return self._start(instance_id, process_id, business_key, data, principal)
        except IntegrityError:
            return self.get_instance(instance_id)  # a concurrent delivery of the same start won

    def start_command(self, raw: dict) -> dict:
        """Start a process from a start command sent over the bus (idempotent by command id)."""
        try:
            command = contracts.StartSchema().load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed start command", exc.messages) from None
        instance_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ztc-start:{command['command_id']}"))
        return self.start(command["process_id"], command["business_key"], command["data"],
                          command["principal"], instance_id=instance_id)

    def _start(self, instance_id, process_id, business_key, data, principal) -> dict:
        with transaction(self.sessions) as s:
            version = self._latest_version(s, process_id)
            key, spec = self._spec(s, version.id)
            workflow = self.runtime.create(spec, data or {}, version_key=key)
            now = clock.now()
            inst = Instance(id=instance_id, process_id=process_id, version_id=version.id,
                            business_key=business_key, status="running", waiting_tasks=[],
                            waiting_messages="", revision=0, state={}, created_at=now, updated_at=now)
            s.add(inst)
            self._history(s, instance_id, principal, "started", None,
                          {"version": version.version, "business_key": business_key})
            try:
                self.runtime.run(workflow)
            except StepFailed as exc:
                raise InvalidInput(f"the process '{process_id}' could not start: {exc}",
                                   {"data": [str(exc)]}) from None
            self._save(s, inst, workflow, principal, new=True)
        self.on_commit()
        return self.get_instance(instance_id)

    def get_instance(self, instance_id: str) -> dict:
        with transaction(self.sessions) as s:
            inst = s.get(Instance, instance_id)
            if inst is None:
                raise NotFound(f"no instance {instance_id}")
            return self._describe(s, inst)

    def _describe(self, s, inst) -> dict:
        version = s.get(ProcessVersion, inst.version_id)
        incidents = s.scalars(select(Incident).where(Incident.instance_id == inst.id,
                                                      Incident.status != "resolved")).all()
        return {
            "id": inst.id, "process_id": inst.process_id, "version": version.version,
            "business_key": inst.business_key, "status": inst.status,
            "waiting_tasks": inst.waiting_tasks,
            "waiting_messages": [m for m in inst.waiting_messages.split("|") if m],
            "next_timer": utc(inst.next_timer).isoformat() if inst.next_timer else None,
            "revision": inst.revision, "data": inst.data or {},
            "incidents": [self._incident_dict(i) for i in incidents],
            "created_at": utc(inst.created_at).isoformat(), "updated_at": utc(inst.updated_at).isoformat(),
        }

    def find_instances(self, business_key=None, process_id=None, status=None, limit=100) -> list[dict]:
        with transaction(self.sessions) as s:
            query = select(Instance).order_by(Instance.created_at.desc()).limit(limit)
            if business_key:
                query = query.where(Instance.business_key == business_key)
            if process_id:
                query = query.where(Instance.process_id == process_id)
            if status:
                query = query.where(Instance.status == status)
            return [self._describe(s, i) for i in s.scalars(query)]

    def history(self, instance_id: str) -> list[dict]:
        with transaction(self.sessions) as s:
            rows = s.scalars(select(History).where(History.instance_id == instance_id).order_by(History.id))
            return [{"at": utc(h.at).isoformat(), "actor": h.actor, "action": h.action, "task": h.task,
                     "data": h.data} for h in rows]

    def counts(self) -> dict:
        with transaction(self.sessions) as s:
            rows = s.execute(select(Instance.status, func.count()).group_by(Instance.status)).all()
            return {status: n for status, n in rows}

    # -- the one way an instance changes ---------------------------------------------------------
    def _mutate(self, instance_id: str, change, principal=None, refuse_failed_step=False, guard=None):
        """Run ``change(session, instance, workflow)`` and save; retried on a stale revision.

        If the instance fails a step on the way (a script or expression error), the state reached
        is saved with an incident an operator can retry, or, with ``refuse_failed_step``, nothing
        is saved and the caller gets InvalidInput (the caller's input caused it and can be fixed).
        ``guard(session)``, if given, runs first in the same transaction: when it answers false
        nothing is loaded or saved and None is returned (a job result that no longer applies).
        """
        for _ in range(MAX_SAVE_ATTEMPTS):
            try:
                with transaction(self.sessions) as s:
                    if guard is not None and not guard(s):
                        return None
                    inst = s.get(Instance, instance_id)
                    if inst is None:
                        raise NotFound(f"no instance {instance_id}")
                    if inst.status in HALTED and not getattr(change, "ztc_resumes", False):
                        raise Conflict(f"instance {instance_id} is {inst.status}")
                    key, spec = self._spec(s, inst.version_id)
                    # The loaded JSON is this session's own copy, and the runtime may consume it.
                    workflow = self.runtime.loads(inst.state, spec, version_key=key)
                    try:
                        outcome = change(s, inst, workflow)
                    except StepFailed as exc:
                        if refuse_failed_step and not exc.limit_exceeded:
                            raise InvalidInput(f"refused: {exc}", {"data": [str(exc)]}) from None
                        outcome = self._step_incident(s, inst, exc, principal)
                    if outcome is _UNCHANGED:
                        return None
                    self._save(s, inst, workflow, principal)
                self.on_commit()
                return outcome
            except _StaleRevision:
                continue
        raise Conflict(f"instance {instance_id} is changing too often; try again")

    def _save(self, s, inst, workflow, principal, new=False):
        now = clock.now()
        self._deliver_buffered(s, inst, workflow)
        wait = self.runtime.wait_state(workflow)
        for request in wait.new_jobs:
            self._emit_job(s, inst, workflow, request, principal)
        self._sync_work_items(s, inst, workflow, wait)
        open_incidents = s.scalar(select(func.count()).select_from(Incident).where(
            Incident.instance_id == inst.id, Incident.status == "open"))
        if wait.status == "completed":
            status = "completed"
        elif open_incidents:
            status = "incident"
        else:
            status = "waiting"
        if status == "completed" and inst.status != "completed":
            self._history(s, inst.id, principal, "completed", None, None)
        values = dict(
            status=status, waiting_tasks=wait.waiting_tasks,
            waiting_messages="|" + "|".join(wait.waiting_messages) + "|" if wait.waiting_messages else "",
            next_timer=wait.next_timer, state=self.runtime.dumps(workflow), updated_at=now,
            data=self.runtime.current_data(workflow),
        )
        if new:
            for key, value in values.items():
                setattr(inst, key, value)
            inst.revision = 1
            s.flush()
            return
        old = inst.revision
        s.expunge(inst)
        result = s.execute(update(Instance).where(Instance.id == inst.id, Instance.revision == old)
                           .values(revision=old + 1, **values))
        if result.rowcount != 1:
            s.rollback()
            raise _StaleRevision()

    def _step_incident(self, s, inst, exc, principal):
        incident = Incident(instance_id=inst.id, job_id=None, task_name=exc.task_name, operation=None,
                            error=exc.message, status="open", created_at=clock.now())
        s.add(incident)
        s.flush()
        self._history(s, inst.id, principal, "incident", exc.task_name,
                      {"incident_id": incident.id, "error": exc.message})
        return "incident"

    def _emit_job(self, s, inst, workflow, request, principal):
        job_id = uuid.uuid4().hex
        self.runtime.mark_job_sent(workflow, request.task_id, job_id)
        now = clock.now()
        max_attempts = request.retries if request.retries else self.settings.job_max_attempts
        s.add(Job(job_id=job_id, instance_id=inst.id, task_id=request.task_id, task_name=request.task_name,
                  operation=request.operation, params=request.params, principal=principal, attempt=1,
                  max_attempts=max_attempts, status="pending", created_at=now, updated_at=now))
        self._outbox_job(s, inst, job_id, request.task_id, request.operation, request.params, 1,
                         principal, now)
        self._history(s, inst.id, principal, "job_sent", request.task_name,
                      {"job_id": job_id, "operation": request.operation})

    def _outbox_job(self, s, inst, job_id, task_id, operation, params, attempt, principal, available_at):
        payload = contracts.JobSchema().dump({
            "job_id": job_id, "instance_id": inst.id if hasattr(inst, "id") else inst,
            "task_id": task_id, "operation": operation, "params": params, "attempt": attempt,
            "business_key": getattr(inst, "business_key", None), "principal": principal,
        })
        s.add(Outbox(exchange=contracts.JOBS_EXCHANGE, routing_key=operation, payload=payload,
                     headers={}, available_at=available_at, created_at=clock.now(), attempts=0))

    def _sync_work_items(self, s, inst, workflow, wait):
        ready = {u.task_id: u for u in wait.user_tasks}
        existing = {w.task_id: w for w in s.scalars(select(WorkItem).where(
            WorkItem.instance_id == inst.id, WorkItem.status == "open"))}
        for task_id, item in existing.items():
            if task_id not in ready:
                item.status = "cancelled"
                item.completed_at = clock.now()
        for task_id, info in ready.items():
            if task_id in existing:
                continue
            props = info.properties
            try:
                candidate_unit = self._task_expression(workflow, task_id, info, props.get("candidateUnit"))
                candidate_user = self._task_expression(workflow, task_id, info, props.get("candidateUser"))
            except StepFailed as exc:
                # No work item that nobody could be sure to see: an incident names the element
                # instead (one while it stays open, however often the instance is saved).
                already = s.scalar(select(func.count()).select_from(Incident).where(
                    Incident.instance_id == inst.id, Incident.status == "open",
                    Incident.job_id.is_(None), Incident.task_name == exc.task_name))
                if not already:
                    self._step_incident(s, inst, exc, None)
                continue
            s.add(WorkItem(
                task_id=task_id, instance_id=inst.id, process_id=inst.process_id,
                business_key=inst.business_key, task_name=info.task_name, title=info.title,
                candidate_role=props.get("candidateRole") or info.lane,
                candidate_unit=candidate_unit, candidate_user=candidate_user,
                form_schema=props.get("formSchema"), status="open", created_at=clock.now()))

    def _task_expression(self, workflow, task_id, info, expression):
        """A candidate expression's value; StepFailed naming the element if it cannot be had."""
        if not expression:
            return None
        task = workflow.get_task_from_id(uuid.UUID(task_id))
        try:
            value = workflow.script_engine.evaluate(task, expression)
        except Exception as exc:  # noqa: BLE001 - whatever the expression did, the element is named
            cause = root_cause(exc)
            raise StepFailed(info.task_name, f"candidate expression '{expression}': "
                                             f"{type(cause).__name__}: {cause}",
                             limit_exceeded=isinstance(cause, LimitExceeded)) from exc
        return None if value is None else str(value)

    def _history(self, s, instance_id, principal, action, task, data):
        s.add(History(instance_id=instance_id, at=clock.now(), actor=_principal_name(principal),
                      action=action, task=task, data=data))

    # -- job results ------------------------------------------------------------------------
    def handle_result(self, raw: dict) -> str:
        """Apply a job result. Returns what happened: completed, caught, retry, incident, dropped.

        A success or a business error is checked and applied in the one transaction that changes
        the instance (one transaction per result); a technical failure is checked and scheduled
        for retry in one transaction, and only the last attempt's failure takes a second one."""
        try:
            result = contracts.JobResultSchema().load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed job result", exc.messages) from None
        if result["status"] == "ok":
            return self._complete_job(result)
        if result["status"] == "error":
            return self._throw_job_error(result)
        error = (result.get("error") or {}).get("message") or "failed"
        with transaction(self.sessions) as s:
            job = s.get(Job, result["job_id"])
            if not self._result_applies(job, result):
                return "dropped"
            instance_id = job.instance_id
            if job.attempt < job.max_attempts:
                delay = min(self.settings.job_backoff_seconds * 2 ** (job.attempt - 1),
                            self.settings.job_backoff_max_seconds)
                job.attempt += 1
                job.last_error = error
                job.updated_at = clock.now()
                inst = s.get(Instance, job.instance_id)
                self._outbox_job(s, inst, job.job_id, job.task_id, job.operation, job.params,
                                 job.attempt, job.principal, clock.now() + timedelta(seconds=delay))
                self._history(s, job.instance_id, None, "job_retry", job.task_name,
                              {"job_id": job.job_id, "attempt": job.attempt, "error": error,
                               "delay_seconds": delay})
                outcome = "retry"
            else:
                outcome = "incident"
        if outcome == "retry":
            self.on_commit()
            return outcome
        self._raise_incident(result["job_id"], error, instance_id)
        return "incident"

    @staticmethod
    def _result_applies(job, result) -> bool:
        """A result applies to a job that is not done, for the attempt it answers, and to the
        instance and task the job belongs to; any other (a duplicate, a stale attempt) is dropped."""
        return (job is not None and job.status != "done" and job.attempt == result["attempt"]
                and job.instance_id == result["instance_id"] and job.task_id == result["task_id"])

    def _result_guard(self, result):
        return lambda s: self._result_applies(s.get(Job, result["job_id"]), result)

    def _complete_job(self, result) -> str:
        def change(s, inst, workflow):
            job = s.get(Job, result["job_id"])
            if job.status == "done":
                return _UNCHANGED
            try:
                self.runtime.complete_job(workflow, result["task_id"], result["job_id"], result["result"])
            except TaskNotWaiting:
                return _UNCHANGED
            self._finish_job(s, job, "job_completed", {"job_id": job.job_id, "result": result["result"]})
            return "completed"

        return self._mutate(result["instance_id"], change, guard=self._result_guard(result)) or "dropped"

    def _throw_job_error(self, result) -> str:
        error = result.get("error") or {"code": "error", "message": ""}

        def change(s, inst, workflow):
            job = s.get(Job, result["job_id"])
            if job.status == "done":
                return _UNCHANGED
            try:
                caught = self.runtime.throw_job_error(workflow, result["task_id"], result["job_id"],
                                                      error["code"], error.get("message", ""))
            except TaskNotWaiting:
                return _UNCHANGED
            if caught:
                self._finish_job(s, job, "bpmn_error", {"job_id": job.job_id, "code": error["code"],
                                                        "message": error.get("message", "")})
                return "caught"
            self._open_incident(s, job, f"business error '{error['code']}' is not caught by the diagram: "
                                        f"{error.get('message', '')}")
            return "incident"

        return self._mutate(result["instance_id"], change, guard=self._result_guard(result)) or "dropped"

    def _finish_job(self, s, job, action, data):
        job.status = "done"
        job.updated_at = clock.now()
        self._history(s, job.instance_id, None, action, job.task_name, data)
        for incident in s.scalars(select(Incident).where(Incident.job_id == job.job_id,
                                                         Incident.status == "retrying")):
            incident.status = "resolved"
            incident.resolved_at = clock.now()
            incident.resolution = "retried to completion"

    def _job_instance(self, job_id) -> str:
        with transaction(self.sessions) as s:
            return s.get(Job, job_id).instance_id

    def _raise_incident(self, job_id, error, instance_id=None):
        def change(s, inst, workflow):
            job = s.get(Job, job_id)
            if job.status != "pending":
                return _UNCHANGED
            self._open_incident(s, job, error)
            return "incident"

        self._mutate(instance_id or self._job_instance(job_id), change)

    def _open_incident(self, s, job, error):
        job.status = "incident"
        job.last_error = error
        job.updated_at = clock.now()
        incident = s.scalar(select(Incident).where(Incident.job_id == job.job_id,
                                                   Incident.status == "retrying"))
        if incident is None:
            incident = Incident(instance_id=job.instance_id, job_id=job.job_id, task_name=job.task_name,
                                operation=job.operation, created_at=clock.now(), error=error, status="open")
            s.add(incident)
        incident.status = "open"
        incident.error = error
        s.flush()
        self._history(s, job.instance_id, None, "incident", job.task_name,
                      {"job_id": job.job_id, "incident_id": incident.id, "error": error})

    # -- incidents ----------------------------------------------------------------------------
    @staticmethod
    def _incident_dict(i) -> dict:
        return {"id": i.id, "instance_id": i.instance_id, "job_id": i.job_id, "task": i.task_name,
                "operation": i.operation, "error": i.error, "status": i.status,
                "created_at": utc(i.created_at).isoformat(),
                "resolved_at": utc(i.resolved_at).isoformat() if i.resolved_at else None,
                "resolution": i.resolution}

    def incidents(self, status: str | None = "open") -> list[dict]:
        with transaction(self.sessions) as s:
            query = select(Incident).order_by(Incident.id)
            if status:
                query = query.where(Incident.status == status)
            return [self._incident_dict(i) for i in s.scalars(query)]

    def retry_incident(self, incident_id: int, principal=None) -> dict:
        """Send the incident's job again with a fresh budget of attempts."""
        with transaction(self.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            if incident.status != "open":
                raise Conflict(f"incident {incident_id} is {incident.status}, not open")
            instance_id = incident.instance_id

        def change(s, inst, workflow):
            incident = s.get(Incident, incident_id)
            if incident.status != "open":
                raise Conflict(f"incident {incident_id} is {incident.status}, not open")
            if incident.job_id is None:
                # A failed step: run it again; if it fails again the incident stays open.
                self._history(s, inst.id, principal, "incident_retry", incident.task_name,
                              {"incident_id": incident_id})
                try:
                    self.runtime.retry_failed(workflow)
                except StepFailed as exc:
                    incident.error = exc.message
                    return "failed again"
                incident.status = "resolved"
                incident.resolved_at = clock.now()
                incident.resolution = "retried to completion"
                return "retried"
            job = s.get(Job, incident.job_id)
            job.attempt += 1
            job.max_attempts = job.attempt + self.settings.job_max_attempts - 1
            job.status = "pending"
            job.updated_at = clock.now()
            incident.status = "retrying"
            # The job acts for whoever it was first sent for; the operator's retry is in the history.
            self._outbox_job(s, inst, job.job_id, job.task_id, job.operation, job.params, job.attempt,
                             job.principal, clock.now())
            self._history(s, inst.id, principal, "incident_retry", job.task_name,
                          {"incident_id": incident_id, "job_id": job.job_id, "attempt": job.attempt})
            return "retrying"

        self._mutate(instance_id, change, principal)
        return self.incident(incident_id)

    def resolve_incident(self, incident_id: int, resolution: str, principal=None) -> dict:
        """Close an incident without retrying (the operator fixed things by other means)."""
        if not resolution:
            raise InvalidInput("a resolution is required", {"resolution": ["Missing data for required field."]})
        with transaction(self.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            instance_id = incident.instance_id

        def change(s, inst, workflow):
            incident = s.get(Incident, incident_id)
            if incident.status == "resolved":
                raise Conflict(f"incident {incident_id} is already resolved")
            incident.status = "resolved"
            incident.resolved_at = clock.now()
            incident.resolution = resolution
            self._history(s, inst.id, principal, "incident_resolved", incident.task_name,
                          {"incident_id": incident_id, "resolution": resolution})
            return "resolved"

        self._mutate(instance_id, change, principal)
        return self.incident(incident_id)

    def incident(self, incident_id: int) -> dict:
        with transaction(self.sessions) as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            return self._incident_dict(incident)

    # -- user tasks -----------------------------------------------------------------------------
    @staticmethod
    def _may_act(item, principal) -> bool:
        principal = principal or {}
        roles = set(principal.get("roles") or [])
        if item.candidate_user and item.candidate_user != principal.get("user"):
            return False
        if item.candidate_role and item.candidate_role not in roles:
            return False
        if item.candidate_unit and item.candidate_unit != principal.get("unit"):
            return False
        return True

    @staticmethod
    def _work_item_dict(w) -> dict:
        return {"task_id": w.task_id, "instance_id": w.instance_id, "process_id": w.process_id,
                "business_key": w.business_key, "task": w.task_name, "title": w.title,
                "candidate_role": w.candidate_role, "candidate_unit": w.candidate_unit,
                "candidate_user": w.candidate_user, "form_schema": w.form_schema,
                "claimed_by": w.claimed_by, "status": w.status,
                "created_at": utc(w.created_at).isoformat()}

    def list_tasks(self, principal, instance_id: str | None = None) -> list[dict]:
        """The open tasks this principal may act on."""
        with transaction(self.sessions) as s:
            query = select(WorkItem).where(WorkItem.status == "open").order_by(WorkItem.created_at)
            if instance_id:
                query = query.where(WorkItem.instance_id == instance_id)
            return [self._work_item_dict(w) for w in s.scalars(query) if self._may_act(w, principal)]

    def _open_item(self, s, task_id, principal):
        item = s.get(WorkItem, task_id)
        if item is None or item.status != "open":
            raise NotFound(f"no open task {task_id}")
        if not self._may_act(item, principal):
            raise Forbidden(f"{_principal_name(principal)} may not act on task {task_id} "
                            f"(it is for role={item.candidate_role}, unit={item.candidate_unit}, "
                            f"user={item.candidate_user})")
        if item.claimed_by and item.claimed_by != _principal_name(principal):
            raise Conflict(f"task {task_id} is claimed by {item.claimed_by}")
        return item

    def claim(self, task_id: str, principal) -> dict:
        with transaction(self.sessions) as s:
            item = self._open_item(s, task_id, principal)
            item.claimed_by = _principal_name(principal)
            self._history(s, item.instance_id, principal, "task_claimed", item.task_name, None)
            return self._work_item_dict(item)

    def complete_task(self, task_id: str, data: dict | None, principal) -> dict:
        with transaction(self.sessions) as s:
            item = self._open_item(s, task_id, principal)
            instance_id, form = item.instance_id, item.form_schema
        data = data or {}
        if form:
            try:
                data = FORMS[form]().load(data)
            except ValidationError as exc:
                raise InvalidInput(f"the form '{form}' was not filled in correctly", exc.messages) from None

        def change(s, inst, workflow):
            item = self._open_item(s, task_id, principal)
            try:
                self.runtime.complete_user_task(workflow, task_id, data, actor=_principal_name(principal))
            except TaskNotWaiting as exc:
                raise Conflict(str(exc)) from None
            item.status = "completed"
            item.completed_at = clock.now()
            item.completed_by = _principal_name(principal)
            self._history(s, inst.id, principal, "task_completed", item.task_name, data)
            return "completed"

        self._mutate(instance_id, change, principal, refuse_failed_step=True)
        return self.get_instance(instance_id)

    # -- messages -------------------------------------------------------------------------------
    def send_message(self, raw: dict, principal=None) -> dict:
        """Correlate a message by name and correlation key (the instance's business key).

        A message that finds no waiting instance is kept for the configured time to live; a
        message id seen before is not delivered again.
        """
        try:
            message = contracts.MessageSchema().load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed message", exc.messages) from None
        now = clock.now()
        try:
            with transaction(self.sessions) as s:
                s.add(BufferedMessage(
                    message_id=message["message_id"], name=message["name"],
                    correlation_key=message["correlation_key"], payload=message["payload"],
                    status="buffered", received_at=now,
                    expires_at=now + timedelta(seconds=self.settings.message_ttl_seconds)))
        except IntegrityError:
            with transaction(self.sessions) as s:
                seen = s.get(BufferedMessage, message["message_id"])
                return {"status": "duplicate", "message_id": seen.message_id,
                        "delivered_to": seen.instance_id, "state": seen.status}
        with transaction(self.sessions) as s:
            candidates = s.scalars(select(Instance.id).where(
                Instance.business_key == message["correlation_key"],
                Instance.waiting_messages.like(f"%|{message['name']}|%"))).all()
        for instance_id in candidates:
            # Saving the instance delivers buffered messages it waits for (see _deliver_buffered).
            self._mutate(instance_id, lambda s, inst, wf: "checked", principal)
        with transaction(self.sessions) as s:
            row = s.get(BufferedMessage, message["message_id"])
            return {"status": row.status, "message_id": row.message_id, "delivered_to": row.instance_id}

    def _deliver_buffered(self, s, inst, workflow):
        if not inst.business_key:
            return
        while True:
            waiting = self.runtime.wait_state(workflow).waiting_messages
            if not waiting:
                return
            message = s.scalar(select(BufferedMessage).where(
                BufferedMessage.name.in_(waiting), BufferedMessage.correlation_key == inst.business_key,
                BufferedMessage.status == "buffered", BufferedMessage.expires_at > clock.now())
                .order_by(BufferedMessage.received_at).limit(1))
            if message is None or not self.runtime.deliver_message(workflow, message.name, message.payload):
                return
            message.status = "delivered"
            message.instance_id = inst.id
            self._history(s, inst.id, None, "message_delivered", message.name,
                          {"message_id": message.message_id, "payload": message.payload})

    def deliver_waiting_messages(self, limit: int = 100) -> int:
        """Deliver buffered messages whose instance waits for them now.

        ``send_message`` and an instance's save each look for the other, but under READ COMMITTED
        both can look before the other commits (a unit's reply arriving while the engine is still
        saving the step that starts waiting for it), and then neither finds the other. The timer
        tick runs this sweep, so such a message waits at most one tick. Returns instances moved."""
        pattern = literal("%|") + BufferedMessage.name + literal("|%")
        with transaction(self.sessions) as s:
            instance_ids = s.scalars(
                select(Instance.id).join(BufferedMessage, BufferedMessage.correlation_key == Instance.business_key)
                .where(BufferedMessage.status == "buffered", BufferedMessage.expires_at > clock.now(),
                       Instance.waiting_messages.like(pattern))
                .distinct().limit(limit)).all()
        for instance_id in instance_ids:
            # Saving the instance delivers what it waits for (see _deliver_buffered).
            self._mutate(instance_id, lambda s, inst, wf: "checked")
        return len(instance_ids)

    def expire_messages(self) -> int:
        with transaction(self.sessions) as s:
            result = s.execute(update(BufferedMessage).where(
                BufferedMessage.status == "buffered", BufferedMessage.expires_at <= clock.now())
                .values(status="expired"))
            return result.rowcount

    # -- timers -------------------------------------------------------------------------------
    def fire_due_timers(self, limit: int = 100) -> int:
        """Fire the timers that are due by the clock; returns how many instances moved."""
        with transaction(self.sessions) as s:
            due = s.scalars(select(Instance.id).where(
                Instance.status.in_(("waiting", "incident")), Instance.next_timer.is_not(None),
                Instance.next_timer <= clock.now()).order_by(Instance.next_timer).limit(limit)).all()
        fired = 0
        for instance_id in due:
            def change(s, inst, workflow):
                before = list(inst.waiting_tasks)
                self.runtime.fire_timers(workflow)
                after = self.runtime.wait_state(workflow).waiting_tasks
                if before != after:
                    self._history(s, inst.id, None, "timer_fired", ",".join(before), None)
                return "fired"

            try:
                self._mutate(instance_id, change)
                fired += 1
            except Exception:  # one broken instance must not stop the others' timers
                log.exception("firing timers of instance %s failed", instance_id)
        return fired


_UNCHANGED = object()
