"""An incident is resolved over HTTP with its reason named as the CLI and the operators' routes name
it (`reason`), or as the route always took it (`resolution`)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.gateway.schemas import ResolveRequest


@pytest.mark.parametrize("body", [{"reason": "fixed by hand"}, {"resolution": "fixed by hand"}])
def test_the_reason_is_taken_by_either_name(body):
    assert ResolveRequest().load(body) == {"resolution": "fixed by hand"}


@pytest.mark.parametrize(
    "body, field",
    [({}, "resolution"), ({"reason": ""}, "resolution"), ({"reason": "a", "resolution": "b"}, "reason")],
)
def test_no_reason_an_empty_one_or_both_names_at_once_are_refused(body, field):
    with pytest.raises(ValidationError) as refused:
        ResolveRequest().load(body)
    assert field in refused.value.messages
