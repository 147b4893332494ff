"""The engine service: nameko RPC for people-facing commands and queries, the job-result
listener, and the timer tick. Every method hands straight to :class:`Engine`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from nameko.containers import WorkerContext
from nameko.timer import timer

from shared import logs, metrics
from shared.contracts import messages
from shared.contracts.messages import START_SENDERS
from shared.errors import Forbidden
from shared.messaging.database import Database
from shared.messaging.entrypoints import Pingable, api, listen
from shared.messaging.identity import Sender
from shared.messaging.topology import engine_messages_queue, engine_results_queue, engine_starts_queue

from .engine import Engine
from .gauges import engine_gauges
from .models import Inbox, Outbox
from .views import CancelledInstanceView, IncidentView, InstanceView, TaskPageView, WorkItemView

log = logging.getLogger(__name__)


def _require_operator(principal: object, what: str) -> None:
    roles = (principal or {}).get("roles") or () if isinstance(principal, dict) else ()
    if "operator" not in roles:
        raise Forbidden(f"only an operator may {what}")


class EngineStore(Database):
    """The engine's database, relay, and the :class:`Engine` that uses them."""

    def setup(self) -> None:
        super().setup()
        self.engine = Engine(self.sessions, self.settings, on_commit=self.wake)

    def get_dependency(self, worker_ctx: WorkerContext) -> Engine:  # type: ignore[override]  # the Engine, not a unit of work
        return self.engine


def require_result_sender(body: object, sender: Sender) -> None:
    """A job result comes from the service whose operation it answers."""
    operation = body.get("operation") if isinstance(body, dict) else None
    service = operation.split(".", 1)[0] if isinstance(operation, str) and "." in operation else None
    allowed = sender.is_service(service) if service else sender.is_service()
    if not allowed:
        raise Forbidden(
            f"a result for {operation!r} from {sender.describe()}; results come from the "
            f"service that did the job ({service or 'a service'})"
        )


def require_message_sender(body: object, sender: Sender) -> None:
    """A BPMN message comes from a sender ``shared/contracts/messages.py`` declares for it."""
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or messages.get(name) is None:
        if not sender.is_service():
            raise Forbidden(f"a message {name!r} from {sender.describe()}; BPMN messages come from the services")
        return  # malformed or undeclared: the engine answers it as it always did
    if not sender.may_send_message(name):
        declared = messages.get(name)
        raise Forbidden(
            f"the BPMN message {name!r} from {sender.describe()}; it is sent only by "
            f"{', '.join(declared.senders) if declared else 'the services'}"
        )


