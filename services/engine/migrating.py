"""Instance migration: live instances moved from version A of a process to version B.

Like a migration plan in Camunda 7: the plan (``mapping`` of element ids, A's id = B's id) is
checked against every live instance before anything changes — each instance's waiting tasks must
exist in B or be mapped, and the instance, rebuilt on B's spec, must survive being saved and
restored (:mod:`shared.workflow.migration`). ``dry_run`` stops there. Otherwise, when every selected
instance passed, each is moved in its own transaction (the store's revision check, so a change in
flight either lands first or is retried on B) and the move is written to its history. A job that
had become an incident on a task B changed is sent again as B draws it, and its incident resolved;
a step that had failed on a changed element runs again. Nothing is moved when any instance is
refused.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from shared import clock
from shared.db import transaction
from shared.errors import InvalidInput
from shared.workflow import migration

from .models import Incident, Instance, Job, ProcessVersion, WorkItem
from .operators import require_operator
from .store import ENDED, UNCHANGED, InstanceStore, StepInstance

if TYPE_CHECKING:
    from .deployments import Deployments
    from .incidents import Incidents
    from .instances import Instances

MOVABLE = ("running", "waiting", "incident")


def parse_mapping(items: Mapping[str, object] | Iterable[object] | None) -> dict[str, str]:
    """``["old=new", …]`` (or a dict) as ``{old: new}``."""
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    mapping: dict[str, str] = {}
    for item in items or ():
        old, sep, new = str(item).partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidInput(
                f"--map '{item}' is not OLD=NEW (element ids of A and B)", {"map": [f"'{item}' is not OLD=NEW"]}
            )
        mapping[old.strip()] = new.strip()
    return mapping


class Migrations:
    def __init__(
        self, store: InstanceStore, deployments: Deployments, instances: Instances, incidents: Incidents
    ) -> None:
        self.store = store
        self.deployments = deployments
        self.instances = instances
        self.incidents = incidents

    def migrate(
        self,
        from_ref: str,
        to_ref: str,
        mapping: Mapping[str, str] | None = None,
        dry_run: bool = False,
        instance_ids: Iterable[str] | None = None,
        process_id: str | None = None,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        require_operator(principal)
        mapping = parse_mapping(mapping)
        store = self.store
        with transaction(store.sessions) as s:
            a = self.deployments.resolve(s, from_ref, process_id)
            b = self.deployments.resolve(s, to_ref, process_id or a.process_id)
            if a.process_id != b.process_id:
                raise InvalidInput(
                    f"{from_ref} and {to_ref} are versions of different processes", {"to": ["another process"]}
                )
            if a.id == b.id:
                raise InvalidInput("--from and --to name the same version", {"to": ["the same version"]})
            query = (
                select(Instance)
                .where(Instance.version_id == a.id, Instance.status.not_in(ENDED))
                .order_by(Instance.created_at)
            )
            if instance_ids:
                query = query.where(Instance.id.in_(list(instance_ids)))
            selected = list(s.scalars(query))
            versions = {
                "from": {"version": a.version, "number": a.number, "id": a.id},
                "to": {"version": b.version, "number": b.number, "id": b.id},
            }
            b_key, b_spec = store.spec(s, b.id)
            checked = [self._check(s, inst, b_key, b_spec, mapping) for inst in selected]
        if instance_ids:
            found = {c["id"] for c in checked}
            for missing in [i for i in instance_ids if i not in found]:
                checked.append(
                    {
                        "id": missing,
                        "ok": False,
                        "problems": [f"is not a live instance of {a.process_id} version {a.number}"],
                    }
                )
        refused = [c for c in checked if not c["ok"]]
        result: dict[str, Any] = {
            "process_id": a.process_id,
            **versions,
            "mapping": mapping,
            "dry_run": dry_run,
            "instances": checked,
            "ready": len(checked) - len(refused),
            "refused": len(refused),
            "migrated": [],
        }
        if dry_run or refused:
            return result
        for row in checked:
            if self._move(row["id"], a, b, mapping, principal) is not None:
                result["migrated"].append(row["id"])
        return result

    # -- checking --------------------------------------------------------------------------------------
    def _rerun_ids(self, s: Session, instance_id: str) -> set[str]:
        return set(s.scalars(select(Job.task_id).where(Job.instance_id == instance_id, Job.status == "incident")))

    def _check(
        self, s: Session, inst: Instance, b_key: str, b_spec: dict[str, Any], mapping: Mapping[str, str] | None
    ) -> dict[str, Any]:
        row = {
            "id": inst.id,
            "business_key": inst.business_key,
            "status": inst.status,
            "waiting_tasks": list(inst.waiting_tasks or []),
        }
        if inst.status not in MOVABLE:
            return {**row, "ok": False, "problems": [f"is {inst.status}: resume it first, then migrate it"]}
        runtime = self.store.runtime
        a_key, a_spec = self.store.spec(s, inst.version_id)
        try:
            workflow = runtime.loads(copy.deepcopy(inst.state), a_spec, version_key=a_key)
            new_spec, new_subs = runtime._specs(b_key, b_spec)
            plan = migration.migrate(workflow, new_spec, new_subs, mapping, self._rerun_ids(s, inst.id))
            if plan.ok:
                # The rebuilt instance must survive a save and a restore on B, as every step must.
                restored = runtime.loads(runtime.dumps(workflow), b_spec, version_key=b_key)
                row["waiting_on_b"] = runtime.wait_state(restored).waiting_tasks
        except Exception as exc:  # noqa: BLE001 - whatever fails, the instance is refused, unchanged
            return {**row, "ok": False, "problems": [f"does not survive the move: {type(exc).__name__}: {exc}"]}
        return {**row, **plan.to_dict()}

    # -- moving ----------------------------------------------------------------------------------------
    def _move(
        self,
        instance_id: str,
        a: ProcessVersion,
        b: ProcessVersion,
        mapping: Mapping[str, str] | None,
        principal: Mapping[str, Any] | None,
    ) -> Any:  # the change's outcome
        store = self.store

        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> object:
            if inst.version_id != a.id:
                return UNCHANGED  # moved meanwhile (another migration)
            b_key, b_spec = store.spec(s, b.id)
            new_spec, new_subs = store.runtime._specs(b_key, b_spec)
            rerun = self._rerun_ids(s, inst.id)
            plan = migration.migrate(workflow, new_spec, new_subs, mapping, rerun)
            if not plan.ok:
                raise InvalidInput(
                    f"instance {inst.id} cannot move: {'; '.join(plan.problems)}", {"problems": plan.problems}
                )
            now = clock.now()
            renamed = {w["task"]: w["to"] for w in plan.waiting if w["task"] != w["to"]}
            reset = {w["task"] for w in plan.waiting if w["reset"]}
            for job in s.scalars(
                select(Job).where(Job.instance_id == inst.id, Job.status.in_(("pending", "incident")))
            ):
                if job.status == "incident" and job.task_name in reset:
                    job.status, job.updated_at = "cancelled", now
                    self._resolve(
                        s,
                        Incident.job_id == job.job_id,
                        inst,
                        f"instance migrated to version {b.number}: the job is sent again as it draws it",
                    )
                elif job.task_name in renamed:
                    job.task_name = renamed[job.task_name]
            self._resolve(
                s,
                Incident.job_id.is_(None) & Incident.task_name.in_(reset),
                inst,
                f"instance migrated to version {b.number}: the step runs again as it draws it",
            )
            for item in s.scalars(select(WorkItem).where(WorkItem.instance_id == inst.id, WorkItem.status == "open")):
                if item.task_name in reset:
                    s.delete(item)  # opened again, as B draws the task, when the instance is saved
            s.flush()
            inst.version_id = b.id
            store.history(
                s,
                inst.id,
                principal,
                "migrated",
                None,
                {
                    "from": {"version": a.version, "number": a.number},
                    "to": {"version": b.version, "number": b.number},
                    "mapping": mapping,
                    "waiting": plan.waiting,
                    "history_only": plan.history_only,
                    "rerun": plan.rerun,
                },
            )
            store.runtime.run(workflow)
            return "migrated"

        return store.mutate(instance_id, change, principal)

    def _resolve(self, s: Session, condition: ColumnElement[bool], inst: StepInstance, resolution: str) -> None:
        for incident in s.scalars(
            select(Incident).where(
                Incident.instance_id == inst.id, Incident.status.in_(("open", "retrying")), condition
            )
        ):
            incident.status, incident.resolved_at, incident.resolution = "resolved", clock.now(), resolution
