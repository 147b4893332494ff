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

from .test_ports import DRAFT, ITEM, LI, STAFF, ZHANG  # the same people and texts
from tests.support import process_cancelled

RULES = RulebookRules()
EVERYONE = lambda users: []  # noqa: E731 - the members directory knows every co-signer
REASON = "流程定义错误，需重新发起"


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


def cancelled(number, process="proposal", instance="inst-1", at=None, **payload):
    """``process.cancelled`` as the engine publishes it."""
    return process_cancelled(
        number, REASON, "ops.wang", process_id=process, instance_id=instance, at=at, payload=payload
    )


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


def test_a_published_b_reply_awaiting_its_follow_up_says_it_stopped_and_its_proposers_are_told(uow):
    proposal = filed(uow)
    answer = {
        "proposal_id": proposal.id,
        "units": ["transport"],
        "reply_summary": "已列入明年计划",
        "reply_category": "B",
        "followup_pending": True,
    }
    publication.publish(uow, RULES, answer, None)
    assert uow.proposals.publication_of(proposal).followup_status == "pending"
    heard = progress.hear(uow, cancelled(proposal.number))
    assert heard == {"applied": True, "status": "published", "followup_status": "stopped"}
    assert proposal.status == "published" and uow.proposals.publication_of(proposal).followup_status == "stopped"
    [notice] = told(uow, "followup_stopped")
    assert notice["recipients"] == ["李明"] and REASON in notice["text"]
    [line] = cancel_lines(uow, proposal)
    assert line.data["followup"] == "stopped" and line.data["reason"] == REASON
    assert progress.hear(uow, cancelled(proposal.number))["applied"] is False  # heard twice: once
    assert len(told(uow, "followup_stopped")) == 1


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
    assert merged.status == "pre_review"  # unmerged, back to the committee's filing decision
    assert [n["recipients"] for n in told(uow, "proposal_cancelled")] == [["李明"]]
    # The merged proposal is not cancelled: its proposers hear what became of the main one.
    assert [n["recipients"] for n in told(uow, "merged_main_cancelled")] == [
        ["张伟"],
        ["role:committee", "role:staff"],
    ]
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


# -- the case an item or proposal came from was cancelled -------------------------------------------

CASE = "MC-2027-0002"


def case_cancelled(at=None):
    """``process.cancelled`` of the micro-consultation case ``CASE``."""
    return cancelled(CASE, process="micro_consultation", instance="inst-case", at=at)


def from_the_case(uow):
    item = threads.open_opinion_from_case(
        uow, RULES, {"thread": CASE, "member": "李明", "content": ITEM, "case_number": CASE}, None
    )
    made = threads.open_proposal_from_case(
        uow,
        RULES,
        {"thread": CASE, "member": "李明", "content": ITEM, "case_number": CASE, "kind": "between_sessions"},
        None,
    )
    return uow.opinions.by_number(item["number"]), uow.proposals.by_number(made["number"])


def test_what_a_cancelled_case_became_carries_on_and_its_people_are_told(uow):
    item, proposal = from_the_case(uow)
    item_was, proposal_was = item.status, proposal.status
    result = progress.hear(uow, case_cancelled())
    assert result == {"applied": True, "case": CASE, "told": [item.number, proposal.number]}
    # both carry on in their own processes
    assert (item.status, proposal.status) == (item_was, proposal_was)
    [line] = [e for e in uow.opinions.events_of(item) if e.action == "origin_case_cancelled"]
    assert line.data["case_number"] == CASE and line.data["reason"] == REASON and line.data["by"] == "ops.wang"
    assert [e.data["case_number"] for e in uow.proposals.events_of(proposal, "origin_case_cancelled")] == [CASE]
    [to_submitter] = uow.events("notify.opinion.origin_case_cancelled")
    assert to_submitter["payload"]["recipients"] == ["李明"]
    assert CASE in to_submitter["payload"]["title"] and "继续按程序处理" in to_submitter["payload"]["text"]
    [to_proposers] = told(uow, "origin_case_cancelled")
    assert to_proposers["recipients"] == ["李明"] and CASE in to_proposers["text"] and REASON in to_proposers["text"]
    # heard again: nothing more
    assert progress.hear(uow, case_cancelled())["applied"] is False
    assert len(uow.events("notify.opinion.origin_case_cancelled")) == 1 and len(told(uow, "origin_case_cancelled")) == 1