class EngineService(Pingable):
    name = "engine"
    metrics_gauges = staticmethod(engine_gauges)
    # The provider gives each worker the Engine (EngineStore.get_dependency).
    engine: Engine = EngineStore("engine", Outbox, Inbox)

    # -- the bus: each message is taken only from the senders the contracts name (the broker-
    # validated AMQP user_id); any other is refused (dead-lettered with the reason), changing nothing.
    @listen(engine_results_queue(), with_sender=True)
    def on_job_result(self, body: Any, sender: Sender) -> None:  # body: the decoded message, checked by the schema
        if isinstance(body, dict):
            logs.bind(job_id=body.get("job_id"), instance_id=body.get("instance_id"))
        require_result_sender(body, sender)
        outcome = self.engine.accept_result(body)
        if isinstance(body, dict):
            metrics.JOB_RESULTS.labels(str(body.get("operation") or "?"), outcome).inc()
        log.info("job %s: %s", body.get("job_id") if isinstance(body, dict) else "?", outcome)

    @listen(engine_messages_queue(), with_sender=True)
    def on_message(self, body: Any, sender: Sender) -> None:  # body: the decoded message, checked by the schema
        if isinstance(body, dict):
            logs.bind(business_key=body.get("correlation_key"))
        require_message_sender(body, sender)
        outcome = self.engine.send_message(body)
        log.info("message %s: %s", body.get("message_id") if isinstance(body, dict) else "?", outcome["status"])

    @listen(engine_starts_queue(), with_sender=True)
    def on_start(self, body: Any, sender: Sender) -> None:  # body: the decoded message, checked by the schema
        if isinstance(body, dict):
            logs.bind(business_key=body.get("business_key"))
        if not any(sender.is_service(s) for s in START_SENDERS):
            raise Forbidden(
                f"a start command from {sender.describe()}; processes are started by command "
                f"only by {', '.join(START_SENDERS)}"
            )
        instance = self.engine.start_command(body)
        log.info("started %s %s", instance["process_id"], instance["id"])

    @timer(interval=1)  # type: ignore[untyped-decorator]  # nameko ships no types
    def tick(self) -> None:
        self.engine.fire_due_timers()
        self.engine.deliver_waiting_messages()
        self.engine.expire_messages()

    # -- commands and queries -----------------------------------------------------------------
    @api
    def deploy(
        self, files: Mapping[str, bytes | str], actor: str = "designer", draft: bool = False
    ) -> list[dict[str, Any]]:
        return self.engine.deploy(files, actor, draft)

    @api
    def versions(self, process_id: str | None = None) -> list[dict[str, Any]]:
        return self.engine.versions(process_id)

    @api
    def activate(self, process_id: str, version: str, actor: str = "designer") -> dict[str, Any]:
        return self.engine.activate(process_id, version, actor)

    @api
    def activations(self, process_id: str) -> list[dict[str, Any]]:
        return self.engine.activations(process_id)

    @api
    def diff_versions(self, version_a: str, version_b: str, process_id: str | None = None) -> dict[str, Any]:
        return self.engine.diff_versions(version_a, version_b, process_id)

    @api
    def version_diagram(self, process_id: str, version: str) -> dict[str, Any]:
        return self.engine.version_diagram(process_id, version)

    @api
    def version_coverage(self, process_id: str, version: str) -> dict[str, Any]:
        """The scenarios run in a child process: the engine's event loop keeps serving meanwhile."""
        return self.engine.version_coverage(process_id, version)

    @api
    def start(
        self,
        process_id: str,
        business_key: str | None = None,
        data: dict[str, Any] | None = None,
        principal: Mapping[str, Any] | None = None,
        request_key: str | None = None,
    ) -> InstanceView:
        """A raw start, for operators: a proposal, an opinion item or a case is started by the
        service that owns it (its start command on the bus), after checking the caller.
        ``request_key`` (the HTTP request's idempotency key) makes it once per request: the
        instance's id is made from it, so a redelivered call answers the instance it made."""
        _require_operator(principal, "start a process instance directly")
        if request_key is None:
            return self.engine.start(process_id, business_key, data, principal)
        return self.engine.start_once(process_id, business_key, data, principal, request_key)

    @api
    def get_instance(self, instance_id: str) -> InstanceView:
        return self.engine.get_instance(instance_id)

    @api
    def find_instances(
        self, business_key: str | None = None, process_id: str | None = None, status: str | None = None
    ) -> list[InstanceView]:
        return self.engine.find_instances(business_key, process_id, status)

    @api
    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return self.engine.history(instance_id)

    @api
    def list_tasks(
        self,
        principal: Mapping[str, Any] | None,
        instance_id: str | None = None,
        business_key: str | None = None,
        process_id: str | None = None,
    ) -> list[WorkItemView]:
        """Every open task the principal may act on among those filtered (an instance, a business
        key, a process): unbounded, for callers that narrow it; people page with :meth:`task_page`."""
        return self.engine.list_tasks(principal, instance_id, business_key, process_id)

    @api
    def task_page(self, principal: Mapping[str, Any] | None, query: Mapping[str, Any] | None = None) -> TaskPageView:
        """A page of the principal's open tasks, oldest first, with their ``total`` (``query``:
        ``page``, ``per_page`` 1-200 default 50, ``instance_id``, ``business_key``, ``process_id``)."""
        return self.engine.task_page(principal, query)

    @api
    def claim(self, task_id: str, principal: Mapping[str, Any] | None) -> WorkItemView:
        return self.engine.claim(task_id, principal)

    @api
    def complete_task(
        self, task_id: str, data: dict[str, Any] | None, principal: Mapping[str, Any] | None
    ) -> InstanceView:
        return self.engine.complete_task(task_id, data, principal)

    @api
    def send_message(self, message: dict[str, Any], principal: Mapping[str, Any] | None) -> dict[str, Any]:
        """A BPMN message from outside, for operators: services send theirs through their outboxes
        (taken from them only: ``on_message``), units act through the assignment service, which
        checks the assignment is theirs; and only the messages ``shared/contracts/messages.py`` lets
        the operator send."""
        _require_operator(principal, "send a BPMN message directly")
        name = message.get("name") if isinstance(message, dict) else None
        declared = messages.get(name) if isinstance(name, str) else None
        if declared is not None and not messages.may_send(declared.name, "operator"):
            raise Forbidden(
                f"the message {name!r} is sent by {', '.join(declared.senders)}, not over the API",
                {"name": [f"{name} is not sent over the API"]},
            )
        return self.engine.send_message(message, principal)

    @api
    def incidents(self, status: str | None = "open") -> list[IncidentView]:
        """Every incident of ``status`` (None: all), oldest first: for the ``ztc`` command and the
        chaos checks; people page with :meth:`incident_page`."""
        return self.engine.incidents(status)

    @api
    def incident_page(self, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A page of the incidents, newest first, with their total (``query``: ``page``,
        ``per_page`` 1-200 default 50, ``status`` open by default, empty for every one)."""
        return self.engine.incident_page(query)

    @api
    def retry_incident(self, incident_id: int, principal: Mapping[str, Any] | None = None) -> IncidentView:
        return self.engine.retry_incident(incident_id, principal)

    @api
    def resolve_incident(
        self, incident_id: int, resolution: str, principal: Mapping[str, Any] | None = None
    ) -> IncidentView:
        return self.engine.resolve_incident(incident_id, resolution, principal)

    @api
    def fire_timers(self) -> int:
        return self.engine.fire_due_timers()

    # -- operators ------------------------------------------------------------------------------
    @api
    def suspend(
        self, instance_id: str, reason: str | None = None, principal: Mapping[str, Any] | None = None
    ) -> InstanceView:
        return self.engine.suspend(instance_id, reason, principal)

    @api
    def resume(self, instance_id: str, principal: Mapping[str, Any] | None = None) -> InstanceView:
        return self.engine.resume(instance_id, principal)

    @api
    def cancel(
        self, instance_id: str, reason: str, principal: Mapping[str, Any] | None = None
    ) -> CancelledInstanceView:
        return self.engine.cancel(instance_id, reason, principal)

    @api
    def where(self, instance_id: str) -> dict[str, Any]:
        return self.engine.where(instance_id)

    @api
    def cancel_instances(
        self,
        reason: str,
        business_key_prefix: str | None = None,
        process_id: str | None = None,
        status: str | None = None,
        dry_run: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.engine.cancel_instances(reason, business_key_prefix, process_id, status, dry_run, principal)

    @api
    def retry_incidents(
        self,
        operation: str | None = None,
        process_id: str | None = None,
        dry_run: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.engine.retry_incidents(operation, process_id, dry_run, principal)

    @api
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
        return self.engine.migrate_instances(
            from_version, to_version, mapping, dry_run, instance_ids, process_id, principal
        )

    @api
    def waiting_messages(self, status: str | None = "buffered", name: str | None = None) -> list[dict[str, Any]]:
        return self.engine.waiting_messages(status, name)
