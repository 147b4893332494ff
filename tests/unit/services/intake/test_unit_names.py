"""The proposers' notice of an assignment names the units as the directory does, not by code: by
the names ``handling.assigned`` carries (the assignment service's directory), else by the
directory's seed, else by the code."""

from __future__ import annotations

import pytest

from services.intake import progress

from .fakes import FakeIntakeUnitOfWork
from .test_cancellation import filed, handling, told


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


def test_the_assigned_notice_names_the_units_the_event_names(uow):
    proposal = filed(uow)
    names = {"transport": "市交通运输局 Municipal Transport Bureau", "metro": "市轨道交通集团 City Metro Group"}
    progress.hear(uow, handling(proposal.number, "handling.assigned", units=["transport", "metro"], unit_names=names))
    [notice] = told(uow, "proposal_assigned")
    assert "承办单位：市交通运输局、市轨道交通集团。" in notice["text"]
    assert "transport" not in notice["text"]


def test_an_event_without_names_is_named_from_the_seed_and_an_unknown_unit_by_its_code(uow):
    # events published before the names rode along, and a unit added to the directory later
    proposal = filed(uow)
    progress.hear(uow, handling(proposal.number, "handling.assigned", units=["education", "harbour"]))
    [notice] = told(uow, "proposal_assigned")
    assert "承办单位：市教育局、harbour。" in notice["text"]
