"""Idempotency keys on the creating RPCs, on a migrated database of each kind: calling twice with
the same key -- what the broker does when it redelivers an RPC request whose worker died after
committing, or a client does after the gateway answered 503 -- records one row, one process
start, one event."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.assignment.consultation import cases
from services.assignment.consultation.rules import RulebookConsultationRules
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.assignment.consultation.models import Case
from services.assignment.models import Outbox as AssignmentOutbox
from services.evaluation.models import Outbox as EvaluationOutbox
from services.evaluation.points import attendance, directory as members
from services.evaluation.points.models import Attendance
from services.evaluation.points.rules import RulebookPointsRules
from services.evaluation.unit_of_work import SqlEvaluationUnitOfWork
from services.gateway.http import IDEMPOTENCY_HEADER
from services.gateway.routes.proposals import ProposalRoutes
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import opinions, proposals
from services.intake.models import OpinionItem, Outbox as IntakeOutbox, Proposal
from shared import config
from shared.db import dispose_all, migrate, session_factory
from shared.errors import Conflict, InvalidInput
from tests.support import NEXT_YEAR
from tests.integration.services.assignment.consultation.test_operations import ISSUE, seed as seed_venues

# Unique keys and the rows they guard, on each database.
pytestmark = pytest.mark.both_databases

LI = {"user": "李明", "roles": ["member"]}
ZHANG = {"user": "张伟", "roles": ["member"]}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
DRAFT = {
    "kind": "between_sessions",
    "session_year": NEXT_YEAR,
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "老城区现有公交候车亭多建于十年前，遮雨面积小，夜间照明不足。",
    "analysis": "候车亭改造分属多个部门，缺少统一规划和维护资金。",
    "suggestions": "由交通局牵头制定改造计划，增设夜间照明和实时到站信息屏。",
}
OPINION = {
    "title": "关于规范校外培训收费的建议",
    "situation": "部分校外培训机构预收费用过高。",
    "analysis": "预收费监管缺位。",
    "suggestion": "建立预收费资金监管账户。",
}


@pytest.fixture
def db(database_url_template, skipping_clock):
    opened = []

    def open_(service):
        url = database_url_template.format(service=service)
        migrate(service, url)
        session = session_factory(url)()
        opened.append(session)
        return session

    yield open_
    for session in opened:
        session.close()
    dispose_all()


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def starts(session, outbox):
    return [
        row.payload["command_id"]
        for row in session.scalars(select(outbox).order_by(outbox.id))
        if row.payload.get("process_id")
    ]


def test_a_repeated_proposal_submission_answers_the_first_and_starts_one_process(db):
    s = db("intake")
    first = proposals.submit(SqlIntakeUnitOfWork(s), RulebookRules(), DRAFT, LI, key="k-1")
    s.commit()
    again = proposals.submit(
        SqlIntakeUnitOfWork(s), RulebookRules(), {**DRAFT, "title": "另一个标题"}, LI, key="k-1"
    )  # the first body wins
    s.commit()
    assert again == first and first["number"] == f"{NEXT_YEAR}-0001"
    assert count(s, Proposal) == 1
    assert s.scalar(select(Proposal.client_reference)) == "k-1"
    assert starts(s, IntakeOutbox) == [f"proposal-{NEXT_YEAR}-0001"]
    # The key is the initiator's: another member's same key, or no key, makes a new proposal.
    assert (
        proposals.submit(SqlIntakeUnitOfWork(s), RulebookRules(), DRAFT, ZHANG, key="k-1")["number"]
        == f"{NEXT_YEAR}-0002"
    )
    assert proposals.submit(SqlIntakeUnitOfWork(s), RulebookRules(), DRAFT, LI)["number"] == f"{NEXT_YEAR}-0003"
    assert proposals.submit(SqlIntakeUnitOfWork(s), RulebookRules(), DRAFT, LI)["number"] == f"{NEXT_YEAR}-0004"
    s.commit()
    assert count(s, Proposal) == 4
    with pytest.raises(InvalidInput) as refused:
        proposals.submit(SqlIntakeUnitOfWork(s), RulebookRules(), DRAFT, LI, key="k" * 101)
    assert set(refused.value.details) == {"key"}


def test_a_repeated_opinion_submission_over_rpc_uses_the_same_reference_as_amqp(db):
    s = db("intake")
    first = opinions.submit(SqlIntakeUnitOfWork(s), RulebookRules(), OPINION, LI, reference="op-1")
    s.commit()
    assert (
        opinions.submit(SqlIntakeUnitOfWork(s), RulebookRules(), {**OPINION, "title": "另一条"}, LI, reference="op-1")[
            "number"
        ]
        == first["number"]
    )
    s.commit()
    # The AMQP command with that reference is the same submission too.
    from shared.messaging.identity import Sender

    app = Sender(f"ztc-member-{LI['user']}", "member", LI["user"])  # Li's app, as the broker vouches
    assert (
        opinions.submit_command(SqlIntakeUnitOfWork(s), RulebookRules(), {"reference": "op-1", "item": OPINION}, app)[
            "number"
        ]
        == first["number"]
    )
    s.commit()
    assert count(s, OpinionItem) == 1
    assert starts(s, IntakeOutbox) == [f"opinion-{first['number']}"]


def test_a_repeated_case_registration_answers_the_first_case_and_starts_one_process(db):
    s = db("assignment")
    seed_venues(s)
    s.commit()
    first = cases.register(SqlAssignmentUnitOfWork(s), RulebookConsultationRules(), ISSUE, STAFF, key="case-1")
    s.commit()
    again = cases.register(
        SqlAssignmentUnitOfWork(s), RulebookConsultationRules(), {**ISSUE, "title": "别的诉求"}, STAFF, key="case-1"
    )
    s.commit()
    assert again["number"] == first["number"] and again["title"] == ISSUE["title"]
    assert count(s, Case) == 1
    assert starts(s, AssignmentOutbox) == [f"start-{first['number']}"]
    assert (
        cases.register(SqlAssignmentUnitOfWork(s), RulebookConsultationRules(), ISSUE, STAFF, key="case-2")["number"]
        != first["number"]
    )
    s.commit()
    assert count(s, Case) == 2


def test_a_repeated_attendance_recording_answers_the_first_record_and_publishes_one_event(db):
    s = db("evaluation")
    members.ensure_members(
        SqlEvaluationUnitOfWork(s),
        RulebookPointsRules(),
        [{"user": "member.li", "name": "李明华", "sector": "中国民主同盟"}],
    )
    s.commit()
    data = {"kind": "plenary", "title": "全体会议", "held_on": "2026-02-27", "half_days": 2, "present": ["member.li"]}
    first = attendance.record(SqlEvaluationUnitOfWork(s), RulebookPointsRules(), data, STAFF, key="att-1")
    s.commit()
    assert (
        attendance.record(
            SqlEvaluationUnitOfWork(s), RulebookPointsRules(), {**data, "half_days": 3}, STAFF, key="att-1"
        )
        == first
    )
    s.commit()
    assert count(s, Attendance) == 1
    events = [
        row.payload["event_id"]
        for row in s.scalars(select(EvaluationOutbox))
        if row.routing_key == "attendance.recorded"
    ]
    assert events == [first["event_id"]]
    # Another key for the same activity is not another record of it (its points would be booked
    # twice): refused, naming the first. Another activity is another record.
    with pytest.raises(Conflict) as again:
        attendance.record(SqlEvaluationUnitOfWork(s), RulebookPointsRules(), data, STAFF, key="att-2")
    assert again.value.details == {"attendance_id": first["id"]}
    s.rollback()
    other = attendance.record(
        SqlEvaluationUnitOfWork(s), RulebookPointsRules(), {**data, "title": "常委会议"}, STAFF, key="att-2"
    )
    assert other["id"] != first["id"]


class _Intake:
    """The intake service behind the gateway's proposal route, over a real database, whose RPC call
    fails as the bus fails under load: ``lost``, the request reached intake, which committed, and
    the reply was lost with its connection; ``refused``, the publish was refused (nothing sent)."""

    def __init__(self, session, failures):
        self.session, self.failures = session, list(failures)

    def submit(self, draft, principal, key=None):
        failure = self.failures.pop(0) if self.failures else None
        if failure == "refused":
            raise KombuOperationalError("[Errno 111] ECONNREFUSED")
        proposal = proposals.submit(SqlIntakeUnitOfWork(self.session), RulebookRules(), draft, principal, key=key)
        self.session.commit()
        if failure == "lost":
            raise ConnectionResetError(104, "Connection reset by peer")
        return proposal


class _Db:
    """The gateway's worker session, over its real database (where it keeps the keys it was given)."""

    def __init__(self, session):
        self.session = session

    def rollback(self):
        self.session.rollback()

    def commit(self):
        self.session.commit()


