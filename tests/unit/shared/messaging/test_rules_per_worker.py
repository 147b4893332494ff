"""Rules per worker are read on the worker's first use of them, once, and not at all by a worker
that does not use them; an error in reading them is raised where they are used."""

from __future__ import annotations

import pytest

from shared.messaging.rules import Lazy, RulesPerWorker


class _Rules:
    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.calendar = "calendar"

    def deadline(self, days: int) -> str:
        return f"in {days} days"


@pytest.fixture(autouse=True)
def _count():
    _Rules.made = 0


def test_a_worker_that_never_uses_its_rules_does_not_read_them():
    provider = RulesPerWorker(_Rules)
    for _ in range(5):
        provider.get_dependency(worker_ctx=None)
    assert _Rules.made == 0


def test_the_first_use_reads_them_and_every_use_after_is_of_that_one_reading():
    rules = RulesPerWorker(_Rules).get_dependency(worker_ctx=None)
    assert rules.deadline(15) == "in 15 days"
    assert rules.calendar == "calendar"
    assert rules.deadline(3) == "in 3 days"
    assert _Rules.made == 1


def test_each_worker_reads_its_own():
    provider = RulesPerWorker(_Rules)
    first, second = provider.get_dependency(None), provider.get_dependency(None)
    assert (first.calendar, second.calendar) == ("calendar", "calendar")
    assert _Rules.made == 2


def test_a_rulebook_that_cannot_be_read_fails_where_it_is_used():
    def broken():
        raise ValueError("bpmn/rules/proposal.yaml: version: missing")

    rules = Lazy(broken)  # handing it over raises nothing
    with pytest.raises(ValueError, match="version: missing"):
        rules.deadline(15)
    with pytest.raises(ValueError, match="version: missing"):  # and again, not a half-made object
        _ = rules.calendar
