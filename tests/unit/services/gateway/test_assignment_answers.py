"""The OpenAPI document's answers of the unit routes are what the assignment service answers: each
command's real answer (a lead and a co-unit taking a proposal through draft, co-signature, reply,
milestone, follow-up, extension and an objection) is read through the route's response schema, with
every field the answer has known to the schema and of the type the schema says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.assignment import commands, decisions, operations, queries
from services.assignment.rules import RulebookRules
from services.gateway import openapi, schemas
from services.gateway.service import GatewayService
from shared import clock
from shared.calendar import local_date
from tests.support import conforms
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
NUMBER = "2026-0001"


def handler(unit):
    return {"user": f"handler.{unit}", "roles": ["unit"], "unit": unit}


@pytest.fixture
def uow(skipping_clock):
    fake = FakeAssignmentUnitOfWork()
    operations.ensure_units(fake, {"transport": "市交通运输局", "education": "市教育局", "housing": "市住建局"})
    return fake


def test_each_unit_route_answers_what_its_response_schema_documents(uow):
    rules = RulebookRules()
    made = operations.assign(
        uow,
        {"proposal_id": 1, "number": NUMBER, "mode": "lead_co", "lead": "transport", "co_units": ["education"]},
        STAFF,
    )
    ids = {a["unit"]: a["id"] for a in made["assignments"]}

    def run(unit, command, **params):
        return commands.run(uow, rules, command, {"assignment_id": ids[unit], **params}, handler(unit))

    due = (local_date(clock.now()) + timedelta(days=60)).isoformat()
    answers = {
        ("sign", "transport"): (schemas.AssignmentAnswer, run("transport", "sign")),
        ("sign", "education"): (schemas.AssignmentAnswer, run("education", "sign")),
        ("input", "education"): (schemas.InputSent, run("education", "send_input", text="我局意见")),
        ("draft", "transport"): (
            schemas.ReplyShown,
            run(
                "transport", "draft_reply", category="B", text="正在解决", milestones=[{"what": "完成设计", "due": due}]
            ),
        ),
        ("extension", "transport"): (
            schemas.ExtensionAskedAnswer,
            run("transport", "request_extension", months=1, reason="等待预算"),
        ),
        ("cosign", "education"): (schemas.ReplyShown, run("education", "cosign_reply")),
        ("shown", "education"): (schemas.AssignmentShown, queries.get_assignment(uow, ids["education"], STAFF)),
        ("reply", "transport"): (schemas.ReplySubmitted, run("transport", "submit_reply")),
    }
    decisions.hear_acceptance(
        uow,
        {
            "event_id": "rating-1",
            "name": decisions.RATING_OPENED,
            "occurred_at": clock.now().isoformat(),
            "subject": NUMBER,
            "payload": {"round": 1},
        },
    )
    answers[("milestone", "transport")] = (
        schemas.MilestoneDone,
        run("transport", "report_milestone", milestone=1, note="设计已完成"),
    )
    answers[("followup", "transport")] = (schemas.FollowupSent, run("transport", "submit_followup", text="已完成"))
    answers[("shown", "transport")] = (schemas.AssignmentShown, queries.get_assignment(uow, ids["transport"], STAFF))
    other = operations.assign(
        uow, {"proposal_id": 2, "number": "2026-0002", "mode": "single", "units": ["housing"]}, STAFF
    )
    housing = other["assignments"][0]["id"]
    objected = commands.run(
        uow, rules, "object", {"assignment_id": housing, "reason": "非我局职责"}, handler("housing")
    )
    answers[("object", "housing")] = (schemas.AssignmentAnswer, objected)
    answers[("shown", "housing")] = (schemas.AssignmentShown, queries.get_assignment(uow, housing, STAFF))

    for (what, unit), (schema, answer) in answers.items():
        conforms(schema(), answer, f"{what} by {unit}")
    shown = answers[("shown", "transport")][1]
    assert shown["replies"][0]["milestones"][0]["done_by"] == "handler.transport"  # the nested parts were read
    assert shown["extension_requests"] and shown["inputs"] and shown["partners"]


def test_every_unit_route_documents_a_schema_for_its_answer():
    document = openapi.build(GatewayService)
    for path, operations_ in document["paths"].items():
        if not path.startswith("/api/assignments/{assignment_id}"):
            continue
        for method, operation in operations_.items():
            answer = next(r for code, r in operation["responses"].items() if code.startswith("2"))
            assert answer["content"]["application/json"].get("schema"), f"{method.upper()} {path}"