class _Gateway(ProposalRoutes):
    def __init__(self, intake, gateway_session):
        self.intake, self.db = intake, _Db(gateway_session)

    def _settings(self):
        return config.load({})

    def _principal(self, request):
        return LI


def _post(gateway, key=None, draft=DRAFT):
    environ = EnvironBuilder(method="POST", json=draft, headers={IDEMPOTENCY_HEADER: key} if key else {}).get_environ()
    environ["ztc.request_id"] = "rid-retry"
    return gateway.submit_proposal(Request(environ))


@pytest.mark.parametrize("failure", ["lost", "refused"])
def test_a_post_the_bus_failed_answers_503_and_its_retry_with_the_key_makes_one_proposal(db, failure):
    """Under load the broker resets or refuses the connection an RPC call goes out on. The gateway
    answers 503 with Retry-After (never 500); whether intake got the request or not, the client's
    retry with the same Idempotency-Key answers one proposal, one process started: nothing lost,
    nothing twice."""
    s = db("intake")
    gateway = _Gateway(_Intake(s, [failure]), db("gateway"))
    failed = _post(gateway, key="retry-1")
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    assert failed.json["error"] == "service_unavailable"
    assert failed.json["details"]["request_id"] == "rid-retry"
    assert "Idempotency-Key" in failed.json["message"]
    assert count(s, Proposal) == (1 if failure == "lost" else 0)
    retried = _post(gateway, key="retry-1")
    assert retried.status_code == 201 and retried.json["number"] == f"{NEXT_YEAR}-0001"
    assert _post(gateway, key="retry-1").json["number"] == f"{NEXT_YEAR}-0001"
    assert count(s, Proposal) == 1
    assert starts(s, IntakeOutbox) == [f"proposal-{NEXT_YEAR}-0001"]