def test_the_outcome_of_what_a_cancelled_case_became_is_not_sent_to_it(uow):
    item, proposal = from_the_case(uow)
    progress.hear(uow, case_cancelled())
    # the item's and the proposal's own processes cancelled later: their outcome would go to the case
    progress.hear(uow, cancelled(item.number, process="opinion", instance="inst-item"))
    progress.hear(uow, cancelled(proposal.number, instance="inst-proposal"))
    assert item.status == proposal.status == "cancelled"
    assert uow.messages(messages.CONVERTED_OUTCOME) == []


def test_a_case_whose_item_has_its_outcome_tells_nobody(uow):
    item, proposal = from_the_case(uow)
    item.status, proposal.status = "handled", "published"
    assert progress.hear(uow, case_cancelled())["applied"] is False
    assert uow.events("notify.opinion.origin_case_cancelled") == [] and told(uow, "origin_case_cancelled") == []


def test_a_case_nothing_came_from_changes_nothing(uow):
    assert progress.hear(uow, case_cancelled())["applied"] is False
    assert uow.sent == []


# -- what the operator's walk-through found ---------------------------------------------------------

LEADER = {"user": "leader.sun", "roles": ["leader"], "unit": None}
HOUSING = {"user": "handler.gao", "roles": ["unit"], "unit": "housing"}
TRANSPORT = {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"}
WANG = {"user": "王芳", "roles": ["member"], "unit": None}
PASSED = {"political_ok": True, "facts_ok": True, "content_ok": True, "wording_ok": True}


def forwarded_item(uow, units=("housing", "transport")):
    """An item reported to two channels, adopted by one (the other has not answered), forwarded to
    ``units``."""
    from services.intake import opinion_tracking as tracking

    item = submitted_item(uow)
    tracking.record_editing(uow, RULES, {"item_id": item.id, **PASSED, "decision": "report", "edited_by": "s"}, None)
    tracking.report(
        uow,
        RULES,
        {"item_id": item.id, "channels": ["city_party_committee", "provincial_committee"], "signed_off_by": "l"},
        None,
    )
    tracking.record_adoption(uow, RULES, item.number, {"channel": "provincial_committee", "adopted": True}, STAFF)
    tracking.forward(
        uow, RULES, {"item_id": item.id, "units": list(units), "request": "请研究", "forwarded_by": "staff.zhao"}, None
    )
    assert item.status == "forwarded"
    return item


def _opinion_operations():
    from services.intake import areas
    from services.intake import opinion_tracking as tracking

    def ref(item):
        return {"item_id": item.id}

    return {
        "adoption": lambda uow, item: tracking.record_adoption(
            uow, RULES, item.number, {"channel": "city_party_committee", "adopted": True}, STAFF
        ),
        "instruction": lambda uow, item: tracking.record_instruction(
            uow,
            RULES,
            item.number,
            {"channel": "provincial_committee", "level": "city", "leader": "孙市长", "text": "请研究落实"},
            LEADER,
        ),
        "answer": lambda uow, item: tracking.answer_forward(uow, item.number, {"text": "已落实"}, HOUSING),
        "area": lambda uow, item: areas.set_area(uow, RULES, "opinion", item.number, {"area": "economy"}, STAFF),
        "to_proposal": lambda uow, item: threads.to_proposal(
            uow, RULES, item.number, {"publish_consent": True}, LI, directory=EVERYONE
        ),
        "submit_saved": lambda uow, item: opinions.submit_saved(uow, item.number, LI),
        "editing": lambda uow, item: tracking.record_editing(
            uow, RULES, {**ref(item), **PASSED, "decision": "report", "edited_by": "s"}, None
        ),
        "sign_off_refused": lambda uow, item: tracking.return_to_editing(
            uow, {**ref(item), "returned_by": "l", "comment": "再改改"}, None
        ),
        "report": lambda uow, item: tracking.report(
            uow, RULES, {**ref(item), "channels": ["city_government"], "signed_off_by": "l"}, None
        ),
        "close_reporting": lambda uow, item: tracking.close_reporting(uow, ref(item), None),
        "forward": lambda uow, item: tracking.forward(
            uow, RULES, {**ref(item), "units": ["health"], "request": "请研究", "forwarded_by": "staff.zhao"}, None
        ),
        "mark_overdue": lambda uow, item: tracking.mark_overdue(uow, RULES, ref(item), None),
        "close": lambda uow, item: tracking.close(uow, ref(item), None),
    }


def _state(uow, item):
    """Everything an operation could change or send."""
    from services.intake.models import OpinionEvent, OpinionForward, OpinionInstruction, OpinionIssue, OpinionReport

    return (
        [dict(m) for m in uow.sent],
        {kind.__name__: len(uow.rows.of(kind)) for kind in (OpinionEvent, OpinionInstruction, OpinionIssue)},
        [(r.channel, r.adoption) for r in uow.rows.of(OpinionReport)],
        [(f.unit, f.status, f.answer) for f in uow.rows.of(OpinionForward)],
        (item.status, item.area, item.title, item.converted_to),
        len(uow.rows.of(Notification)),
        len(uow.proposals.every()),
    )


@pytest.mark.parametrize("operation", sorted(_opinion_operations()))
def test_a_cancelled_opinion_item_refuses_every_operation_naming_the_cancellation(uow, operation):
    from shared.errors import Conflict

    item = forwarded_item(uow)
    at = clock.now()
    progress.hear(uow, cancelled(item.number, process="opinion", at=at))
    before = _state(uow, item)
    with pytest.raises(Conflict) as refused:
        _opinion_operations()[operation](uow, item)
    message = str(refused.value)
    assert f"opinion item {item.number} was cancelled" in message
    assert refused.value.details["cancelled"] == {
        "reason": "process_cancelled",
        "by": "ops.wang",
        "at": at.isoformat(),
        "note": REASON,
    }
    assert "ops.wang" in message and REASON in message and at.strftime("on %Y-%m-%d %H:%M UTC") in message
    assert _state(uow, item) == before  # nothing changed, nobody told, no event, no message


def test_a_live_item_takes_the_same_instruction_and_answer(uow):
    """The refusals above are the cancellation's: the same requests on a live item are taken."""
    from services.intake import opinion_tracking as tracking

    item = forwarded_item(uow)
    operations_ = _opinion_operations()
    operations_["instruction"](uow, item)
    operations_["answer"](uow, item)
    assert [e["name"] for e in uow.events() if e["name"] == "opinion.instructed"] == ["opinion.instructed"]
    assert [f.status for f in uow.opinions.forwards_of(item) if f.unit == "housing"] == ["answered"]
    assert tracking.record_adoption(
        uow, RULES, item.number, {"channel": "city_party_committee", "adopted": True}, STAFF
    )["status"] == ("forwarded")


def test_a_cancelled_item_leaves_the_leaders_awaiting_list_and_is_marked_in_the_adopted_report(uow):
    item = forwarded_item(uow)
    kept = forwarded_item(uow)

    def awaiting():
        page = opinions.item_page(uow, LEADER, {"awaiting": "instruction"})
        return [i["number"] for i in page["items"]], page["total"]

    assert awaiting() == ([kept.number, item.number], 2)
    progress.hear(uow, cancelled(item.number, process="opinion"))
    assert awaiting() == ([kept.number], 1)
    # Its adoption happened (an issue carried it): still listed, with its status, counted apart.
    for audience in ("members", "public"):
        report = reports.adopted_opinions(uow, RULES, item.year, audience, STAFF)
        if audience == "public":
            assert report["items"] == []  # no adoption marked publishable
            continue
        rows = {row["number"]: row for row in report["items"]}
        assert (rows[item.number]["status"], rows[item.number]["status_zh"]) == ("cancelled", "已撤销")
        assert rows[kept.number]["status"] == "forwarded"
        assert (report["adopted"], report["cancelled"]) == (2, 1)


def test_cancelling_a_forwarded_item_closes_its_open_forwards_and_tells_each_department(uow):
    from services.intake import opinion_tracking as tracking

    item = forwarded_item(uow, units=("housing", "transport", "health"))
    tracking.answer_forward(uow, item.number, {"text": "已落实"}, TRANSPORT)
    uow.opinions.forwards_of(item)[2].status = "overdue"  # health: its answer is late
    progress.hear(uow, cancelled(item.number, process="opinion"))
    assert {f.unit: f.status for f in uow.opinions.forwards_of(item)} == {
        "housing": "cancelled",
        "transport": "answered",  # answered: kept as it was
        "health": "cancelled",
    }
    [line] = [e for e in uow.opinions.events_of(item) if e.action == "cancelled"]
    assert line.data["forwards_closed"] == ["housing", "health"]
    told = {tuple(e["payload"]["recipients"]): e["payload"] for e in uow.events("notify.opinion.cancelled")}
    assert set(told) == {("李明",), ("unit:housing",), ("unit:health",)}
    for unit in ("unit:housing", "unit:health"):
        assert item.number in told[(unit,)]["title"] and REASON in told[(unit,)]["text"]
        assert "无需再答复" in told[(unit,)]["text"]
    # The department sees its forward closed, and its answer is refused naming the cancellation.
    assert opinions.get(uow, item.number, HOUSING)["forward"]["status"] == "cancelled"
    from shared.errors import Conflict

    with pytest.raises(Conflict, match="ops.wang"):
        tracking.answer_forward(uow, item.number, {"text": "已落实"}, HOUSING)


def test_an_item_never_forwarded_tells_no_department(uow):
    item = submitted_item(uow)
    progress.hear(uow, cancelled(item.number, process="opinion"))
    assert [e["payload"]["recipients"] for e in uow.events("notify.opinion.cancelled")] == [["李明"]]


def test_the_proposals_merged_into_a_cancelled_one_go_back_to_the_committees_filing_decision(uow):
    main = filed(uow)
    numbers = []
    for principal in (ZHANG, WANG):
        other = operations.submit(uow, RULES, DRAFT, principal, directory=EVERYONE)
        operations.record_filing(
            uow,
            RULES,
            {"proposal_id": other["id"], "decision": "merged", "merge_into": main.number, "decided_by": "committee.he"},
            None,
        )
        numbers.append(other["number"])
    progress.hear(uow, cancelled(main.number))
    sent = {m["correlation_key"]: m for m in uow.messages(messages.MERGE_MAIN_CANCELLED)}
    assert sorted(sent) == sorted(numbers)  # each one's process goes back to filing_decision
    for number, proposer in zip(numbers, ("张伟", "王芳"), strict=True):
        merged = uow.proposals.by_number(number)
        assert (merged.status, merged.decision, merged.merged_into, merged.decided_by) == (
            "pre_review",
            None,
            None,
            None,
        )
        assert sent[number]["payload"] == {"main": main.number, "reason": REASON}
        [line] = cancel_lines(uow, merged)
        assert line.data["main"] == main.number and line.data["unmerged"] is True
        [theirs] = [n for n in told(uow, "merged_main_cancelled") if n["recipients"] == [proposer]]
        assert "撤销并案" in theirs["text"] and "重新交提案委员会作出立案决定" in theirs["text"]
        assert REASON in theirs["text"]
    deciders = [n for n in told(uow, "merged_main_cancelled") if n["recipients"] == ["role:committee", "role:staff"]]
    assert len(deciders) == 2
    for notice, number in zip(deciders, numbers, strict=True):
        assert number in notice["text"] and main.number in notice["text"] and REASON in notice["text"]
    assert uow.messages(messages.MERGED_ANSWERED) == []
    # The committee decides again, as on any proposal in review: filed on its own this time.
    first = uow.proposals.by_number(numbers[0])
    decided = operations.record_filing(
        uow, RULES, {"proposal_id": first.id, "decision": "filed", "decided_by": "committee.he"}, None
    )
    assert decided["status"] == "filed" and first.status == "filed"
    # Heard again: nothing more sent.
    progress.hear(uow, cancelled(main.number))
    assert len(uow.messages(messages.MERGE_MAIN_CANCELLED)) == 2


def test_open_cosigning_invitations_close_with_the_proposal_and_a_later_confirmation_names_it(uow):
    from shared.errors import Conflict

    made = operations.submit(uow, RULES, {**DRAFT, "cosigners": ["张伟", "王芳"]}, LI, directory=EVERYONE)
    operations.cosign(uow, made["number"], ZHANG)
    proposal = uow.proposals.by_number(made["number"])
    assert proposal.status == "cosigning"
    at = clock.now()
    progress.hear(uow, cancelled(proposal.number, at=at))
    assert {c.user: c.status for c in proposal.cosigners} == {"张伟": "confirmed", "王芳": "cancelled"}
    [line] = cancel_lines(uow, proposal)
    assert line.data["invitations_closed"] == ["王芳"]
    [invited] = told(uow, "cosign_cancelled")
    assert invited["recipients"] == ["王芳"] and REASON in invited["text"] and proposal.number in invited["text"]
    [proposers_] = told(uow, "proposal_cancelled")
    assert proposers_["recipients"] == ["李明", "张伟"]
    before = list(uow.sent)
    with pytest.raises(Conflict) as refused:
        operations.cosign(uow, proposal.number, WANG)
    message = str(refused.value)
    assert f"the handling of proposal {proposal.number} was cancelled" in message
    # and in details, for a department's system or the console to say in its own words
    assert refused.value.details == {
        "cancelled": {"reason": "process_cancelled", "by": "ops.wang", "at": at.isoformat(), "note": REASON}
    }
    assert "ops.wang" in message and REASON in message and at.strftime("on %Y-%m-%d %H:%M UTC") in message
    assert uow.sent == before and proposal.cosigners[1].status == "cancelled"
    assert uow.messages(messages.COSIGN_SETTLED) == []
    # Told of it, the invited co-signer still reads the proposal, now cancelled.
    assert operations.get(uow, proposal.number, WANG)["status"] == "cancelled"


def test_the_years_report_counts_only_proposals_without_a_decision_as_undecided(uow):
    main = filed(uow)
    merged = operations.submit(uow, RULES, DRAFT, ZHANG, directory=EVERYONE)
    operations.record_filing(
        uow,
        RULES,
        {"proposal_id": merged["id"], "decision": "merged", "merge_into": main.number, "decided_by": "committee.he"},
        None,
    )
    returned = operations.submit(uow, RULES, DRAFT, WANG, directory=EVERYONE)
    operations.record_filing(
        uow, RULES, {"proposal_id": returned["id"], "decision": "returned", "note": "请补充", "decided_by": "c"}, None
    )
    operations.submit(uow, RULES, DRAFT, LI, directory=EVERYONE)  # waiting for its decision
    figures = reports.year_figures(uow, RULES, main.year, "members", STAFF)
    assert (figures["received"], figures["filed"], figures["merged"]) == (4, 1, 1)
    # the one waiting and the one returned for revision (it comes back for a decision); not the merged
    assert (figures["undecided"], figures["cancelled"]) == (2, 0)
