"""Instances: start one (by a caller, or idempotently from a start command on the bus) and read
them (one, a search, the history, counts by status)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import contracts
from shared.db import transaction
from shared.errors import InvalidInput, NotFound
from shared.workflow.runtime import StepFailed

from .deployments import Deployments
from .models import History, Incident, Instance
from .store import INCIDENT_OPENED, INSTANCES, InstanceStore, Saved, StepInstance, iso
from .views import IncidentView, InstanceView


# Whether an instance has an id (an idempotent start's question); built once.
EXISTS = select(INSTANCES.c.id).where(INSTANCES.c.id == bindparam("instance_id"))


def keyed_id(key: str) -> str:
    """An instance id made from ``key``: the same key, the same id (a start is idempotent by it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


class Instances:
    def __init__(
        self, store: InstanceStore, deployments: Deployments, incident_dict: Callable[[Incident], IncidentView]
    ) -> None:
        self.store = store
        self.deployments = deployments
        self.incident_dict = incident_dict

    def start(
        self,
        process_id: str,
        business_key: str | None = None,
        data: Mapping[str, Any] | None = None,
        principal: Mapping[str, Any] | None = None,
        instance_id: str | None = None,
        incident_on_failure: bool = False,
    ) -> InstanceView:
        """Start an instance on its process's active version. With ``instance_id`` the start is
        idempotent: an instance that already has that id is returned as it is.

        A start whose first steps fail (a script, an expression, a timer that is not ISO 8601) is
        refused to its caller with InvalidInput naming the element, and nothing is stored; with
        ``incident_on_failure`` (a start command from the bus, whose sender has already told its
        caller yes) the instance is stored where it failed, with an open incident naming the
        element, for an operator to see, fix (a new version, ``ztc instances migrate``) and retry."""
        # A new id is nobody's yet: only an id given (a start command's) can have been started before.
        given = instance_id is not None
        instance_id = instance_id or str(uuid.uuid4())
        try:
            return self._start(instance_id, given, process_id, business_key, data, principal, incident_on_failure)
        except IntegrityError:
            return self.get(instance_id)  # a concurrent delivery of the same start won

    def start_once(
        self,
        process_id: str,
        business_key: str | None,
        data: Mapping[str, Any] | None,
        principal: Mapping[str, Any] | None,
        request_key: str,
    ) -> InstanceView:
        """An operator's start, once per request: the instance's id is made from who asked, the
        process and the request's idempotency key, so a redelivered call answers the instance it
        made (:meth:`start` with that id)."""
        who = (principal or {}).get("user") or ""
        instance_id = keyed_id(f"ztc-http-start:{who}:{process_id}:{request_key}")
        return self.start(process_id, business_key, data, principal, instance_id=instance_id)

    def start_command(self, raw: dict[str, Any]) -> InstanceView:
        """Start a process from a start command sent over the bus (idempotent by command id)."""
        try:
            command = contracts.StartSchema().load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed start command", exc.messages) from None
        instance_id = keyed_id(f"ztc-start:{command['command_id']}")
        return self.start(
            command["process_id"],
            command["business_key"],
            command["data"],
            command["principal"],
            instance_id=instance_id,
            incident_on_failure=True,
        )

    def _start(
        self,
        instance_id: str,
        given: bool,
        process_id: str,
        business_key: str | None,
        data: Mapping[str, Any] | None,
        principal: Mapping[str, Any] | None,
        incident_on_failure: bool,
    ) -> InstanceView:
        """One transaction: an instance that already has the id given is answered as it is;
        otherwise the instance is made, run to its first wait, saved, and answered from what was
        saved (nothing is read back)."""
        store = self.store
        with transaction(store.sessions) as s:
            if given and s.connection().execute(EXISTS, {"instance_id": instance_id}).first() is not None:
                found = s.get(Instance, instance_id)
                assert found is not None  # instances are never deleted
                return self.describe(s, found)
            version_id, label = self.deployments.active_label(s, process_id)
            key, spec = store.spec(s, version_id)
            workflow = store.runtime.create(spec, data or {}, version_key=key)
            inst = StepInstance(
                id=instance_id,
                process_id=process_id,
                version_id=version_id,
                business_key=business_key,
                status="running",
                waiting_tasks=[],
                revision=0,
            )
            store.history(s, instance_id, principal, "started", None, {"version": label, "business_key": business_key})
            try:
                store.runtime.advance(workflow)
            except StepFailed as exc:
                if not incident_on_failure:
                    raise InvalidInput(
                        f"the process '{process_id}' could not start: {exc}",
                        {"data": [str(exc)], "element": exc.task_name},
                    ) from None
                store.on_step_failed(s, inst, exc, principal)
            saved = store.save(s, inst, workflow, principal, new=True)
            # A new instance has no incident but one its first steps opened in this transaction.
            incidents = self._incidents(s, instance_id) if s.info.get(INCIDENT_OPENED) else []
            answer = store.describe_saved(inst, saved, label, incidents, created_at=saved.values["updated_at"])
        store.workflows.put(instance_id, saved.revision, version_id, workflow)
        store.on_commit()
        return answer

    def answer_saved(self, s: Session, inst: StepInstance, saved: Saved) -> InstanceView:
        """A step's answer (:meth:`get`'s) from what it saved, in its own transaction: the version's
        label (cached) and the incidents not resolved are all it reads."""
        assert inst.created_at is not None  # a step's instance was loaded with it
        label = self.store.label(s, inst.version_id)
        return self.store.describe_saved(inst, saved, label, self._incidents(s, inst.id), inst.created_at)

    def _incidents(self, s: Session, instance_id: str) -> list[IncidentView]:
        return self.store.unresolved_incidents(s, instance_id, self.incident_dict)

    def describe(self, s: Session, inst: Instance) -> InstanceView:
        return self.store.describe(s, inst, self.incident_dict)

    def get(self, instance_id: str) -> InstanceView:
        with transaction(self.store.sessions) as s:
            inst = s.get(Instance, instance_id)
            if inst is None:
                raise NotFound(f"no instance {instance_id}")
            return self.describe(s, inst)

    def find(
        self,
        business_key: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[InstanceView]:
        with transaction(self.store.sessions) as s:
            query = select(Instance).order_by(Instance.created_at.desc()).limit(limit)
            if business_key:
                query = query.where(Instance.business_key == business_key)
            if process_id:
                query = query.where(Instance.process_id == process_id)
            if status:
                query = query.where(Instance.status == status)
            return [self.describe(s, i) for i in s.scalars(query)]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        with transaction(self.store.sessions) as s:
            rows = s.scalars(select(History).where(History.instance_id == instance_id).order_by(History.id))
            return [
                {"at": iso(h.at), "actor": h.actor, "action": h.action, "task": h.task, "data": h.data} for h in rows
            ]

    def counts(self) -> dict[str, Any]:
        with transaction(self.store.sessions) as s:
            rows = s.execute(select(Instance.status, func.count()).group_by(Instance.status)).all()
            return {status: n for status, n in rows}
