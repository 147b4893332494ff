"""The task list's forms and its query schema are made once and hold nothing between loads."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.engine.tasklist import TASK_QUERY, form
from shared.forms import FORMS


def test_a_form_is_made_once_and_checks_each_filling_on_its_own():
    review = form("smoke.review")
    assert form("smoke.review") is review and isinstance(review, FORMS["smoke.review"])
    with pytest.raises(ValidationError) as refused:
        review.load({"comment": "no decision"})
    assert "approved" in str(refused.value)
    assert review.load({"approved": True}) == {"approved": True, "comment": ""}
    with pytest.raises(ValidationError):
        review.load({"approved": True, "unknown": 1})
    assert review.load({"approved": False, "comment": "x"}) == {"approved": False, "comment": "x"}


def test_the_task_query_keeps_its_defaults_from_one_page_to_the_next():
    assert TASK_QUERY.load({"page": 3, "per_page": 10, "business_key": "K"})["page"] == 3
    assert TASK_QUERY.load({}) == {
        "page": 1,
        "per_page": 50,
        "instance_id": None,
        "business_key": None,
        "process_id": None,
    }