def test_a_key_used_again_for_another_request_is_refused_and_a_failed_request_leaves_it_free(db):
    """A client's repeat answers what the first made; the same key on another body is the client's
    mistake, refused with 422 naming when the key was first used, and nothing is made. A body with
    its keys in another order is the same request. A request refused (400) records no key: the
    corrected one may use it."""
    s, keys = db("intake"), db("gateway")
    gateway = _Gateway(_Intake(s, []), keys)
    first = _post(gateway, key="k-1")
    assert first.status_code == 201, first.json
    same = _post(gateway, key="k-1", draft=dict(reversed(list(DRAFT.items()))))
    assert same.status_code == 201 and same.json["number"] == first.json["number"]
    other = _post(gateway, key="k-1", draft={**DRAFT, "title": DRAFT["title"] + "（另一件）"})
    assert other.status_code == 422, other.json
    assert other.json["error"] == "idempotency_key_reused" and "first_used_at" in other.json["details"]
    assert count(s, Proposal) == 1
    refused = _post(gateway, key="k-2", draft={**DRAFT, "title": ""})
    assert refused.status_code == 400
    corrected = _post(gateway, key="k-2", draft={**DRAFT, "title": DRAFT["title"] + "（更正）"})
    assert corrected.status_code == 201 and corrected.json["number"] != first.json["number"]
    assert count(s, Proposal) == 2
