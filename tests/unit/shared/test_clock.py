"""The injected clock, and SpiffWorkflow's timers seeing skipped time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.util.task import TaskState

from shared import clock, evaluator
from shared.clock import SkippingClock, SystemClock
from shared.workflow import serializer
from shared.workflow.parser import parse

from tests.unit.shared.workflow.bpmn_documents import timer_process

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def installed_clock():
    """A SkippingClock installed as the process clock; the previous clock is put back after."""
    fake = SkippingClock(START)
    previous = clock.install(fake)
    yield fake
    assert clock.install(previous) is fake


def test_skipping_clock_stands_still_until_told_to_move():
    sc = SkippingClock(START)
    assert sc.now() == START
    assert sc.now() == START


def test_skipping_clock_defaults_to_a_fixed_utc_morning():
    assert SkippingClock().now() == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_advance_moves_the_clock_and_returns_the_new_time():
    sc = SkippingClock(START)
    assert sc.advance(hours=2) == START + timedelta(hours=2)
    assert sc.now() == START + timedelta(hours=2)


def test_advance_accumulates_months_ahead_in_one_step():
    sc = SkippingClock(START)
    sc.advance(days=30)
    sc.advance(days=60, minutes=5)
    assert sc.now() == START + timedelta(days=90, minutes=5)


def test_set_puts_the_clock_at_a_given_time():
    sc = SkippingClock(START)
    later = datetime(2027, 1, 1, tzinfo=timezone.utc)
    sc.set(later)
    assert sc.now() == later


def test_install_returns_the_previous_clock_and_now_asks_the_new_one():
    first = SkippingClock(START)
    second = SkippingClock(START + timedelta(days=1))
    original = clock.install(first)
    try:
        assert clock.current() is first
        assert clock.now() == START
        assert clock.install(second) is first
        assert clock.now() == START + timedelta(days=1)
    finally:
        clock.install(original)
    assert clock.current() is original


def test_system_clock_gives_aware_utc_now():
    before = datetime.now(timezone.utc)
    value = SystemClock().now()
    after = datetime.now(timezone.utc)
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert before <= value <= after


def test_spiff_timer_module_sees_the_installed_clock_time(installed_clock):
    assert spiff_timer.datetime.now(timezone.utc) == START


def test_spiff_timer_module_sees_the_skipped_time(installed_clock):
    installed_clock.advance(days=45, hours=3)
    assert spiff_timer.datetime.now(timezone.utc) == START + timedelta(days=45, hours=3)


def test_spiff_timer_now_converts_to_the_requested_timezone(installed_clock):
    beijing = timezone(timedelta(hours=8))
    value = spiff_timer.datetime.now(beijing)
    assert value == START
    assert value.utcoffset() == timedelta(hours=8)
    assert value.hour == 17


def test_spiff_timer_module_still_parses_dates_after_install(installed_clock):
    parsed = spiff_timer.TimerEventDefinition.get_datetime("2026-03-05T10:00:00+00:00")
    assert parsed == datetime(2026, 3, 5, 10, 0, tzinfo=timezone.utc)


def test_diagram_timer_fires_only_after_the_clock_skips_past_its_duration(installed_clock):
    (definition,) = parse({"deadline.bpmn": timer_process("'PT1H'")})
    spec, subprocesses = serializer.specs_from_dict(definition.spec)
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=evaluator.script_engine())

    workflow.do_engine_steps()
    workflow.refresh_waiting_tasks()
    workflow.do_engine_steps()
    (waiting,) = workflow.get_tasks(state=TaskState.WAITING)
    assert waiting.task_spec.bpmn_id == "wait"
    assert not workflow.completed
    deadline = datetime.fromisoformat(waiting._get_internal_data("event_value"))
    assert deadline == START + timedelta(hours=1)

    installed_clock.advance(minutes=59)
    workflow.refresh_waiting_tasks()
    workflow.do_engine_steps()
    assert not workflow.completed

    installed_clock.advance(minutes=2)
    workflow.refresh_waiting_tasks()
    workflow.do_engine_steps()
    assert workflow.completed
