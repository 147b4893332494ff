"""An operator cancelled a process instance (``process.cancelled``): intake cancels the proposal or
opinion item it ran for, keeps it in the history, tells the people concerned, and does it once. Run
on the in-memory fakes of intake's ports (``tests/unit/services/intake/fakes.py``), through the
handler of intake's events queue (``progress.hear``)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from services.intake import operations, progress, publication, registration, reports, threads
from services.intake import opinions
from services.intake.models import Notification
from services.intake.rules import RulebookRules
from shared import clock, contracts
from shared.contracts import messages
from shared.errors import BusinessError, InvalidInput

from .fakes import FakeIntakeUnitOfWork

LI = {"user": "李明", "roles": ["member"], "unit": None}
ZHANG = {"user": "张伟", "roles": ["member"], "unit": None}
STAFF = {"user": "staff.zhao", "roles": ["staff"], "unit": None}
DRAFT = {
    "kind": "between_sessions",
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "候车亭遮雨面积小。",
    "analysis": "缺少统一规划。",
    "suggestions": "制定改造计划。",
}
ITEM = {
    "title": "关于老旧小区加装电梯的建议",
    "situation": "老年住户上下楼困难。",
    "analysis": "费用分摊难以协调。",
    "suggestion": "出台费用分摊指引。",
}
RULES = RulebookRules()
EVERYONE = lambda users: []  # noqa: E731 - the members directory knows every co-signer
REASON = "流程定义错误，需重新发起"


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


def cancelled(number, process="proposal", instance="inst-1", at=None, **payload):
    """``process.cancelled`` as the engine publishes it."""
    return {
        "event_id": f"cancelled:{instance}",
        "name": contracts.PROCESS_CANCELLED,
        "occurred_at": (at or clock.now()).isoformat(),
        "subject": number or instance,
        "payload": {
            "instance_id": instance,
            "process_id": process,
            "business_key": number,
            "reason": REASON,
            "by": "ops.wang",
            **payload,
        },
    }


def handling(number, name, at=None, **payload):
    return {
        "event_id": f"{name}:{number}:1",
        "name": name,
        "occurred_at": (at or clock.now()).isoformat(),
        "subject": number,
        "payload": {"number": number, "round": 1, **payload},
    }


def filed(uow, draft=None, principal=LI):
    proposal = operations.submit(uow, RULES, draft or DRAFT, principal, directory=EVERYONE)
    operations.record_filing(
        uow, RULES, {"proposal_id": proposal["id"], "decision": "filed", "decided_by": "committee.he"}, None
    )
    return uow.proposals.by_number(proposal["number"])


def told(uow, kind):
    """Every notice of ``kind`` sent, whether a message of its own or riding on another."""
    found = []
    for event in uow.events():
        if event["name"] == contracts.NOTIFY_PREFIX + kind:
            found.append({"recipients": event["payload"]["recipients"], "text": event["payload"]["text"]})
        found += [
            {"recipients": n["recipients"], "text": n["text"]} for n in event.get("notices") or [] if n["kind"] == kind
        ]
    return found


def cancel_lines(uow, proposal):
    return [
        row
        for row in uow.proposals.events_of(proposal, "handling")
        if (row.data or {}).get("event") == contracts.PROCESS_CANCELLED
    ]


def test_a_proposal_in_handling_is_cancelled_kept_in_its_history_and_its_proposers_are_told(uow):
    proposal = filed(uow)
    progress.hear(uow, handling(proposal.number, "handling.assigned", units=["transport"]))
    assert proposal.status == "assigned"
    answer = progress.hear(uow, cancelled(proposal.number))
    assert answer == {"applied": True, "status": "cancelled"}
    assert proposal.status == "cancelled"
    [line] = cancel_lines(uow, proposal)
    assert line.actor == "ops.wang"
    assert line.data["status"] == "cancelled" and line.data["was"] == "assigned"
    assert (line.data["reason"], line.data["by"], line.data["event_id"]) == (REASON, "ops.wang", "cancelled:inst-1")
    [notice] = told(uow, "proposal_cancelled")
    assert notice["recipients"] == ["李明"]
    assert proposal.number in notice["text"] and REASON in notice["text"]
    assert any(n.recipient == "李明" and REASON in n.text for n in uow.rows.of(Notification))
    # The case thread shows it, with the reason and who.
    history = threads.thread(uow, proposal.thread, LI)["history"]
    assert any(h["data"].get("event") == contracts.PROCESS_CANCELLED and h["actor"] == "ops.wang" for h in history)


def test_a_proposal_still_before_filing_is_cancelled_too(uow):
    proposal = operations.submit(uow, RULES, DRAFT, LI, directory=EVERYONE)
    registration.find_duplicates(uow, RULES, {"proposal_id": proposal["id"]}, None)
    row = uow.proposals.by_number(proposal["number"])
    assert row.status == "pre_review"
    assert progress.hear(uow, cancelled(row.number))["applied"] is True
    assert row.status == "cancelled"
    # It is not waiting for the committee's decision any more: counted as cancelled, not undecided.
    figures = reports.year_figures(uow, RULES, row.year, "members", STAFF)
    assert (figures["undecided"], figures["cancelled"]) == (0, 1)
    [listed] = figures["proposals"]
    assert listed["status"] == "cancelled"


def test_heard_twice_it_acts_once(uow):
    proposal = filed(uow)
    progress.hear(uow, cancelled(proposal.number))
    again = progress.hear(uow, cancelled(proposal.number))
    assert again == {"applied": False, "reason": "heard before"}
    assert len(cancel_lines(uow, proposal)) == 1
    assert len(told(uow, "proposal_cancelled")) == 1


@pytest.mark.parametrize("final", ["published", "merged", "not_filed"])
def test_a_proposal_with_its_outcome_keeps_it(uow, final):
    proposal = filed(uow)
    proposal.status = final
    assert progress.hear(uow, cancelled(proposal.number))["applied"] is False
    assert proposal.status == final
    assert cancel_lines(uow, proposal) == []
    assert told(uow, "proposal_cancelled") == []


def test_a_published_proposal_keeps_its_status_and_publication(uow):
    proposal = filed(uow)
    answer = {"proposal_id": proposal.id, "units": ["transport"], "reply_summary": "已解决", "reply_category": "A"}
    publication.publish(uow, RULES, answer, None)
    assert progress.hear(uow, cancelled(proposal.number))["applied"] is False
    assert proposal.status == "published" and uow.proposals.publication_of(proposal) is not None


@pytest.mark.parametrize(
    "process, key",
    [("micro_consultation", "MC-2027-0001"), ("smoke", None), ("proposal", None), ("proposal", "2099-0404")],
)
def test_what_is_not_intakes_changes_nothing_and_is_no_error(uow, caplog, process, key):
    proposal = filed(uow)
    before = list(uow.sent)
    with caplog.at_level(logging.DEBUG, logger="services.intake.cancellation"):
        answer = progress.hear(uow, cancelled(key, process=process))
    assert answer["applied"] is False
    assert proposal.status == "filed" and cancel_lines(uow, proposal) == []
    assert uow.sent == before
    assert caplog.records and all(r.levelno <= logging.INFO for r in caplog.records)


def test_an_opinion_process_with_a_proposals_number_leaves_the_proposal_alone(uow):
    proposal = filed(uow)
    assert progress.hear(uow, cancelled(proposal.number, process="opinion"))["applied"] is False
    assert proposal.status == "filed"


def test_another_process_with_an_opinion_items_number_leaves_the_item_alone(uow):
    item = submitted_item(uow)
    assert progress.hear(uow, cancelled(item.number, process="micro_consultation"))["applied"] is False
    assert item.status == "submitted" and uow.events("notify.opinion.cancelled") == []


@pytest.mark.parametrize(
    "payload",
    [
        {"reason": ""},  # no reason
        {"by": None},  # nobody
        {"instance_id": 7},  # not a string
        {"business_key": "x" * 201},  # too long
    ],
)
def test_a_payload_not_as_the_contract_says_is_refused_and_changes_nothing(uow, payload):
    proposal = filed(uow)
    with pytest.raises(InvalidInput) as refused:
        progress.hear(uow, cancelled(proposal.number, **payload))
    assert "process.cancelled" in str(refused.value)
    assert proposal.status == "filed" and cancel_lines(uow, proposal) == []


def test_a_payload_without_a_field_is_refused(uow):
    proposal = filed(uow)
    event = cancelled(proposal.number)
    del event["payload"]["reason"]
    with pytest.raises(InvalidInput):
        progress.hear(uow, event)
    assert proposal.status == "filed"


def test_a_later_handling_event_does_not_revive_it_nor_tell_anyone(uow):
    proposal = filed(uow)
    progress.hear(uow, cancelled(proposal.number))
    before = told(uow, "rating_opened") + told(uow, "reply_accepted")
    later = clock.now() + timedelta(hours=1)
    for name in ("handling.assigned", "handling.reply_submitted", "handling.rating_opened"):
        assert progress.hear(uow, handling(proposal.number, name, at=later, units=["transport"]))["applied"] is False
    assert proposal.status == "cancelled"
    assert before == [] and told(uow, "rating_opened") == [] and told(uow, "proposal_assigned") == []


def test_a_cancellation_heard_after_a_later_handling_event_still_applies(uow):
    """The handling event came from a service that had not heard of the cancellation yet."""
    proposal = filed(uow)
    cancelled_at = clock.now()
    progress.hear(uow, handling(proposal.number, "handling.assigned", at=cancelled_at + timedelta(minutes=5)))
    assert proposal.status == "assigned"
    assert progress.hear(uow, cancelled(proposal.number, at=cancelled_at))["applied"] is True
    assert proposal.status == "cancelled"


def test_a_cancelled_proposal_is_neither_published_nor_a_merge_target_nor_compared(uow):
    proposal = filed(uow)
    progress.hear(uow, cancelled(proposal.number))
    answer = {"proposal_id": proposal.id, "units": ["transport"], "reply_summary": "已解决", "reply_category": "A"}
    with pytest.raises(BusinessError) as refused:
        publication.publish(uow, RULES, answer, None)
    assert refused.value.code == "not_publishable"
    assert uow.proposals.publication_of(proposal) is None
    # The same text again: the cancelled one is no near-duplicate to merge into.
    second = operations.submit(uow, RULES, DRAFT, ZHANG, directory=EVERYONE)
    found = registration.find_duplicates(uow, RULES, {"proposal_id": second["id"]}, None)
    assert proposal.number not in [c["number"] for c in found["candidates"]]
    with pytest.raises(BusinessError) as merge:
        operations.record_filing(
            uow,
            RULES,
            {
                "proposal_id": second["id"],
                "decision": "merged",
                "merge_into": proposal.number,
                "decided_by": "committee.he",
            },
            None,
        )
    assert merge.value.code == "merge_target_invalid"


def test_a_cancelled_filed_proposal_is_no_candidate_for_a_key_proposal(uow):
    from services.intake.key_facts import key_proposal_facts

    kept, gone = filed(uow), filed(uow, principal=ZHANG)
    progress.hear(uow, cancelled(gone.number))
    facts = key_proposal_facts(uow, kept.year, [kept.number, gone.number], STAFF)
    assert facts["filed_numbers"] == [kept.number] and facts["filed"] == 1
    assert list(facts["proposals"]) == [kept.number]


def test_the_proposers_of_a_proposal_merged_into_it_are_told(uow):
    main = filed(uow)
    other = operations.submit(uow, RULES, DRAFT, ZHANG, directory=EVERYONE)
    operations.record_filing(
        uow,
        RULES,
        {"proposal_id": other["id"], "decision": "merged", "merge_into": main.number, "decided_by": "committee.he"},
        None,
    )
    progress.hear(uow, cancelled(main.number))
    merged = uow.proposals.by_number(other["number"])
    assert merged.status == "merged"
    assert [n["recipients"] for n in told(uow, "proposal_cancelled")] == [["李明"], ["张伟"]]
    assert len(cancel_lines(uow, merged)) == 1


def submitted_item(uow, principal=LI):
    item = opinions.submit(uow, RULES, ITEM, principal)
    return uow.opinions.by_number(item["number"])


def test_an_opinion_item_is_cancelled_kept_in_its_history_and_its_submitter_is_told(uow):
    item = submitted_item(uow)
    assert progress.hear(uow, cancelled(item.number, process="opinion")) == {"applied": True, "status": "cancelled"}
    assert item.status == "cancelled"
    [line] = [e for e in uow.opinions.events_of(item) if e.action == "cancelled"]
    assert (line.actor, line.data["reason"], line.data["by"], line.data["was"]) == (
        "ops.wang",
        REASON,
        "ops.wang",
        "submitted",
    )
    [notice] = uow.events("notify.opinion.cancelled")
    assert notice["payload"]["recipients"] == ["李明"] and REASON in notice["payload"]["text"]
    assert opinions.get(uow, item.number, LI)["status_zh"] == "已撤销"
    # Heard again: nothing more.
    assert progress.hear(uow, cancelled(item.number, process="opinion"))["applied"] is False
    assert len(uow.events("notify.opinion.cancelled")) == 1
    assert len([e for e in uow.opinions.events_of(item) if e.action == "cancelled"]) == 1


@pytest.mark.parametrize("final", ["not_adopted", "handled", "converted"])
def test_an_opinion_item_with_its_outcome_keeps_it(uow, final):
    item = submitted_item(uow)
    item.status = final
    assert progress.hear(uow, cancelled(item.number, process="opinion"))["applied"] is False
    assert item.status == final and uow.events("notify.opinion.cancelled") == []


def test_an_item_opened_from_a_case_tells_its_case(uow):
    opened = threads.open_opinion_from_case(
        uow,
        RULES,
        {"thread": "MC-2027-0001", "member": "李明", "content": ITEM, "case_number": "MC-2027-0001"},
        None,
    )
    number = opened["number"]
    progress.hear(uow, cancelled(number, process="opinion"))
    [outcome] = uow.messages(messages.CONVERTED_OUTCOME)
    assert outcome["correlation_key"] == "MC-2027-0001"
    assert outcome["payload"]["outcome"] == "cancelled" and REASON in outcome["payload"]["reason"]
