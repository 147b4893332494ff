"""What docs/deployment.md says about running several engine replicas, shown: two engines on one
database, both ticking at the same moment, fire a due timer once. The second one's save finds a
newer revision, reloads, finds the timer already fired and sends nothing more."""

from __future__ import annotations

import pytest

from services.engine.engine import Engine
from shared import config
from shared.db import dispose_all, migrate, session_factory
from tests.integration.services.engine.test_rules import (
    ASSIGNMENT,
    SMOKE,
    actions,
    at_assignment,
    finish_job,
    outbox_count,
)


@pytest.fixture
def two_engines(database_url_template, tmp_path):
    settings = config.load({"ZTC_VAR_DIR": str(tmp_path), "ZTC_DATABASE_URL": database_url_template})
    url = settings.database_url("engine")
    migrate("engine", url)
    yield Engine(session_factory(url), settings), Engine(session_factory(url), settings)
    dispose_all()


def test_two_engines_ticking_together_fire_a_due_timer_once(two_engines, skipping_clock):
    first, second = two_engines
    first.deploy(SMOKE)
    inst = at_assignment(first, "TWO-ENGINES")
    finish_job(first, "assignment.assign_unit", ASSIGNMENT)  # now waits for the reply, with a deadline timer
    skipping_clock.advance(days=31)

    assert first.runtime is not second.runtime
    fire = first.runtime.fire_timers
    interleaved, loads = [], []

    def fire_while_the_other_engine_ticks(workflow):
        """The first engine has loaded the instance and fired its timer in memory; before it saves,
        the second engine runs its whole tick."""
        result = fire(workflow)
        loads.append(workflow)
        if not interleaved:
            interleaved.append(second.fire_due_timers())
        return result

    first.runtime.fire_timers = fire_while_the_other_engine_ticks
    try:
        first.fire_due_timers()
    finally:
        first.runtime.fire_timers = fire

    assert interleaved == [1], "the second engine should have fired the timer in between"
    assert len(loads) == 2, "the first engine's save should have met the newer revision and reloaded"
    assert outbox_count(first, "supervision.escalate") == 1
    assert actions(first, inst["id"]).count("timer_fired") == 1
    assert first.get_instance(inst["id"])["waiting_tasks"] == ["escalate"]
    assert first.fire_due_timers() == 0 and second.fire_due_timers() == 0
