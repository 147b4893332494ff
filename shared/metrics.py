"""Prometheus metrics of every service, served by each service process on its own port.

What is counted as it happens (process-wide, labelled with the service):

- ``ztc_jobs_total{service,operation,outcome}`` and ``ztc_job_duration_seconds{service,operation}``:
  jobs a worker service ran (outcome ok, error, failed);
- ``ztc_job_results_total{operation,outcome}``: job results the engine applied (completed, caught,
  retry, incident, dropped, held);
- ``ztc_revision_conflicts_total{outcome}``: saves of an instance that found another save of it
  committed first (another worker or engine replica stepped it): retried on the fresh state, or
  given up after the store's attempts (the caller then gets a Conflict);
- ``ztc_messages_total{service,queue,outcome}``: messages ``@listen`` handled (ok, dead_lettered,
  retried: sent back to their queue for another attempt, requeued: given back as they were);
  ``ztc_dead_letters_total{service,queue,kind}``: every dead letter written, by the queue it came
  from and the kind of its death (undecodable, too_large, malformed, refused, exhausted: see
  ``shared/messaging/poison.py``).

What is read from the service's database when scraped: ``ztc_outbox_backlog{service}`` for every
service; the engine adds ``ztc_instances{process,state}``, ``ztc_incidents_open{operation}``,
``ztc_jobs_pending{operation}``, ``ztc_work_items_open`` and ``ztc_held_results``; supervision adds
``ztc_overdue_work_items{unit}``.

``MetricsExporter`` (a nameko dependency every service has) serves ``/metrics`` on
``settings.metrics_port(service)`` (off when that is None), plus ``/health``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from nameko.containers import WorkerContext

    from shared.messaging.database import Database

# A service's own gauges: metric families read from its database at scrape time.
Gauges = Callable[[sessionmaker[Session]], Iterable[Metric]]

log = logging.getLogger(__name__)

JOBS = Counter(
    "ztc_jobs",
    "Jobs run by a service, by operation and outcome (ok, error, failed).",
    ["service", "operation", "outcome"],
)
JOB_SECONDS = Histogram(
    "ztc_job_duration_seconds",
    "Time a service took for one job, receipt to ack.",
    ["service", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_RESULTS = Counter(
    "ztc_job_results", "Job results the engine handled, by operation and outcome.", ["operation", "outcome"]
)
REVISION_CONFLICTS = Counter(
    "ztc_revision_conflicts",
    "Instance saves that met a newer revision saved by "
    "another worker or engine replica, by outcome (retried, gave_up).",
    ["outcome"],
)
MESSAGES = Counter(
    "ztc_messages", "Messages handled by @listen entrypoints, by queue and outcome.", ["service", "queue", "outcome"]
)
DEAD_LETTERED = Counter(
    "ztc_dead_letters",
    "Messages dead-lettered, by the queue they came from and "
    "the kind of death (undecodable, too_large, malformed, refused, exhausted).",
    ["service", "queue", "kind"],
)


class ServiceCollector:
    """Read at scrape time from the service's own database: the outbox backlog, and the service's
    own gauges (``metrics_gauges(sessions)`` on its class, yielding metric families)."""

    def __init__(self, service: str, database: Database | None, gauges: Gauges | None = None) -> None:
        self.service = service
        self.database = database
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        if self.database is None or self.database.sessions is None:
            return
        try:
            backlog = GaugeMetricFamily("ztc_outbox_backlog", "Outbox rows not yet published.", labels=["service"])
            backlog.add_metric([self.service], self.database.relay.pending())
            yield backlog
            if self.gauges is not None:
                yield from self.gauges(self.database.sessions)
        except Exception as exc:  # the database is away: say so in the log, serve the rest
            log.warning("metrics of %s: could not read its database: %s", self.service, exc)


class _Everything:
    """The process-wide counters, served beside one service's own figures."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def registry_for(service: str, database: Database | None, gauges: Gauges | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Everything())
    registry.register(ServiceCollector(service, database, gauges))
    return registry


class MetricsExporter(DependencyProvider):  # type: ignore[misc]  # nameko ships no types
    """Serves ``/metrics`` for its service on ``settings.metrics_port(service)``."""

    def setup(self) -> None:
        self.registry: CollectorRegistry | None = None
        self.socket = None
        settings = self.container.config.get("ZTC_SETTINGS")
        self.port = settings.metrics_port(self.container.service_name) if settings else None
        self.host = settings.metrics_host if settings else "127.0.0.1"

    def _database(self) -> Database | None:
        from shared.messaging.database import Database

        return next((d for d in self.container.dependencies if isinstance(d, Database)), None)

    def start(self) -> None:
        if self.port is None:
            return
        import eventlet
        import eventlet.wsgi

        self.registry = registry_for(
            self.container.service_name, self._database(), getattr(self.container.service_cls, "metrics_gauges", None)
        )
        self.socket = eventlet.listen((self.host, self.port))
        self._thread = self.container.spawn_managed_thread(self._serve)
        log.info("%s serves metrics on http://%s:%s/metrics", self.container.service_name, self.host, self.port)

    def _serve(self) -> None:
        import eventlet.wsgi

        try:
            eventlet.wsgi.server(self.socket, self.app, log_output=False)
        except (OSError, ValueError):  # the socket was closed: the service stops
            pass

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            assert self.registry is not None  # made in start(), before the server serves
            body = generate_latest(self.registry)
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [body]
        if path == "/health":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok", "service": "%s"}' % self.container.service_name.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics\n"]

    def stop(self) -> None:
        thread, self._thread = getattr(self, "_thread", None), None
        if thread is not None:
            thread.kill()
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass
            self.socket = None

    kill = stop

    def get_dependency(self, worker_ctx: WorkerContext) -> CollectorRegistry | None:
        return self.registry
