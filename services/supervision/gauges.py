"""Supervision's gauges, read from its database when /metrics is scraped."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from shared.db import transaction

from .queries import overdue
from .unit_of_work import SqlSupervisionUnitOfWork


def supervision_gauges(sessions):
    with transaction(sessions) as s:
        units = overdue(SqlSupervisionUnitOfWork(s), {"user": "metrics", "roles": ["staff"], "unit": None})["units"]
    family = GaugeMetricFamily(
        "ztc_overdue_work_items",
        "Overdue work per unit (live): replies, signing, co-unit input, B milestones.",
        labels=["unit"],
    )
    for row in units:
        family.add_metric([row["unit"]], row["count"])
    yield family
