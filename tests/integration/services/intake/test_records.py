"""A notice's rows on a database of each kind: one row per recipient (each once), inserted in the
order given with their ids, and the notice named by its first row's id, without flushing the rest
of the unit of work; a rollback takes them back with everything else."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake import operations
from services.intake.models import Notification, ProposalEvent
from services.intake.records import notice, record_event
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork

pytestmark = pytest.mark.both_databases

MEMBER = {"user": "member.li", "roles": ["member"], "unit": None}
DRAFT = {
    "kind": "between_sessions",
    "publish_consent": True,
    "title": "关于公交候车亭改造的建议",
    "situation": "候车亭夜间照明不足。",
    "analysis": "维护责任不清。",
    "suggestions": "增设照明和实时到站信息屏。",
}


@pytest.fixture
def proposal_id(sessions):
    with sessions() as s:
        made = operations.submit(SqlIntakeUnitOfWork(s), RulebookRules(), DRAFT, MEMBER, directory=lambda users: [])
        s.commit()
    return made["id"]


def _rows(session):
    return [
        (row.id, row.recipient, row.text) for row in session.scalars(select(Notification).order_by(Notification.id))
    ]


def test_a_notice_keeps_a_row_per_recipient_in_order_and_is_named_by_the_first(sessions, proposal_id):
    with sessions() as s:
        uow = SqlIntakeUnitOfWork(s)
        proposal = uow.proposals.get(proposal_id)
        record_event(uow, proposal, "system", "noted")
        first = notice(uow, proposal, ["member.li", "member.zhou", "member.li", "member.wu"], "one")
        # the event is still pending: the notice inserted its rows without flushing the unit of work
        assert [type(row) for row in s.new] == [ProposalEvent]
        second = notice(uow, proposal, ["member.zhou"], "two")
        s.commit()
    with sessions() as s:
        rows = _rows(s)
    assert [(recipient, text) for _, recipient, text in rows] == [
        ("member.li", "one"),
        ("member.zhou", "one"),
        ("member.wu", "one"),
        ("member.zhou", "two"),
    ]
    assert first["event_id"] == f"intake.notification:{rows[0][0]}"
    assert first["recipients"] == ["member.li", "member.zhou", "member.wu"]
    assert second["event_id"] == f"intake.notification:{rows[3][0]}"
    assert len({row_id for row_id, _, _ in rows}) == 4


def test_nobody_to_tell_keeps_nothing_and_a_rollback_takes_the_rows_back(sessions, proposal_id):
    with sessions() as s:
        uow = SqlIntakeUnitOfWork(s)
        proposal = uow.proposals.get(proposal_id)
        assert notice(uow, proposal, [], "none") is None
        assert notice(uow, proposal, ["member.li"], "undone") is not None
        s.rollback()
    with sessions() as s:
        assert _rows(s) == []
