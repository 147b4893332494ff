"""提 co-signing: invited members confirm until the end of the rulebook's window, the last one tells
the engine, and settling drops those who did not. Run on the in-memory fakes of intake's ports."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.intake import operations
from services.intake.models import Cosigner, Notification, ProposalEvent
from services.intake.rules import RulebookRules
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound

from .fakes import FakeIntakeUnitOfWork
from .test_operations import BUS_SHELTERS, LI, STAFF, WANG, ZHANG

RULES = RulebookRules()


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


def submitted(uow, principal=LI, **overrides):
    draft = {"kind": "between_sessions", "publish_consent": True, **BUS_SHELTERS, **overrides}
    return operations.submit(uow, RULES, draft, principal, directory=lambda users: [])


def messages(uow, name):
    return [{k: m[k] for k in ("name", "correlation_key", "message_id", "payload")} for m in uow.messages(name)]


def notifications(uow, recipient):
    return [n.text for n in uow.rows.of(Notification) if n.recipient == recipient]


def actions(uow, number):
    proposal = uow.proposals.by_number(number)
    return [e.action for e in uow.rows.of(ProposalEvent) if e.proposal_id == proposal.id]


def test_the_last_confirmation_tells_the_engine_cosigning_is_settled(uow):
    submitted(uow, cosigners=["张伟", "王芳"])
    operations.cosign(uow, "2026-0001", ZHANG)
    assert messages(uow, "cosign_settled") == []
    proposal = operations.cosign(uow, "2026-0001", WANG)
    assert [c["status"] for c in proposal["cosigners"]] == ["confirmed", "confirmed"]
    assert messages(uow, "cosign_settled") == [
        {
            "name": "cosign_settled",
            "correlation_key": "2026-0001",
            "message_id": "cosign-settled-2026-0001",
            "payload": {"proposers": ["李明", "张伟", "王芳"]},
        }
    ]


def test_confirming_twice_changes_nothing(uow):
    submitted(uow, cosigners=["张伟"])
    operations.cosign(uow, "2026-0001", ZHANG)
    operations.cosign(uow, "2026-0001", ZHANG)
    assert len(messages(uow, "cosign_settled")) == 1
    assert actions(uow, "2026-0001").count("cosign_confirmed") == 1


def test_a_cosigner_may_confirm_until_the_end_of_the_last_day(uow, skipping_clock):
    submitted(uow, cosigners=["张伟"])
    skipping_clock.set(datetime(2026, 3, 5, 15, 59, tzinfo=timezone.utc))  # 23:59 on 5 March in Beijing
    assert operations.cosign(uow, "2026-0001", ZHANG)["cosigners"][0]["status"] == "confirmed"


def test_a_confirmation_after_the_deadline_is_refused(uow, skipping_clock):
    submitted(uow, cosigners=["张伟"])
    skipping_clock.set(datetime(2026, 3, 5, 16, 0, tzinfo=timezone.utc))  # midnight: the window closed
    with pytest.raises(Conflict) as late:
        operations.cosign(uow, "2026-0001", ZHANG)
    assert "deadline" in late.value.message and "2026-03-05T16:00:00+00:00" in late.value.message
    assert messages(uow, "cosign_settled") == []


def test_only_an_invited_cosigner_confirms(uow):
    submitted(uow, cosigners=["张伟"])
    with pytest.raises(NotFound):
        operations.cosign(uow, "2026-0001", WANG)
    with pytest.raises(Conflict):
        operations.cosign(uow, "2026-0001", LI)
    with pytest.raises(Forbidden):
        operations.cosign(uow, "2026-0001", STAFF)


def test_settling_drops_the_cosigners_who_did_not_confirm(uow):
    proposal = submitted(uow, cosigners=["张伟", "王芳"])
    operations.cosign(uow, "2026-0001", WANG)
    settled = operations.settle_cosigners(uow, {"proposal_id": proposal["id"]}, None)
    assert settled == {"proposers": ["李明", "王芳"], "dropped": ["张伟"]}
    assert operations.settle_cosigners(uow, {"proposal_id": proposal["id"]}, None) == settled
    assert [c.status for c in uow.rows.of(Cosigner) if c.user == "张伟"] == ["dropped"]
    assert operations.get(uow, "2026-0001", LI)["status"] == "submitted"
    assert "不再列为联名人" in notifications(uow, "张伟")[-1]
    with pytest.raises(Conflict):
        operations.cosign(uow, "2026-0001", ZHANG)


def test_settle_cosigners_params_are_checked(uow):
    with pytest.raises(InvalidInput) as refused:
        operations.settle_cosigners(uow, {"proposal_id": "first"}, None)
    assert list(refused.value.details) == ["proposal_id"]
