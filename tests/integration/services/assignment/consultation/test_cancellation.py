"""A micro-consultation case whose process an operator cancelled, on a real database of each kind:
the case is cancelled (locked, its log kept), its member told through the outbox, once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.assignment import decisions
from services.assignment.consultation import cases
from services.assignment.consultation.models import Case
from shared import clock
from shared.errors import Conflict
from services.assignment.consultation.models import CaseCommitment
from tests.integration.services.assignment.consultation.test_operations import (  # noqa: F401 - the fixture
    HOUSING,
    STAFF,
    TRANSPORT,
    meeting_held,
    outbox,
    registered,
    session,
    taken_by_li,
    uow,
)
from tests.support import NEXT_YEAR, process_cancelled

pytestmark = pytest.mark.both_databases


def cancelled(number: str) -> dict:
    return process_cancelled(number, "误登记", "ops.chen", process_id="micro_consultation", instance_id="inst-7")


def test_a_cancelled_case_keeps_why_and_its_member_is_told_once(session):
    number = registered(session)["number"]
    taken_by_li(session, number)
    for _ in range(2):
        decisions.hear_cancellation(uow(session), cancelled(number))
        session.commit()
    case = session.scalar(select(Case).where(Case.number == number))
    assert (case.status, case.close_reason, case.close_note) == ("cancelled", "process_cancelled", "误登记")
    assert case.closed_at == clock.now()
    history = cases.get(uow(session), number, STAFF)["history"]
    assert [e["action"] for e in history].count("cancelled") == 1
    told = outbox(session, "notify.consultation.cancelled")
    assert len(told) == 1 and told[0]["payload"]["recipients"] == ["member.li", "role:staff"]


def test_after_a_meeting_the_pending_request_is_closed_everyone_told_once_and_commands_refused(session):
    number = registered(session)["number"]
    cid, _ = meeting_held(session, number)
    cases.record_commitment(uow(session), number, {"actions": "更换路灯", "done_by": f"{NEXT_YEAR}-02-01"}, TRANSPORT)
    session.commit()
    for _ in range(2):
        decisions.hear_cancellation(uow(session), cancelled(number))
        session.commit()
    commitments = session.scalars(select(CaseCommitment).where(CaseCommitment.case_id == cid))
    assert {c.unit: c.status for c in commitments} == {"transport": "committed", "housing": "cancelled"}
    [told] = outbox(session, "notify.consultation.cancelled")
    assert told["payload"]["recipients"] == ["member.li", "unit:transport", "unit:housing", "role:staff"]
    with pytest.raises(Conflict) as refused:
        cases.record_commitment(uow(session), number, {"actions": "修路", "done_by": f"{NEXT_YEAR}-02-01"}, HOUSING)
    assert f"case {number} was cancelled by ops.chen" in str(refused.value) and "误登记" in str(refused.value)
    session.rollback()
    with pytest.raises(Conflict, match="was cancelled by ops.chen"):
        cases.check_open(uow(session), number, STAFF)
