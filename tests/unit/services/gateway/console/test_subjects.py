"""Which page a task's or a notice's subject opens: a proposal's, an opinion item's, or none (a
micro-consultation case, a key a diagram chose) rather than a proposal page that answers 404."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.console import member, subjects, work
from services.gateway.console.views import Visit


class _Visit:
    def __init__(self, roles):
        self.roles = set(roles)

    def may(self, route):
        return {"get_proposal": {"member", "staff"}, "list_assignments": {"unit", "staff"}}[route] & self.roles != set()


def _html(template: str, context: dict, roles=("staff",)) -> str:
    request = Request(EnvironBuilder(path="/console/x").get_environ())
    principal = {"user": "staff.wang", "roles": list(roles), "unit": None}
    return Visit(None, request, "token", principal, "zh-CN").render(template, **context).get_data(as_text=True)


@pytest.mark.parametrize(
    "key, page",
    [
        ("2027-0012", "/console/proposals/2027-0012"),
        ("2026-7", "/console/proposals/2026-7"),
        (f"{subjects.opinion_prefix()}-2027-0003", f"/console/opinions/{subjects.opinion_prefix()}-2027-0003"),
        ("WX-2027-0001", None),  # a micro-consultation case: no page of its own in the console
        ("SQ-2027", None),
        ("2027-0012/../x", None),
        ("", None),
        (None, None),
    ],
)
def test_a_subject_opens_its_own_kind_of_page_or_none(key, page):
    assert subjects.subject_page(key) == page


def test_the_opinion_prefix_is_the_rulebooks():
    assert subjects.opinion_prefix() == "SQ"  # bpmn/rules/opinion.yaml numbering.prefix


def test_a_unit_handler_opens_the_assignments_of_a_proposal_and_an_opinion_items_page():
    assert subjects.subject_page("2027-0012", False, True) == "/console/assignments?number=2027-0012"
    assert subjects.subject_page("2027-0012", False, False) is None
    assert subjects.subject_page("SQ-2027-0003", False, False) == "/console/opinions/SQ-2027-0003"


def test_notices_of_an_opinion_item_and_a_case_do_not_lead_to_a_proposal_page():
    notes = [
        {"id": 3, "subject": "SQ-2027-0003", "title": "已采用", "text": "t", "created_at": "2027-01-04T06:30"},
        {"id": 2, "subject": "WX-2027-0001", "title": "新的微协商诉求", "text": "t", "created_at": "2027-01-04T06:00"},
        {"id": 1, "subject": "2027-0012", "title": "已交办", "text": "t", "created_at": "2027-01-03T06:00"},
    ]
    links = member.note_links(_Visit(["member"]), notes)
    assert links == {3: "/console/opinions/SQ-2027-0003", 2: None, 1: "/console/proposals/2027-0012"}
    html = _html("notifications.html", {"notes": notes, "older": None, "links": links})
    assert 'href="/console/opinions/SQ-2027-0003"' in html and 'href="/console/proposals/2027-0012"' in html
    assert "/console/proposals/WX" not in html and "/console/proposals/SQ" not in html
    assert "<span>WX-2027-0001</span>" in html


def test_a_task_of_a_case_has_no_proposal_link_and_an_unknown_task_key_its_diagram_title():
    tasks = [
        {"task": "edit", "task_id": "t1", "business_key": "SQ-2027-0003", "title": "编辑信息"},
        {"task": "visit_back", "task_id": "t2", "business_key": "WX-2027-0001", "title": "回访居民"},
    ]
    links = work.task_links(_Visit(["staff"]), tasks)
    assert links == {"t1": "/console/opinions/SQ-2027-0003", "t2": None}
    html = _html("tasks.html", {"tasks": tasks, "forms": {}, "links": links, "suggestions": {}, "task_context": {}})
    assert 'href="/console/opinions/SQ-2027-0003"' in html
    assert "/console/proposals/" not in html
    assert "回访居民" in html and "task.visit_back" not in html
