"""The operators' cancel routes say what a reason needs in words an operator acts on: a blank one
is asked for, a long one is measured; the reason as given is kept otherwise."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.gateway.routes.operators import OpsBatchCancel, OpsCancel


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   \n"}])
def test_a_missing_or_blank_reason_is_asked_for(body):
    with pytest.raises(ValidationError) as refused:
        OpsCancel().load(body)
    assert refused.value.messages["reason"] == [
        "Say why: a reason is required to cancel (the people concerned are told it)."
    ]


def test_a_reason_too_long_says_how_long_it_was():
    with pytest.raises(ValidationError) as refused:
        OpsBatchCancel().load({"reason": "原" * 2001, "process_id": "proposal"})
    assert refused.value.messages["reason"] == ["At most 2000 characters."]


def test_a_reason_within_bounds_is_kept_as_given():
    assert OpsCancel().load({"reason": " 重复提交 \n"})["reason"] == " 重复提交 \n"
    assert OpsCancel().load({"reason": "x" * 2000})["reason"] == "x" * 2000
