"""立 filing: the committee's decision on a proposal in review (filed, not filed with a rulebook
reason and perhaps converted, returned for revision, merged), what its proposers are told and what
the engine and points hear. Run on the in-memory fakes of intake's ports."""

from __future__ import annotations

import pytest

from services.intake import operations
from services.intake.models import Conversion, OpinionItem
from services.intake.rules import RulebookRules
from shared.errors import BusinessError, Conflict, Forbidden, InvalidInput, NotFound

from .fakes import FakeIntakeUnitOfWork
from .test_cosigning import actions, messages, notifications
from .test_operations import (
    BUS_SHELTERS,
    BUS_SHELTERS_REWORDED,
    LI,
    PRESCHOOLS,
    STAFF,
    WANG,
    ZHANG,
    draft,
    members_only,
)

RULES = RulebookRules()


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


def submitted(uow, principal=LI, **overrides):
    return operations.submit(uow, RULES, draft(**overrides), principal, directory=members_only())


def filed(uow, text=BUS_SHELTERS, principal=LI, **overrides):
    proposal = submitted(uow, principal, text=text, **overrides)
    decide(uow, proposal, "filed")
    return proposal


def decide(uow, proposal, decision, **params):
    return operations.record_filing(
        uow,
        RULES,
        {"proposal_id": proposal["id"], "decision": decision, "decided_by": "committee.he", **params},
        None,
    )


def test_a_filed_proposal_is_filed_and_its_proposers_are_told(uow):
    proposal = submitted(uow, cosigners=["张伟"])
    operations.cosign(uow, "2026-0001", ZHANG)
    operations.settle_cosigners(uow, {"proposal_id": proposal["id"]}, None)
    assert decide(uow, proposal, "filed") == {
        "status": "filed",
        "reason_code": None,
        "reason_text": None,
        "converted_to": None,
        "merged_into": None,
    }
    filing = operations.get(uow, "2026-0001", STAFF)["filing"]
    assert filing["decision"] == "filed" and filing["decided_by"] == "committee.he"
    assert "已立案" in notifications(uow, "李明")[-1] and "已立案" in notifications(uow, "张伟")[-1]


def test_a_proposal_not_filed_carries_the_rulebook_reason_and_may_become_an_opinion_item(uow):
    proposal = submitted(uow)
    result = decide(uow, proposal, "not_filed", reason_code="personal_or_family", convert_to="opinion")
    item = uow.rows.of(OpinionItem)[0]
    assert result == {
        "status": "not_filed",
        "reason_code": "personal_or_family",
        "reason_text": "属于个人或家庭问题的",
        "converted_to": {"kind": "opinion", "reference": item.number},
        "merged_into": None,
    }
    conversion = uow.rows.of(Conversion)[0]
    assert (conversion.kind, conversion.reference) == ("opinion", item.number)
    told = notifications(uow, "李明")[-1]
    assert "属于个人或家庭问题的" in told and item.number in told


def test_a_proposal_converted_to_an_opinion_item_starts_its_process_in_the_same_thread(uow):
    proposal = submitted(uow)
    decide(uow, proposal, "not_filed", reason_code="personal_or_family", convert_to="opinion")
    item = uow.rows.of(OpinionItem)[0]
    own = uow.proposals.by_number(proposal["number"])
    assert (item.thread, item.submitter, item.status) == (own.thread or own.number, own.initiator, "submitted")
    assert (item.title, item.suggestion) == (own.title, own.suggestions)
    [start] = [s for s in uow.starts() if s["process_id"] == "opinion"]
    assert start["business_key"] == item.number and start["data"]["thread"] == item.thread


def test_a_proposal_not_filed_may_be_forwarded_as_a_letter_or_not_at_all(uow):
    letter = submitted(uow)
    kept = submitted(uow, ZHANG, text=PRESCHOOLS)
    assert (
        decide(uow, letter, "not_filed", reason_code="accuses_named_people", convert_to="letter")["converted_to"][
            "kind"
        ]
        == "letter"
    )
    assert decide(uow, kept, "not_filed", reason_code="academic_debate")["converted_to"] is None
    assert len(uow.rows.of(Conversion)) == 1


def test_an_unknown_reason_is_a_business_error_and_changes_nothing(uow):
    proposal = submitted(uow)
    with pytest.raises(BusinessError) as refused:
        decide(uow, proposal, "not_filed", reason_code="too_long")
    assert refused.value.code == "unknown_reason" and "state_secrets" in refused.value.message
    assert operations.get(uow, "2026-0001", STAFF)["status"] == "submitted"


