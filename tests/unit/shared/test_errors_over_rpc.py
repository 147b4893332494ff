"""A refusal's details cross nameko RPC as they were raised: nameko makes every number, boolean and
null of an exception's arguments a string ("False" would read as true), so the details travel as
JSON inside the arguments."""

from __future__ import annotations

import pytest
from nameko.exceptions import deserialize, serialize

from shared import contracts
from shared.errors import Conflict, InvalidInput, NotFound, TooLate


@pytest.mark.parametrize("kind", [Conflict, InvalidInput, NotFound, TooLate])
def test_details_keep_their_types_across_rpc(kind):
    details = {
        "round": 1,
        "cancelled": {**contracts.cancelled_details("ops.sun", None, "重复")["cancelled"], "reply_kept": False},
        "fields": {"text": ["required"]},
        "ratio": 0.5,
    }
    raised = kind("refused, as said", details)
    arrived = deserialize(serialize(raised))
    assert type(arrived) is kind
    assert arrived.message == "refused, as said" and str(arrived) == "refused, as said"
    assert arrived.details == details
    assert arrived.details["cancelled"]["reply_kept"] is False and arrived.details["round"] == 1
    assert arrived.to_dict() == {"error": kind.code, "message": "refused, as said", "details": details}


def test_an_error_without_details_arrives_with_none():
    arrived = deserialize(serialize(Conflict("no")))
    assert arrived.details == {} and arrived.message == "no"


def test_a_list_of_details_is_kept_too():
    arrived = deserialize(serialize(InvalidInput("bad", ["a", 1, None])))
    assert arrived.details == ["a", 1, None]
