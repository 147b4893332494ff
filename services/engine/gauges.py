"""The engine's gauges, read from its database when /metrics is scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.orm import Session, sessionmaker

from .operators import operator_counts


def engine_gauges(sessions: sessionmaker[Session]) -> Iterator[Metric]:
    figures = operator_counts(sessions)
    instances = GaugeMetricFamily(
        "ztc_instances", "Process instances by process and state.", labels=["process", "state"]
    )
    for process, state, n in figures["instances"]:
        instances.add_metric([process, state], n)
    incidents = GaugeMetricFamily("ztc_incidents_open", "Open incidents by operation.", labels=["operation"])
    for operation, n in figures["incidents"]:
        incidents.add_metric([operation], n)
    pending = GaugeMetricFamily(
        "ztc_jobs_pending", "Jobs sent and not yet answered, by operation.", labels=["operation"]
    )
    for operation, n in figures["pending_jobs"]:
        pending.add_metric([operation], n)
    buffered = GaugeMetricFamily(
        "ztc_messages_buffered",
        "BPMN messages waiting in the engine, by name and whether a live instance "
        "has their correlation key (has_instance=no: nothing can take them; they expire).",
        labels=["name", "has_instance"],
    )
    for name, has, n in figures["buffered_messages"]:
        buffered.add_metric([name, has], n)
    yield from (instances, incidents, pending, buffered)
    yield GaugeMetricFamily(
        "ztc_work_items_open", "User tasks open in the task list.", value=figures["open_work_items"]
    )
    yield GaugeMetricFamily(
        "ztc_held_results", "Job results held for suspended instances.", value=figures["held_results"]
    )
