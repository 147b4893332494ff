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


def test_a_long_list_is_counted_up_to_a_bound_and_says_there_are_more(engine, monkeypatch):
    """Past ``shared.db.COUNT_BOUND`` rows (5 here) the total is the bound and ``total_exact`` is
    false; a page past the bound counts to its own end, so a next page is always known; every
    row is still reachable a page at a time."""
    monkeypatch.setattr("shared.db.COUNT_BOUND", 5)
    ids = incidents(engine, ["open"] * 9)[::-1]  # newest first
    first = engine.incident_page({"per_page": 2})
    assert (first["total"], first["total_exact"]) == (5, False)
    assert [i["id"] for i in first["items"]] == ids[:2]
    third = engine.incident_page({"per_page": 2, "page": 3})  # rows 5-6: the count reaches 6
    assert (third["total"], third["total_exact"]) == (6, False)
    fourth = engine.incident_page({"per_page": 2, "page": 4})  # rows 7-8: 8 of 9
    assert (fourth["total"], fourth["total_exact"]) == (8, False)
    last = engine.incident_page({"per_page": 2, "page": 5})  # row 9: all counted
    assert (last["total"], last["total_exact"]) == (9, True) and [i["id"] for i in last["items"]] == ids[8:]
    walked = [i["id"] for page in range(1, 6) for i in engine.incident_page({"per_page": 2, "page": page})["items"]]
    assert walked == ids
    few = engine.incident_page({"status": "resolved"})
    assert (few["total"], few["total_exact"]) == (0, True)


def test_a_list_exactly_at_the_bound_is_exact(engine, monkeypatch):
    monkeypatch.setattr("shared.db.COUNT_BOUND", 5)
    incidents(engine, ["open"] * 5)
    page = engine.incident_page({"per_page": 2})
    assert (page["total"], page["total_exact"]) == (5, True)
