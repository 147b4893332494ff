"""What each service's /metrics reads from its database at scrape time, on SQLite and PostgreSQL:
the engine's instances and incidents, supervision's overdue work per unit, every outbox's backlog."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from prometheus_client import generate_latest

from services.engine.models import Outbox as EngineOutbox
from services.supervision.models import Deadline, Outbox as SupervisionOutbox
from services.supervision.rules import REPLY_RULES
from shared import metrics
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.messaging.relay import OutboxRelay
from tests.integration.services.engine.test_rules import DATA, MEMBER, SMOKE

# Counts read at scrape time, by SQL of each dialect.
pytestmark = pytest.mark.both_databases


class _Db:
    def __init__(self, settings, service, outbox):
        migrate(service, settings.database_url(service))
        self.sessions = session_factory(settings.database_url(service))
        self.relay = OutboxRelay(self.sessions, outbox, settings.amqp_uri)


def _scrape(service, db) -> str:
    from services.registry import service_class

    gauges = getattr(service_class(service), "metrics_gauges", None)
    return generate_latest(metrics.registry_for(service, db, gauges)).decode()


def test_the_engine_reports_instances_by_state_incidents_and_its_outbox(engine, settings):
    engine.deploy(SMOKE)
    engine.start("smoke", "M-1", dict(DATA), MEMBER)
    engine.start("smoke", "M-2", dict(DATA), MEMBER)
    text = _scrape("engine", _Db(settings, "engine", EngineOutbox))
    assert 'ztc_instances{process="smoke",state="waiting"} 2.0' in text
    assert 'ztc_jobs_pending{operation="intake.record_submission"} 2.0' in text
    assert 'ztc_outbox_backlog{service="engine"} 2.0' in text  # the two jobs, not yet relayed


def test_supervision_reports_overdue_reply_deadlines_per_unit(settings):
    db = _Db(settings, "supervision", SupervisionOutbox)
    now = datetime.now(timezone.utc)
    long_ago = date.today() - timedelta(days=40)
    with transaction(db.sessions) as s:
        for n, (units, due) in enumerate(
            [
                (["transport"], long_ago),
                (["transport", "education"], long_ago),
                (["education"], date.today() + timedelta(days=5)),
            ]
        ):
            s.add(
                Deadline(
                    number=f"2026-{n:03d}",
                    rule=sorted(REPLY_RULES)[0],
                    unit=None,
                    units=units,
                    start_event="assigned",
                    started_at=now,
                    start_date=long_ago,
                    rulebook="proposal",
                    rulebook_version="1",
                    rulebook_hash="h",
                    amount=30,
                    amount_unit="days",
                    original_due=due,
                    due=due,
                    status="open",
                    opened_by="test",
                    created_at=now,
                )
            )
    text = _scrape("supervision", db)
    dispose_all()
    assert 'ztc_overdue_work_items{unit="transport"} 2.0' in text
    assert 'ztc_overdue_work_items{unit="education"} 1.0' in text
    assert 'ztc_outbox_backlog{service="supervision"} 0.0' in text
