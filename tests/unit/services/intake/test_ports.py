"""Intake's rules run on its ports alone: the in-memory unit of work (``tests/unit/services/intake/fakes.py``) and a rules
object, no database. What the rules decide (numbers, statuses, deadlines) and what they send (process
starts, BPMN messages, events, notices) is checked on what the fakes kept; the contracts check every
message as the real outbox would."""

from __future__ import annotations

from datetime import date

import pytest

from services.intake import operations, opinion_tracking as tracking, opinions, publication, threads
from services.intake.models import Conversion, OpinionIssue, OpinionItem
from services.intake.rules import IntakeRules, RulebookRules
from shared import clock
from shared.contracts import messages
from shared.errors import BusinessError, Conflict, InvalidInput

from .fakes import FakeIntakeUnitOfWork

LI = {"user": "李明", "roles": ["member"], "unit": None}
ZHANG = {"user": "张伟", "roles": ["member"], "unit": None}
WANG = {"user": "王芳", "roles": ["member"], "unit": None}
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
PASSED = {"political_ok": True, "facts_ok": True, "content_ok": True, "wording_ok": True}
RULES = RulebookRules()
EVERYONE = lambda users: []  # noqa: E731 - the members directory knows every co-signer


@pytest.fixture
def uow(skipping_clock):
    return FakeIntakeUnitOfWork()


class TwoCosigners(RulebookRules):
    """The rulebook as it is, but a joint proposal takes at most two co-signers."""

    def max_cosigners(self) -> int:
        return 2


def test_the_fake_rules_are_a_rules_port():
    assert isinstance(TwoCosigners(), IntakeRules)


def test_a_joint_proposal_is_numbered_invites_its_cosigners_and_starts_its_process(uow, skipping_clock):
    first = operations.submit(uow, RULES, DRAFT, LI, directory=EVERYONE)
    joint = operations.submit(uow, RULES, {**DRAFT, "cosigners": ["张伟", "王芳"]}, LI, directory=EVERYONE)
    assert (first["number"], joint["number"]) == (f"{first['year']}-0001", f"{first['year']}-0002")
    assert joint["status"] == "cosigning"
    # The rulebook's cosign_window (3 calendar days) from the submission, through the rules port.
    window = RULES.proposal_deadline("cosign_window", clock.now())
    assert clock.as_utc(window.ends_at).isoformat() == uow.starts()[1]["data"]["cosign_due"]
    assert [s["command_id"] for s in uow.starts()] == [f"proposal-{first['number']}", f"proposal-{joint['number']}"]
    [invited] = uow.events("notify.cosign_invited")
    assert invited["payload"]["recipients"] == ["张伟", "王芳"]


def test_the_cap_on_cosigners_is_the_rules_ports(uow):
    operations.submit(uow, TwoCosigners(), {**DRAFT, "cosigners": ["张伟", "王芳"]}, LI, directory=EVERYONE)
    with pytest.raises(InvalidInput) as refused:
        operations.submit(uow, TwoCosigners(), {**DRAFT, "cosigners": ["张伟", "王芳", "赵六"]}, LI, directory=EVERYONE)
    assert "at most 2" in refused.value.details["cosigners"][0]


def test_the_last_cosigner_to_confirm_tells_the_engine_once_under_the_proposals_lock(uow):
    joint = operations.submit(uow, RULES, {**DRAFT, "cosigners": ["张伟", "王芳"]}, LI, directory=EVERYONE)
    operations.cosign(uow, joint["number"], ZHANG)
    assert uow.messages(messages.COSIGN_SETTLED) == []
    operations.cosign(uow, joint["number"], WANG, publish_name=True)
    operations.cosign(uow, joint["number"], WANG)  # again: changes nothing
    [settled] = uow.messages(messages.COSIGN_SETTLED)
    assert settled["correlation_key"] == joint["number"]
    assert settled["payload"] == {"proposers": ["李明", "张伟", "王芳"]}
    assert uow.proposals.locked == [joint["number"]] * 3


def test_a_proposal_not_filed_and_converted_becomes_an_opinion_item_with_its_own_process(uow):
    proposal = operations.submit(uow, RULES, DRAFT, LI, directory=EVERYONE)
    result = operations.record_filing(
        uow,
        RULES,
        {
            "proposal_id": proposal["id"],
            "decision": "not_filed",
            "reason_code": "personal_or_family",
            "convert_to": "opinion",
            "decided_by": "committee.he",
        },
        None,
    )
    [item] = uow.rows.of(OpinionItem)
    assert result["converted_to"] == {"kind": "opinion", "reference": item.number}
    assert (item.thread, item.submitter, item.status) == (proposal["number"], "李明", "submitted")
    assert [c.reference for c in uow.rows.of(Conversion)] == [item.number]
    assert [s["process_id"] for s in uow.starts()] == ["proposal", "opinion"]
    [told] = uow.events("notify.filing_decision")
    assert item.number in told["payload"]["text"]
    with pytest.raises(BusinessError) as again:
        operations.record_filing(
            uow, RULES, {"proposal_id": proposal["id"], "decision": "filed", "decided_by": "committee.he"}, None
        )
    assert again.value.code == "already_decided"


