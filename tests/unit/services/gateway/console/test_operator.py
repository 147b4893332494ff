"""The operators' console pages without a browser: problem queues first, an instance's elements
marked the same on the diagram and in the list, and no operator link or button for anyone else."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.console import i18n
from services.gateway.console.operator import element_names, instance_view, ordered_queues
from services.gateway.console.views import Visit
from shared.config import ROOT

from .test_pages import INCIDENT, INSTANCE, PAGES


def queue(name, messages=0, consumers=1, age=None, dead=0):
    return {
        "name": name,
        "messages": messages,
        "ready": messages,
        "unacked": 0,
        "consumers": consumers,
        "oldest_age_seconds": age,
        "dead_letters": dead,
    }


def test_problem_queues_come_first_then_the_oldest_message_then_depth():
    rows = ordered_queues(
        [
            queue("ztc.jobs.intake", 3, age=5.0),
            queue("ztc.jobs.evaluation", 9, age=50.0),
            queue("ztc.jobs.assignment", 2, consumers=0, age=1.0),
            queue("ztc.dead", 1, consumers=0),
            queue("ztc.jobs.supervision", dead=2),
            queue("ztc.unit.transport", 0, consumers=0),
        ]
    )
    assert [q["name"] for q in rows] == [
        "ztc.jobs.assignment",
        "ztc.dead",
        "ztc.jobs.supervision",
        "ztc.jobs.evaluation",
        "ztc.jobs.intake",
        "ztc.unit.transport",
    ]
    assert rows[0]["problems"] == ["ops.queue.problem.no_consumers"]
    assert rows[1]["problems"] == ["ops.queue.problem.dead_queue"]
    assert rows[2]["problems"] == ["ops.queue.problem.dead_letters"]
    # A unit's queue with nothing in it and no consumer (a department not connected yet) is fine.
    assert rows[-1]["problems"] == []


def test_an_instance_is_marked_done_token_and_incident_with_its_queue_beside_the_waiting_job():
    where = {
        "instance": dict(INSTANCE, waiting_tasks=["assign", "review"], incidents=[INCIDENT]),
        "completed": ["start", "record", "assign"],
        "tokens": [
            {
                "kind": "job",
                "task": "assign",
                "operation": "assignment.assign",
                "status": "incident",
                "attempt": 1,
                "max_attempts": 3,
                "last_error": "no unit",
            },
            {"kind": "user_task", "task": "review"},
        ],
    }
    view = instance_view(
        where, [queue("ztc.jobs.assignment", 4, consumers=2)], {"assign": "分配承办单位"}, i18n.translator("en")
    )
    states = {e["id"]: e["state"] for e in view["elements"]}
    assert states == {"assign": "incident", "review": "token", "start": "done", "record": "done"}
    assert [e["id"] for e in view["elements"]][:2] == ["assign", "review"]  # incidents first
    assert view["marks"]["markers"] == {
        "assign": ["incident"],
        "review": ["token"],
        "start": ["done"],
        "record": ["done"],
    }
    badges = {(o["element"], o["text"]) for o in view["marks"]["overlays"]}
    assert badges == {("assign", "incident"), ("assign", "queue 4·consumers 2")}
    assign = next(e for e in view["elements"] if e["id"] == "assign")
    assert assign["name"] == "分配承办单位" and assign["queue"]["name"] == "ztc.jobs.assignment"


def test_without_the_broker_state_the_job_names_its_queue_and_no_badge_is_invented():
    where = {
        "instance": dict(INSTANCE, waiting_tasks=["assign"], incidents=[]),
        "completed": [],
        "tokens": [{"kind": "job", "task": "assign", "operation": "assignment.assign", "status": "pending"}],
    }
    view = instance_view(where, None, {}, i18n.translator("zh-CN"))
    [row] = view["elements"]
    assert row["state"] == "token" and row["queue"] == {"name": "ztc.jobs.assignment", "missing": True}
    assert view["marks"]["overlays"] == []


def test_element_names_are_read_from_the_deployed_bpmn():
    names = element_names((ROOT / "bpmn" / "smoke.bpmn").read_text(encoding="utf-8"))
    assert names["assign_unit"] == "Assign a unit" and names["wait_reply"] == "Reply or deadline"


@pytest.mark.parametrize("roles,shown", [(["operator"], True), (["staff"], False), (["leader", "committee"], False)])
def test_only_an_operator_sees_the_operator_navigation_and_the_buttons(roles, shown):
    request = Request(EnvironBuilder(path="/console/ops/instances/i-1").get_environ())
    visit = Visit(None, request, "token", {"user": "x", "roles": roles, "unit": None}, "zh-CN")
    html = visit.render("ops_instance.html", **PAGES["ops_instance.html"]).get_data(as_text=True)
    assert ('href="/console/ops/queues"' in html) is shown
    assert ('id="retry-5"' in html) is shown and ('id="cancel"' in html) is shown
    home = Visit(
        None,
        Request(EnvironBuilder(path="/console").get_environ()),
        "token",
        {"user": "x", "roles": roles, "unit": None},
        "zh-CN",
    ).render("home.html", unread=0)
    assert ('href="/console/ops/instances"' in home.get_data(as_text=True)) is shown
