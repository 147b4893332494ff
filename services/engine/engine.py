"""The engine's rules, free of nameko: a small facade over modules with one idea each.

- :mod:`.store` — the one way an instance changes: load, change, save with an optimistic revision
  check in one transaction (with the outbox); history;
- :mod:`.deployments` — diagrams validated and stored as versions, the active version, diffs;
- :mod:`.instances` — starting and reading instances;
- :mod:`.jobs` — service tasks out as jobs, results in (retry, BPMN error, incident);
- :mod:`.incidents` — what failed, retried or resolved by operators;
- :mod:`.tasklist` — user tasks as work items, claimed and completed;
- :mod:`.messages` — BPMN messages correlated, buffered and delivered;
- :mod:`.timers` — timers fired from the persisted schedule;
- :mod:`.operators` — suspend, resume, cancel, where, and the batch actions;
- :mod:`.migrating` — live instances moved from one version to another, checked first.

The nameko service (``service.py``) and the ``ztc`` command are thin shells around :class:`Engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.workflow.parser import ProcessDefinition
from shared.workflow.runtime import WorkflowRuntime

from .deployments import Deployments
from .incidents import Incidents, incident_dict
from .instances import Instances
from .jobs import Jobs
from .messages import Messages
from .migrating import Migrations
from .operators import Operators, operator_counts
from .store import MAX_SAVE_ATTEMPTS, InstanceStore  # noqa: F401 - part of the engine's API
from .tasklist import TaskList
from .timers import Timers
from .views import CancelledInstanceView, IncidentView, InstanceView, TaskPageView, WorkItemView


class Engine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings | None,
        runtime: WorkflowRuntime | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store = InstanceStore(sessions, settings, runtime, on_commit)
        self.deployments = Deployments(store)
        self.incidents_ = Incidents(store)
        self.instances = Instances(store, self.deployments, incident_dict)
        self.jobs = Jobs(store, self.incidents_)
        self.tasks = TaskList(store, self.incidents_)
        self.messages = Messages(store)
        self.timers = Timers(store)
        self.operators = Operators(store, self.instances, self.incidents_, self.jobs)
        self.migrations = Migrations(store, self.deployments, self.instances, self.incidents_)
        self.incidents_.send_job = self.jobs.send
        store.on_step_failed = self.incidents_.for_step
        store.before_wait.append(self.messages.deliver_buffered)
        store.after_wait.extend([self.jobs.emit_new, self.tasks.sync])

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.store.sessions

    @property
    def settings(self) -> Settings | None:
        return self.store.settings

    @property
    def runtime(self) -> WorkflowRuntime:
        return self.store.runtime

    # -- deploy ---------------------------------------------------------------------------------
    def validate(self, files: Mapping[str, bytes | str]) -> list[ProcessDefinition]:
        return self.deployments.validate(files)

    def deploy(
        self, files: Mapping[str, bytes | str], actor: str = "designer", draft: bool = False
    ) -> list[dict[str, Any]]:
        return self.deployments.deploy(files, actor, draft)

    def versions(self, process_id: str | None = None) -> list[dict[str, Any]]:
        return self.deployments.versions(process_id)

    def activate(self, process_id: str, version: str, actor: str = "designer") -> dict[str, Any]:
        return self.deployments.activate(process_id, version, actor)

    def activations(self, process_id: str) -> list[dict[str, Any]]:
        return self.deployments.activations(process_id)

    def diff_versions(self, version_a: str, version_b: str, process_id: str | None = None) -> dict[str, Any]:
        return self.deployments.diff(version_a, version_b, process_id)

    def version_diagram(self, process_id: str, version: str) -> dict[str, Any]:
        return self.deployments.diagram(process_id, version)

    def version_coverage(self, process_id: str, version: str) -> dict[str, Any]:
        return self.deployments.coverage(process_id, version)

    def migrate_instances(
        self,
        from_version: str,
        to_version: str,
        mapping: dict[str, Any] | None = None,
        dry_run: bool = False,
        instance_ids: list[str] | None = None,
        process_id: str | None = None,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.migrations.migrate(from_version, to_version, mapping, dry_run, instance_ids, process_id, principal)

    # -- instances ------------------------------------------------------------------------------
    def start(
        self,
        process_id: str,
        business_key: str | None = None,
        data: dict[str, Any] | None = None,
        principal: Mapping[str, Any] | None = None,
        instance_id: str | None = None,
    ) -> InstanceView:
        return self.instances.start(process_id, business_key, data, principal, instance_id)

    def start_once(
        self,
        process_id: str,
        business_key: str | None,
        data: dict[str, Any] | None,
        principal: Mapping[str, Any] | None,
        request_key: str,
    ) -> InstanceView:
        return self.instances.start_once(process_id, business_key, data, principal, request_key)

    def start_command(self, raw: dict[str, Any]) -> InstanceView:
        return self.instances.start_command(raw)

    def get_instance(self, instance_id: str) -> InstanceView:
        return self.instances.get(instance_id)

    def find_instances(
        self,
        business_key: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[InstanceView]:
        return self.instances.find(business_key, process_id, status, limit)

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return self.instances.history(instance_id)

    def counts(self) -> dict[str, Any]:
        return self.instances.counts()

    # -- jobs and incidents -------------------------------------------------------------------------
    def accept_result(self, raw: Any) -> str:  # a decoded message body, checked by the schema
        return self.operators.accept_result(raw)

    def handle_result(self, raw: dict[str, Any]) -> str:
        return self.jobs.handle_result(raw)

    def incidents(self, status: str | None = "open") -> list[IncidentView]:
        return self.incidents_.list(status)

    def incident_page(self, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.incidents_.page(query)

    def incident(self, incident_id: int) -> IncidentView:
        return self.incidents_.get(incident_id)

    def retry_incident(self, incident_id: int, principal: Mapping[str, Any] | None = None) -> IncidentView:
        return self.incidents_.retry(incident_id, principal)

    def resolve_incident(
        self, incident_id: int, resolution: str, principal: Mapping[str, Any] | None = None
    ) -> IncidentView:
        return self.incidents_.resolve(incident_id, resolution, principal)

    # -- user tasks ------------------------------------------------------------------------------
    def list_tasks(
        self,
        principal: Mapping[str, Any] | None,
        instance_id: str | None = None,
        business_key: str | None = None,
        process_id: str | None = None,
    ) -> list[WorkItemView]:
        return self.tasks.list(principal, instance_id, business_key, process_id)

    def task_page(self, principal: Mapping[str, Any] | None, query: Mapping[str, Any] | None = None) -> TaskPageView:
        return self.tasks.page(principal, query)

    def claim(self, task_id: str, principal: Mapping[str, Any] | None) -> WorkItemView:
        return self.tasks.claim(task_id, principal)

    def complete_task(
        self, task_id: str, data: dict[str, Any] | None, principal: Mapping[str, Any] | None
    ) -> InstanceView:
        answer: InstanceView = self.tasks.complete(task_id, data, principal, answer=self.instances.answer_saved)
        return answer

    # -- messages and timers -------------------------------------------------------------------------
    def send_message(self, raw: dict[str, Any], principal: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.messages.send(raw, principal)

    def waiting_messages(
        self, status: str | None = "buffered", name: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        return self.messages.list(status, name, limit)

    def deliver_waiting_messages(self, limit: int = 100) -> int:
        return self.messages.deliver_waiting(limit)

    def expire_messages(self) -> int:
        return self.messages.expire()

    def fire_due_timers(self, limit: int = 100) -> int:
        return self.timers.fire_due(limit)

    # -- operators ---------------------------------------------------------------------------------
    def suspend(
        self, instance_id: str, reason: str | None = None, principal: Mapping[str, Any] | None = None
    ) -> InstanceView:
        return self.operators.suspend(instance_id, reason, principal)

    def resume(self, instance_id: str, principal: Mapping[str, Any] | None = None) -> InstanceView:
        return self.operators.resume(instance_id, principal)

    def cancel(
        self, instance_id: str, reason: str, principal: Mapping[str, Any] | None = None
    ) -> CancelledInstanceView:
        return self.operators.cancel(instance_id, reason, principal)

    def where(self, instance_id: str) -> dict[str, Any]:
        return self.operators.where(instance_id)

    def select_instances(
        self,
        business_key_prefix: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        return self.operators.select_instances(business_key_prefix, process_id, status, limit)

    def cancel_instances(
        self,
        reason: str,
        business_key_prefix: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        dry_run: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.operators.cancel_instances(reason, business_key_prefix, process_id, status, dry_run, principal)

    def retry_incidents(
        self,
        operation: str | None = None,
        process_id: str | None = None,
        dry_run: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.operators.retry_incidents(operation, process_id, dry_run, principal)

    def operator_counts(self) -> dict[str, Any]:
        return operator_counts(self.store.sessions)