def test_a_disabled_reply_category_is_refused_and_a_published_b_reply_waits_for_its_follow_up(uow):
    proposal = operations.submit(uow, RULES, DRAFT, LI, directory=EVERYONE)
    operations.record_filing(
        uow, RULES, {"proposal_id": proposal["id"], "decision": "filed", "decided_by": "committee.he"}, None
    )
    answer = {"proposal_id": proposal["id"], "units": ["transport"], "reply_summary": "已列入计划"}
    with pytest.raises(BusinessError) as unknown:
        publication.publish(uow, RULES, {**answer, "reply_category": "D"}, None)
    assert unknown.value.code == "unknown_reply_category"
    publication.publish(uow, RULES, {**answer, "reply_category": "B", "followup_pending": True}, None)
    row = uow.proposals.publication_of(uow.proposals.get(proposal["id"]))
    assert (row.reply_category, row.followup_status) == ("B", "pending")
    publication.publish_followup(uow, {"proposal_id": proposal["id"], "text": "已建成，电话13800138000"}, None)
    assert row.followup_status == "received" and "13800138000" not in row.followup_text
    [published] = uow.events("notify.published")
    assert published["payload"]["recipients"] == ["李明"]


def test_an_opinion_item_is_edited_reported_adopted_forwarded_and_chased_without_a_database(uow, skipping_clock):
    item = opinions.submit(uow, RULES, ITEM, LI)
    item_id = uow.opinions.by_number(item["number"]).id
    tracking.record_editing(uow, RULES, {"item_id": item_id, **PASSED, "decision": "report", "edited_by": "s"}, None)
    reported = tracking.report(
        uow,
        RULES,
        {"item_id": item_id, "channels": ["city_party_committee", "provincial_committee"], "signed_off_by": "l"},
        None,
    )
    year = date.fromisoformat(reported["adoption_due"][:10]).year
    assert [i["issue"] for i in reported["reports"]] == [f"市委-{year}-001", f"省政协-{year}-001"]
    assert [issue.number for issue in uow.rows.of(OpinionIssue)] == [i["issue"] for i in reported["reports"]]
    tracking.record_adoption(uow, RULES, item["number"], {"channel": "city_party_committee", "adopted": False}, STAFF)
    assert uow.messages(messages.ADOPTIONS_SETTLED) == []
    adopted = tracking.record_adoption(
        uow, RULES, item["number"], {"channel": "provincial_committee", "adopted": True}, STAFF
    )
    assert adopted["status"] == "adopted"
    [settled] = uow.messages(messages.ADOPTIONS_SETTLED)
    assert settled["payload"] == {"adopted": ["provincial_committee"]}
    with pytest.raises(Conflict):
        tracking.record_adoption(
            uow, RULES, item["number"], {"channel": "provincial_committee", "adopted": False}, STAFF
        )
    forwarded = tracking.forward(
        uow, RULES, {"item_id": item_id, "units": ["housing"], "request": "请研究", "forwarded_by": "staff.zhao"}, None
    )
    due = RULES.opinion_deadline("forward_answer", clock.now())
    assert forwarded["answer_due"] == clock.as_utc(due.ends_at).isoformat()
    overdue = tracking.mark_overdue(uow, RULES, {"item_id": item_id}, None)
    assert overdue["overdue"] == ["housing"] and uow.opinions.get(item_id).status == "not_handled"
    [chased] = uow.events("notify.opinion.answers_overdue")
    assert chased["payload"]["recipients"] == ["staff.zhao"]
    assert [e["name"] for e in uow.events() if not e["name"].startswith("notify.")] == [
        "opinion.submitted",
        "opinion.adopted",
    ]


def test_an_item_becomes_a_proposal_in_its_thread_and_its_process_is_told(uow):
    item = opinions.submit(uow, RULES, ITEM, LI)
    made = threads.to_proposal(uow, RULES, item["number"], {"publish_consent": True}, LI, directory=EVERYONE)
    assert made["opinion"]["status"] == "converted"
    assert made["proposal"]["thread"] == item["thread"]
    [told] = uow.messages(messages.CONVERTED_TO_PROPOSAL)
    assert told["correlation_key"] == item["number"] and told["payload"] == {"proposal": made["proposal"]["number"]}
    whole = threads.thread(uow, item["thread"], LI)
    assert [(e["kind"], e["number"]) for e in whole["entries"]] == [
        ("opinion", item["number"]),
        ("proposal", made["proposal"]["number"]),
    ]
