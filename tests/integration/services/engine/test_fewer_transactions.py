"""A step's work in as few transactions as its guarantees allow, on a real database (SQLite and
PostgreSQL): a start is one transaction and answers from what it saved; the answers are what
reading the instance back gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.integration.services.engine.test_designers_versions import WAITER
from tests.integration.services.engine.test_rules import DATA, MEMBER, SMOKE

pytestmark = pytest.mark.both_databases


@contextmanager
def commits(engine) -> Iterator[list[str]]:
    """The transactions ``engine`` commits inside the block, one entry each."""
    bind = engine.sessions.kw["bind"]
    seen: list[str] = []

    def count(_conn) -> None:
        seen.append("commit")

    event.listen(bind, "commit", count)
    try:
        yield seen
    finally:
        event.remove(bind, "commit", count)


def test_a_start_is_one_transaction_and_answers_what_reading_it_back_answers(engine):
    engine.deploy(SMOKE)
    data = dict(DATA, note="铁路 — ünïcode", nested={"a": [1, 2.5, None, True]})
    with commits(engine) as seen:
        started = engine.start("smoke", "ONE-1", data, MEMBER)
    assert len(seen) == 1
    assert started == engine.get_instance(started["id"])
    assert started["status"] == "waiting" and started["revision"] == 1 and started["incidents"] == []


def test_a_start_command_is_one_transaction_and_its_redelivery_answers_the_same_instance(engine):
    engine.deploy(WAITER)
    command = {"command_id": "one-1", "process_id": "waiter", "business_key": "ONE-2", "data": {"wait_for": "P3D"}}
    with commits(engine) as seen:
        started = engine.start_command(dict(command, principal=None))
    assert len(seen) == 1
    assert started == engine.get_instance(started["id"])
    assert started["next_timer"] is not None
    with commits(engine) as seen:
        again = engine.start_command(dict(command, principal=None))
    assert again == started and len(seen) == 1


def test_a_start_that_failed_into_an_incident_answers_its_incident_as_reading_it_back_does(engine):
    engine.deploy(WAITER)
    started = engine.start_command(
        {"command_id": "one-3", "process_id": "waiter", "business_key": "ONE-3", "data": {"wait_for": "P3 days"}}
        | {"principal": None}
    )
    assert started["status"] == "incident" and len(started["incidents"]) == 1
    assert started == engine.get_instance(started["id"])
