"""The incidents a page at a time (``GET /api/incidents``): resolved ones stay for the record, so
the whole list only grows. Newest first, counted in SQL, by status (open by default, empty for
every one), on each database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from services.engine.models import Incident
from shared.db import transaction
from shared.errors import InvalidInput

pytestmark = pytest.mark.both_databases

START = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)


def incidents(engine, statuses):
    """Incident rows of ``statuses`` in order (ids ascending); their ids."""
    with transaction(engine.sessions) as s:
        for i, status in enumerate(statuses):
            s.execute(
                insert(Incident).values(
                    instance_id=f"inst-{i}",
                    job_id=None,
                    task_name="assign",
                    operation="assignment.assign_unit",
                    error=f"failure {i}",
                    status=status,
                    created_at=START + timedelta(minutes=i),
                    resolved_at=START + timedelta(hours=1) if status == "resolved" else None,
                    resolution="fixed by hand" if status == "resolved" else None,
                )
            )
    return [row["id"] for row in engine.incidents(None)]


def test_the_open_incidents_come_a_page_at_a_time_newest_first_with_their_total(engine):
    ids = incidents(engine, ["open", "resolved", "open", "retrying", "open", "resolved", "open"])
    open_ids = [ids[i] for i in (6, 4, 2, 0)]
    first = engine.incident_page({"per_page": 3})
    assert (first["page"], first["per_page"], first["total"]) == (1, 3, 4)
    assert [i["id"] for i in first["items"]] == open_ids[:3]
    second = engine.incident_page({"per_page": 3, "page": 2})
    assert [i["id"] for i in second["items"]] == open_ids[3:] and second["total"] == 4
    assert engine.incident_page({"per_page": 3, "page": 3})["items"] == []


def test_a_status_or_none_lists_those_and_nonsense_is_refused(engine):
    ids = incidents(engine, ["open", "resolved", "retrying", "resolved"])
    resolved = engine.incident_page({"status": "resolved"})
    assert [i["id"] for i in resolved["items"]] == [ids[3], ids[1]] and resolved["total"] == 2
    assert resolved["items"][0]["resolution"] == "fixed by hand"
    every = engine.incident_page({"status": ""})
    assert [i["id"] for i in every["items"]] == ids[::-1] and every["total"] == 4
    for query, field in (({"status": "closed"}, "status"), ({"per_page": 0}, "per_page"), ({"page": "x"}, "page")):
        with pytest.raises(InvalidInput) as refused:
            engine.incident_page(query)
        assert field in refused.value.details
