"""Supervision's gauges, read from its database when /metrics is scraped."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from shared.db import transaction

from .queries import overdue_per_unit
from .unit_of_work import SqlSupervisionUnitOfWork


def supervision_gauges(sessions):
    with transaction(sessions) as s:
        _, units = overdue_per_unit(SqlSupervisionUnitOfWork(s), {"user": "metrics", "roles": ["staff"], "unit": None})
    family = GaugeMetricFamily(
        "ztc_overdue_work_items",
        "Overdue work per unit (live): replies, signing, co-unit input, B milestones.",
        labels=["unit"],
    )
    for unit, count in sorted(units.items()):
        family.add_metric([unit], count)
    yield family