def test_a_not_filed_decision_needs_a_reason_code(uow):
    proposal = submitted(uow)
    with pytest.raises(InvalidInput) as refused:
        decide(uow, proposal, "not_filed")
    assert list(refused.value.details) == ["reason_code"]


def test_only_a_proposal_not_filed_is_converted(uow):
    proposal = submitted(uow)
    with pytest.raises(InvalidInput) as refused:
        decide(uow, proposal, "filed", convert_to="opinion")
    assert list(refused.value.details) == ["convert_to"]


def test_a_returned_proposal_is_revised_by_its_initiator_and_goes_back_to_pre_review(uow):
    proposal = submitted(uow, cosigners=["张伟"])
    operations.cosign(uow, "2026-0001", ZHANG)
    operations.settle_cosigners(uow, {"proposal_id": proposal["id"]}, None)
    assert decide(uow, proposal, "returned", note="请补充具体点位")["status"] == "returned"
    assert "请补充具体点位" in notifications(uow, "李明")[-1]
    with pytest.raises(Forbidden):
        operations.resubmit(uow, RULES, "2026-0001", draft(), ZHANG)
    with pytest.raises(NotFound):
        operations.resubmit(uow, RULES, "2026-0001", draft(), WANG)
    revised = operations.resubmit(
        uow,
        RULES,
        "2026-0001",
        {**draft(), "situation": "老城区 46 座候车亭中 30 座需改造。"},
        LI,
    )
    assert (revised["status"], revised["revision"], revised["filing"]) == ("pre_review", 2, None)
    assert revised["situation"].startswith("老城区 46 座")
    assert messages(uow, "resubmitted") == [
        {
            "name": "resubmitted",
            "correlation_key": "2026-0001",
            "message_id": "resubmitted-2026-0001-2",
            "payload": {"revision": 2},
        }
    ]
    with pytest.raises(Conflict):
        operations.resubmit(uow, RULES, "2026-0001", draft(), LI)


def test_a_resubmission_is_validated_like_a_draft(uow):
    proposal = submitted(uow)
    decide(uow, proposal, "returned")
    with pytest.raises(InvalidInput) as refused:
        operations.resubmit(uow, RULES, "2026-0001", draft(suggestions=""), LI)
    assert list(refused.value.details) == ["suggestions"]


def test_a_near_duplicate_is_merged_into_a_filed_proposal_of_the_same_year(uow):
    main = filed(uow)
    copy = submitted(uow, WANG, text=BUS_SHELTERS_REWORDED)
    assert decide(uow, copy, "merged", merge_into="2026-0001")["merged_into"] == "2026-0001"
    assert operations.get(uow, "2026-0002", WANG)["status"] == "merged"
    assert "merged_in" in actions(uow, main["number"])
    assert "仍将单独得到答复" in notifications(uow, "王芳")[-1]


def test_a_merged_proposal_counts_as_filed_for_its_proposers_points_and_names_the_one_it_joined(uow):
    filed(uow)
    copy = submitted(uow, WANG, text=BUS_SHELTERS_REWORDED)
    decide(uow, copy, "merged", merge_into="2026-0001")
    [event] = [e for e in uow.events("proposal.filed") if e["subject"] == copy["number"]]
    assert event["payload"]["merged_into"] == "2026-0001"
    assert event["members"] == [{"member": WANG["user"], "role": "lead"}]


@pytest.mark.parametrize(
    "target, why",
    [
        ("2026-0099", "does not exist"),
        ("twenty-six", "does not exist"),
        ("2026-0001", "not filed"),
        ("2025-0001", "2025"),
        ("2026-0002", "itself"),
    ],
)
def test_a_merge_needs_another_filed_proposal_of_the_same_year(uow, target, why):
    submitted(uow)  # 2026-0001: not yet filed
    copy = submitted(uow, WANG)  # 2026-0002
    filed(uow, session_year=2025)  # 2025-0001: filed, another year
    with pytest.raises(BusinessError) as refused:
        decide(uow, copy, "merged", merge_into=target)
    assert refused.value.code == "merge_target_invalid" and why in refused.value.message


def test_a_decided_proposal_is_not_decided_again(uow):
    proposal = filed(uow)
    with pytest.raises(BusinessError) as refused:
        decide(uow, proposal, "not_filed", reason_code="academic_debate")
    assert refused.value.code == "already_decided"


def test_no_filing_decision_while_cosigners_are_still_confirming(uow):
    proposal = submitted(uow, cosigners=["张伟"])
    with pytest.raises(BusinessError) as refused:
        decide(uow, proposal, "filed")
    assert refused.value.code == "not_in_review"
