"""The instance store: the one way an instance changes.

Every change goes through :meth:`InstanceStore.mutate`: load, change, save with an optimistic
revision check, all in one transaction that also writes what the change produced (jobs to the
outbox, work items, delivered messages, history). A save that finds another revision rolls back,
reloads and tries again: another worker of this process or another engine replica stepped the
instance first. Each such conflict is counted (``ztc_revision_conflicts_total``, and
:attr:`InstanceStore.conflicts`) and logged as ``revision conflict``; only after
``MAX_SAVE_ATTEMPTS`` in a row does the caller get a Conflict. The other engine modules plug into the save (``before_wait`` and
``after_wait``) instead of re-implementing it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Never, cast

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Row, Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared import clock, metrics
from shared.config import Settings
from shared.contracts.bus import INSTANCE_STATUSES
from shared.db import json_dumps, json_loads, transaction
from shared.direct import Direct, hold_writes
from shared.errors import Conflict, InvalidInput, NotFound
from shared.principal import acting_user
from shared.workflow.runtime import StepFailed, WaitState, WorkflowRuntime

from .cache import WorkflowCache
from .models import History, Incident, Instance, ProcessVersion
from .views import IncidentView, InstanceView

MAX_SAVE_ATTEMPTS = 20
STATUSES = INSTANCE_STATUSES  # an instance's (shared/contracts/bus.py)
HALTED = ("suspended", "cancelled")
ENDED = ("completed", "cancelled")
UNCHANGED = object()  # a change that returns this saves nothing
INCIDENT_OPENED = "ztc_incident_opened"  # session.info: an incident was opened in this transaction
HISTORY_ROWS = "ztc_history_rows"  # session.info: history rows written when it commits
CAUGHT_ERROR = "ztc_caught_error"  # session.info: the business error a step's diagram caught
# The most a retry after a conflict waits, times its attempt (a random share of it): two replicas
# that met on one instance do not meet again at once.
CONFLICT_PAUSE_SECONDS = 0.005

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StepInstance:
    """The columns of an instance a step reads, loaded by one Core select: no ORM object, no
    identity map, and never the state column (the workflow comes from the cache or its own read).
    A change may set ``version_id`` (a migration); :meth:`InstanceStore.save` writes it."""

    id: str
    process_id: str
    version_id: int
    business_key: str | None
    status: str
    waiting_tasks: list[str]
    revision: int
    created_at: datetime | None = None  # an answer's; a new instance's is the time it is saved


@dataclass(slots=True)
class Saved:
    """What :meth:`InstanceStore.save` wrote: the revision and the row's columns (``values``:
    the keys of :data:`SAVE_STEP`'s parameters, the state among them), enough to answer a caller
    without reading the row back."""

    revision: int
    values: dict[str, Any]


INSTANCES = cast(Table, Instance.__table__)
# Built once: a statement made per step costs more to construct than the database takes to run it.
LOAD_STEP = select(*(INSTANCES.c[name] for name in StepInstance.__slots__)).where(
    INSTANCES.c.id == bindparam("instance_id")
)
# A step's instance read in the statement that reads what the step is about (its job, its work
# item): these columns last, made a StepInstance by step_instance().
STEP_COLUMNS = tuple(INSTANCES.c[name].label(f"step_{name}") for name in StepInstance.__slots__)
LOAD_STATE = select(INSTANCES.c.state).where(INSTANCES.c.id == bindparam("instance_id"))
# The optimistic revision check; the columns set are the keys of the parameters it is given.
SAVE_STEP = update(INSTANCES).where(
    INSTANCES.c.id == bindparam("saved_id"), INSTANCES.c.revision == bindparam("saved_revision")
)
INSERT_INSTANCE = insert(INSTANCES)
INSERT_HISTORY = insert(History)
# The same, run on the driver's cursor (shared/direct.py): a step's own statements.
SAVED_COLUMNS = (
    "status",
    "waiting_tasks",
    "waiting_messages",
    "next_timer",
    "state",
    "updated_at",
    "data",
    "version_id",
)
LOAD_STEP_DIRECT = Direct(LOAD_STEP)
LOAD_STATE_DIRECT = Direct(LOAD_STATE)
SAVE_STEP_DIRECT = Direct(SAVE_STEP, (*SAVED_COLUMNS, "revision"))
INSERT_INSTANCE_DIRECT = Direct(
    INSERT_INSTANCE, (*SAVED_COLUMNS, "id", "process_id", "business_key", "revision", "created_at")
)
INSERT_HISTORY_DIRECT = Direct(INSERT_HISTORY, ("instance_id", "at", "actor", "action", "task", "data"))
OPEN_INCIDENTS = (
    select(func.count())
    .select_from(Incident)
    .where(Incident.instance_id == bindparam("instance_id"), Incident.status == "open")
)
UNRESOLVED_INCIDENTS = select(Incident).where(
    Incident.instance_id == bindparam("instance_id"), Incident.status != "resolved"
)

# What InstanceStore.mutate runs on an instance: ``change(session, instance, workflow)``, returning
# the caller's outcome, or UNCHANGED to save nothing.
Change = Callable[[Session, StepInstance, BpmnWorkflow], Any]
# What InstanceStore.mutate may answer instead, after the save, in its transaction.
Answer = Callable[[Session, StepInstance, "Saved"], Any]


def step_instance(row: Row[Any]) -> StepInstance:
    """The StepInstance in a row that ends with :data:`STEP_COLUMNS`."""
    return StepInstance(*row[len(row) - len(STEP_COLUMNS) :])


class StaleRevision(Exception):
    """Another save of the same instance committed first."""


# PostgreSQL's answers that say "another transaction holds what this one needs, try again": a
# deadlock (a job's step locks its job, then its instance; an operator's suspend or cancel its
# instance, then its jobs) and a serialization failure. The server rolled the transaction back;
# run again, it finds the other one committed, as after a stale revision.
RETRYABLE_PGCODES = ("40P01", "40001")


def lost_to_another(exc: BaseException) -> bool:
    """Whether ``exc`` is the database rolling a transaction back for another one (see above)."""
    return isinstance(exc, OperationalError) and getattr(exc.orig, "pgcode", None) in RETRYABLE_PGCODES


def iso(value: datetime | None) -> str | None:
    """A stored time in ISO form (aware UTC, as every ``UtcDateTime`` column gives it), or None."""
    return value.isoformat() if value else None


def write_history(s: Session) -> None:
    """Before a commit (and before a step's save): the transaction's history rows in one Core
    insert. History is append-only and no step reads its rows back, so the ORM's unit of work
    would be pure cost on every step; and written at the end, no row holds SQLite's write lock
    while a diagram's script runs."""
    rows = s.info.pop(HISTORY_ROWS, None)
    if rows:
        INSERT_HISTORY_DIRECT.later(s.connection(), rows)


class InstanceStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings | None,
        runtime: WorkflowRuntime | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.runtime = runtime or WorkflowRuntime()
        self.on_commit = on_commit or (lambda: None)
        self._spec_cache: dict[int, tuple[str, dict[str, Any]]] = {}
        self._labels: dict[int, str] = {}  # a version's label by its id (never changes)
        # An engine made only to validate diagrams has no settings, and steps nothing.
        self.workflows = WorkflowCache(settings.workflow_cache_size if settings is not None else 0)
        # What a save does besides writing the instance, in order: before the wait state is
        # computed (deliver buffered messages) and with it (emit jobs, sync the task list).
        self.before_wait: list[Callable[[Session, StepInstance, BpmnWorkflow, WaitState], WaitState]] = []
        self.after_wait: list[
            Callable[[Session, StepInstance, BpmnWorkflow, WaitState, Mapping[str, Any] | None], None]
        ] = []
        self.on_step_failed: Any = None  # f(session, instance, StepFailed, principal) -> outcome
        self.conflicts = 0  # saves that met a newer revision, since this store was made
        if sessions is not None:
            event.listen(sessions, "before_commit", write_history)
            # The step's writes nobody reads travel with its next statement (shared.direct).
            hold_writes(sessions.kw["bind"])

    # -- versions -------------------------------------------------------------------------------
    def spec(self, s: Session, version_id: int) -> tuple[str, dict[str, Any]]:
        """(cache key, spec dict) of a version; the key is unique across databases."""
        cached = self._spec_cache.get(version_id)
        if cached is None:
            version = s.get(ProcessVersion, version_id)
            assert version is not None  # an instance's version is never deleted
            cached = (f"{version.process_id}@{version.version}", version.spec)
            self._spec_cache[version_id] = cached
        return cached

    def label(self, s: Session, version_id: int) -> str:
        """A version's label (``ProcessVersion.version``), read once per process."""
        label = self._labels.get(version_id)
        if label is None:
            label = s.scalar(select(ProcessVersion.version).where(ProcessVersion.id == version_id))
            assert label is not None  # an instance's version is never deleted
            self._labels[version_id] = label
        return label

    # -- reading --------------------------------------------------------------------------------
    def unresolved_incidents(
        self, s: Session, instance_id: str, incident_dict: Callable[[Incident], IncidentView]
    ) -> list[IncidentView]:
        """The instance's incidents not resolved, as an instance's answer lists them."""
        rows = s.scalars(UNRESOLVED_INCIDENTS, {"instance_id": instance_id})
        return [incident_dict(i) for i in rows]

    def describe(self, s: Session, inst: Instance, incident_dict: Callable[[Incident], IncidentView]) -> InstanceView:
        return {
            "id": inst.id,
            "process_id": inst.process_id,
            "version": self.label(s, inst.version_id),
            "business_key": inst.business_key,
            "status": inst.status,
            # A cancelled instance waits for nothing (one cancelled before its row was cleared too).
            "waiting_tasks": [] if inst.status == "cancelled" else inst.waiting_tasks,
            "waiting_messages": [m for m in inst.waiting_messages.split("|") if m],
            "next_timer": iso(inst.next_timer),
            "revision": inst.revision,
            "data": inst.data or {},
            "incidents": self.unresolved_incidents(s, inst.id, incident_dict),
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.updated_at),
        }

    def describe_saved(
        self,
        inst: StepInstance,
        saved: Saved,
        version: str,
        incidents: list[IncidentView],
        created_at: datetime,
    ) -> InstanceView:
        """:meth:`describe`'s answer from what a save wrote, without reading it back: the values go
        through what reading them would do to them (JSON for the data, UTC for the times)."""
        values = saved.values
        return {
            "id": inst.id,
            "process_id": inst.process_id,
            "version": version,
            "business_key": inst.business_key,
            "status": values["status"],
            "waiting_tasks": list(values["waiting_tasks"]),
            "waiting_messages": [m for m in values["waiting_messages"].split("|") if m],
            "next_timer": iso(clock.as_utc(values["next_timer"])),
            "revision": saved.revision,
            "data": json_loads(json_dumps(values["data"])) or {},
            "incidents": incidents,
            "created_at": iso(clock.as_utc(created_at)),
            "updated_at": iso(clock.as_utc(values["updated_at"])),
        }

    def history(
        self,
        s: Session,
        instance_id: str,
        principal: Mapping[str, Any] | None,
        action: str,
        task: str | None,
        data: object,
    ) -> None:
        """Record an entry; it is written, in order, when the transaction commits."""
        s.info.setdefault(HISTORY_ROWS, []).append(
            {
                "instance_id": instance_id,
                "at": clock.now(),
                "actor": acting_user(principal),
                "action": action,
                "task": task,
                "data": data,
            }
        )

    # -- the one way an instance changes ----------------------------------------------------------
    def mutate(
        self,
        instance_id: str | Callable[[Session], str | StepInstance | None],
        change: Change,
        principal: Mapping[str, Any] | None = None,
        refuse_failed_step: bool = False,
        answer: Answer | None = None,
    ) -> Any:  # the change's outcome; None if nothing was saved
        """Run ``change(session, instance, workflow)`` and save; retried on a stale revision.

        If the instance fails a step on the way (a script or expression error), the state reached
        is saved with an incident an operator can retry, or, with ``refuse_failed_step``, nothing
        is saved and the caller gets InvalidInput (the caller's input caused it and can be fixed) —
        unless the step ran past a limit, or the change marked it the diagram's fault
        (``StepFailed.diagram_fault``), which is always an incident.
        ``instance_id`` may be a function of the session that finds the instance, run first in the
        step's transaction on every attempt: what it wrote is part of that transaction (a message
        buffered); when it finds none (a job result that no longer applies, a message nobody waits
        for) that is committed, nothing is loaded or saved and None is returned; it may answer the
        instance itself, read in the statement that found it (:data:`STEP_COLUMNS`). ``answer(session, instance,
        saved)``, if given, runs after the save in the same transaction, and what it returns is
        the outcome (an answer built from what was saved, instead of reading it back).
        """
        target = instance_id if isinstance(instance_id, str) else "?"
        for attempt in range(1, MAX_SAVE_ATTEMPTS + 1):
            try:
                with transaction(self.sessions) as s:
                    found = instance_id(s) if not isinstance(instance_id, str) else instance_id
                    if found is None:
                        return None
                    if isinstance(found, StepInstance):
                        inst, target = found, found.id
                    else:
                        target = found
                        row = LOAD_STEP_DIRECT.first(s.connection(), {"instance_id": target})
                        if row is None:
                            raise NotFound(f"no instance {target}")
                        inst = StepInstance(*row)
                    if inst.status in HALTED and not getattr(change, "ztc_resumes", False):
                        raise Conflict(f"instance {target} is {inst.status}")
                    workflow = self.workflows.take(target, inst.revision, inst.version_id)
                    if workflow is None:
                        # The state column is read only when the workflow is not cached for this revision.
                        key, spec = self.spec(s, inst.version_id)
                        [(state,)] = LOAD_STATE_DIRECT.rows(s.connection(), {"instance_id": target})
                        # The loaded JSON is this read's own copy, and the runtime may consume it.
                        workflow = self.runtime.loads(state, spec, version_key=key)
                    try:
                        outcome = change(s, inst, workflow)
                    except StepFailed as exc:
                        if refuse_failed_step and not exc.diagram_fault:
                            raise InvalidInput(f"refused: {exc}", {"data": [str(exc)]}) from None
                        outcome = self.on_step_failed(s, inst, exc, principal)
                    if outcome is UNCHANGED:
                        return None
                    saved = self.save(s, inst, workflow, principal)
                    if answer is not None:
                        outcome = answer(s, inst, saved)
                    version_id = inst.version_id
                # Only a committed step goes back into the cache (see cache.py).
                self.workflows.put(target, saved.revision, version_id, workflow)
                self.on_commit()
                return outcome
            except StaleRevision:
                self._conflict(target, attempt)
            except OperationalError as exc:
                if not lost_to_another(exc):
                    raise
                self._conflict(target, attempt)
        return self._give_up(target)

    def save(
        self,
        s: Session,
        inst: StepInstance,
        workflow: BpmnWorkflow,
        principal: Mapping[str, Any] | None,
        new: bool = False,
    ) -> Saved:
        """Write the instance as ``workflow`` left it and what its wait state asks for (``new``:
        insert it, created ``now``); returns what it saved. StaleRevision (after a rollback) if
        another save came first."""
        now = clock.now()
        # The save's steps read with Core statements, which do not autoflush: what the change did
        # through the ORM is written first, as the ORM reads they replaced made it.
        s.flush()
        # Computing the wait state walks every task: once here, again only if a step moved the workflow.
        wait = self.runtime.wait_state(workflow)
        for step in self.before_wait:
            wait = step(s, inst, workflow, wait)
        for after in self.after_wait:
            after(s, inst, workflow, wait, principal)
        # Incidents are opened only inside their instance's own transaction, which then saves it
        # as "incident": a waiting instance, or one being started, that opened none in this step
        # has none to count.
        could_have = (inst.status != "waiting" and not new) or s.info.get(INCIDENT_OPENED)
        open_incidents = could_have and s.scalar(OPEN_INCIDENTS, {"instance_id": inst.id})
        if wait.status == "completed":
            status = "completed"
        elif open_incidents:
            status = "incident"
        else:
            status = "waiting"
        if status == "completed" and inst.status != "completed":
            self.history(s, inst.id, principal, "completed", None, None)
        values = dict(
            status=status,
            waiting_tasks=wait.waiting_tasks,
            waiting_messages="|" + "|".join(wait.waiting_messages) + "|" if wait.waiting_messages else "",
            next_timer=wait.next_timer,
            state=self.runtime.dumps(workflow),
            updated_at=now,
            data=self.runtime.current_data(workflow),
            version_id=inst.version_id,
        )
        # What the step changed through the ORM is written first, as before the instance's row.
        s.flush()
        if new:
            INSERT_INSTANCE_DIRECT.execute(
                s.connection(),
                dict(
                    values,
                    id=inst.id,
                    process_id=inst.process_id,
                    business_key=inst.business_key,
                    revision=1,
                    created_at=now,
                ),
            )
            return Saved(1, values)
        old = inst.revision
        # The step's history so far is held with its other writes and goes with the instance's
        # update, in one round trip where the driver can (shared.direct); what is recorded after
        # the save is written at commit.
        write_history(s)
        touched = SAVE_STEP_DIRECT.execute(
            s.connection(), dict(values, revision=old + 1, saved_id=inst.id, saved_revision=old)
        )
        if touched != 1:
            s.rollback()
            raise StaleRevision()
        return Saved(old + 1, values)

    def set_status(
        self,
        instance_id: str,
        status: str,
        allowed: tuple[str, ...],
        change: Callable[[Session, Instance], Any],
        principal: Mapping[str, Any] | None,
    ) -> Any:  # the change's outcome
        """Set ``status`` (suspend, cancel) with the same optimistic revision check, so a change in
        flight either commits first or finds the new status and stops. ``change(session, instance)``
        runs in the same transaction."""
        for attempt in range(1, MAX_SAVE_ATTEMPTS + 1):
            try:
                with transaction(self.sessions) as s:
                    inst = s.get(Instance, instance_id)
                    if inst is None:
                        raise NotFound(f"no instance {instance_id}")
                    if inst.status not in allowed:
                        raise Conflict(f"instance {instance_id} is {inst.status}; it cannot be {status}")
                    done = s.execute(
                        update(Instance)
                        .where(Instance.id == instance_id, Instance.revision == inst.revision)
                        .values(
                            status=status,
                            # Cancelled: it waits for nothing (a suspended one keeps its tasks, hidden).
                            **({"waiting_tasks": []} if status == "cancelled" else {}),
                            waiting_messages="",
                            next_timer=None,
                            revision=inst.revision + 1,
                            updated_at=clock.now(),
                        )
                    )
                    if cast("CursorResult[Any]", done).rowcount != 1:
                        raise StaleRevision()
                    outcome = change(s, inst)
            except StaleRevision:
                self._conflict(instance_id, attempt)
                continue
            except OperationalError as exc:
                if not lost_to_another(exc):
                    raise
                self._conflict(instance_id, attempt)
                continue
            self.on_commit()
            return outcome
        return self._give_up(instance_id)

    def _conflict(self, instance_id: str, attempt: int) -> None:
        """Another save of the instance committed first: count it, say so, pause a little."""
        self.conflicts += 1
        if attempt >= MAX_SAVE_ATTEMPTS:
            return  # the caller gives up (_give_up counts it)
        metrics.REVISION_CONFLICTS.labels("retried").inc()
        log.info(
            "revision conflict on instance %s (attempt %d of %d): another save came first; trying again on its state",
            instance_id,
            attempt,
            MAX_SAVE_ATTEMPTS,
        )
        time.sleep(random.uniform(0, CONFLICT_PAUSE_SECONDS * attempt))

    def _give_up(self, instance_id: str) -> Never:
        metrics.REVISION_CONFLICTS.labels("gave_up").inc()
        log.warning("revision conflict on instance %s: gave up after %d attempts", instance_id, MAX_SAVE_ATTEMPTS)
        raise Conflict(f"instance {instance_id} is changing too often; try again")
