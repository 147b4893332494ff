"""``GET /api/routing-suggestions?numbers=...``: the staff's task list asks for a page of proposals at
once, and one number of no proposal (merged away, mistyped) must not take the others' suggestions
with it: the known ones are answered, the unknown ones listed, 400 only when none is a number."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from services.gateway.routes.proposals import ProposalRoutes
from shared.errors import InvalidInput, NotFound

STAFF = {"user": "staff.wang", "roles": ["staff"]}
ROUTE = ProposalRoutes.routing_suggestions_of.__wrapped__  # the handler behind the guard


class _Intake:
    def __init__(self, titles):
        self.proposals = {number: {"title": title, "situation": f"about {title}"} for number, title in titles.items()}
        self.asked: list[str] = []

    def get(self, number, principal):
        self.asked.append(number)
        if number not in self.proposals:
            raise NotFound(f"there is no proposal {number}")
        return self.proposals[number]


class _Assignment:
    def __init__(self):
        self.requests: list[dict] = []

    def routing_suggestions_many(self, request, principal=None):
        self.requests.append(request)
        return [{"number": p["number"], "suggestions": [{"unit": "transport"}]} for p in request["proposals"]]


class _Gateway(ProposalRoutes):
    def __init__(self, titles):
        self.intake = _Intake(titles)
        self.assignment = _Assignment()


class _Request:
    def __init__(self, numbers):
        self.args = MultiDict({"numbers": numbers})


def ask(gateway, numbers):
    return ROUTE(gateway, _Request(numbers), STAFF)


def test_the_known_proposals_are_answered_and_the_unknown_numbers_listed_in_the_order_asked():
    gateway = _Gateway({"2026-0001": "公交线路", "2026-0003": "学校午餐"})
    status, answer = ask(gateway, "2026-0003,2026-0002,not-a-number,2026-0001")

    assert status == 200
    assert [p["number"] for p in answer["proposals"]] == ["2026-0003", "2026-0001"]
    assert answer["unknown"] == ["2026-0002", "not-a-number"]
    [request] = gateway.assignment.requests
    assert request == {
        "proposals": [
            {"number": "2026-0003", "title": "学校午餐", "text": "about 学校午餐\n\n"},
            {"number": "2026-0001", "title": "公交线路", "text": "about 公交线路\n\n"},
        ]
    }  # no list of every title: assignment asks intake's title index
    assert "not-a-number" not in gateway.intake.asked  # no proposal number: intake is not asked


def test_numbers_of_no_proposal_at_all_answer_an_empty_list_without_routing():
    gateway = _Gateway({"2026-0001": "公交线路"})
    status, answer = ask(gateway, "2026-0007,2026-0008")

    assert (status, answer) == (200, {"proposals": [], "unknown": ["2026-0007", "2026-0008"]})
    assert gateway.assignment.requests == []


@pytest.mark.parametrize("numbers", ["", " , ", "abc,2026-1", ",".join(f"2026-{n:04d}" for n in range(1, 102))])
def test_only_a_request_with_no_proposal_number_in_it_is_refused(numbers):
    gateway = _Gateway({"2026-0001": "公交线路"})
    with pytest.raises(InvalidInput) as refused:
        ask(gateway, numbers)
    assert "numbers" in refused.value.details
    assert gateway.intake.asked == []
