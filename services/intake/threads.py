"""One case, one thread: a micro-consultation case that becomes an opinion item and then a
proposal keeps one identity (``thread``); this module makes those conversions and answers the
whole thread in order.

- ``open_opinion_from_case`` / ``open_proposal_from_case``: a case (its number) becomes an item /
  a proposal of its member in the case's thread. Asking twice for the same case answers the first.
- ``to_proposal``: the submitting member turns their opinion item into a proposal (through the
  normal proposal submission, so it is numbered, started and filed like any other) in the item's
  thread. An item still in editing stops there (status ``converted``; the process ends on the
  message ``converted_to_proposal``); an item the editors did not adopt is converted too.
- ``thread``: every item and proposal of a thread with its states and events, oldest first.
"""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, InvalidInput
from shared.validation import load, made
from shared.contracts import messages
from shared.principal import acting_user as recorded_user

from . import proposals as proposal_rules
from .access import acting_user, is_proposer, reads_all, require_member
from .models import Proposal
from .opinion_records import by_number, events_of, not_found, record, refuse_if_cancelled
from .opinion_schemas import (
    STATUS_ZH,
    CaseContent,
    CaseOpinionParams,
    CaseProposalParams,
    EventSchema,
    ToProposalRequest,
)
from .opinions import create, dump, send_in
from .records import record_event
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules
from .schemas import UtcDateTime

CONVERTIBLE = ("submitted", "not_adopted")


def _content(value, title, suggestion_key: str) -> dict:
    """``content`` as {title, situation, analysis, <suggestion_key>}: an object as given; a text
    is the situation, analysis and suggestion at once, titled ``title`` or its first words."""
    if isinstance(value, dict):
        content = dict(value)
        if "suggestion" in content and suggestion_key == "suggestions":
            content["suggestions"] = content.pop("suggestion")
        if "suggestions" in content and suggestion_key == "suggestion":
            content["suggestion"] = content.pop("suggestions")
        if title and not content.get("title"):
            content["title"] = title
        return content
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return {"title": title or text[:30], "situation": text, "analysis": text, suggestion_key: text}
    raise InvalidInput(
        "the case content", {"content": ["an object {title, situation, analysis, suggestion} or a text"]}
    )


def open_opinion_from_case(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    data = load(CaseOpinionParams, params, "intake.open_opinion_from_case parameters")
    existing = uow.opinions.from_case(data["thread"], data["case_number"])
    if existing is None:
        rulebook = rules.opinion_rulebook()
        content = load(
            CaseContent(limits=rulebook.rules["limits"]),
            _content(data["content"], data["title"], "suggestion"),
            "the case content",
        )
        existing = create(
            uow,
            rulebook,
            submitter=data["member"],
            role="member",
            content=content,
            urgent=data["urgent"],
            thread=data["thread"],
            origin_case=data["case_number"],
        )
        send_in(
            uow,
            existing,
            (principal or {}).get("user") or data["member"],
            {"user": data["member"], "roles": ["member"], "unit": None},
        )
    return {"item_id": existing.id, "number": existing.number, "thread": existing.thread, "status": existing.status}


def _proposal_from_case(uow: IntakeUnitOfWork, thread: str, member: str, case_number: str) -> Proposal | None:
    for proposal in uow.proposals.of_thread(thread):
        if proposal.initiator != member:
            continue
        opened = next(iter(uow.proposals.events_of(proposal, "opened_from_case")), None)
        if opened is not None and (opened.data or {}).get("case_number") == case_number:
            return proposal
    return None


def open_proposal_from_case(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    data = load(CaseProposalParams, params, "intake.open_proposal_from_case parameters")
    proposal = _proposal_from_case(uow, data["thread"], data["member"], data["case_number"])
    if proposal is None:
        draft = {
            "kind": data["kind"],
            "publish_consent": data["publish_consent"],
            **_content(data["content"], data["title"], "suggestions"),
        }
        made = proposal_rules.submit(
            uow, rules, draft, {"user": data["member"], "roles": ["member"], "unit": None}, thread=data["thread"]
        )
        proposal = proposal_rules.by_number(uow, made["number"])
        assert proposal is not None  # just submitted
        record_event(
            uow,
            proposal,
            recorded_user(principal),
            "opened_from_case",
            {"case_number": data["case_number"], "thread": data["thread"]},
        )
        uow.flush()
    return {"proposal_id": proposal.id, "number": proposal.number, "thread": proposal.thread, "status": proposal.status}


def to_proposal(
    uow: IntakeUnitOfWork, rules: IntakeRules, number: str, request: dict, principal: dict, directory=None
) -> dict:
    """The submitting member makes a proposal of their item (see the module's docstring)."""
    user = require_member(principal)
    data = load(ToProposalRequest, request, "the proposal")
    item = by_number(uow, number, lock=True)
    if item is None:
        raise not_found(number)
    if item.submitter != user or item.submitter_role != "member":
        raise Forbidden(f"only the member who submitted opinion item {number} turns it into a proposal")
    refuse_if_cancelled(uow, item, "conversion into a proposal")
    if item.converted_to:
        raise Conflict(f"opinion item {number} is already proposal {item.converted_to}")
    if item.status not in CONVERTIBLE:
        raise Conflict(
            f"opinion item {number} is {item.status}; only an item in editing or not adopted becomes a proposal"
        )
    draft = {
        "kind": data["kind"],
        "title": data["title"] or item.title,
        "situation": data["situation"] or item.situation,
        "analysis": data["analysis"] or item.analysis,
        "suggestions": data["suggestions"] or item.suggestion,
        "publish_consent": data["publish_consent"],
        "no_publish_reason": data["no_publish_reason"],
        "cosigners": data["cosigners"],
    }
    made = proposal_rules.submit(uow, rules, draft, principal, thread=item.thread, directory=directory)
    proposal = proposal_rules.by_number(uow, made["number"])
    assert proposal is not None  # just submitted
    record_event(uow, proposal, user, "converted_from_opinion", {"opinion": item.number, "thread": item.thread})
    was = item.status
    item.converted_to, item.status = made["number"], "converted"
    record(uow, item, user, "converted_to_proposal", {"proposal": made["number"], "was": was})
    if was == "submitted":
        uow.send_message(
            name=messages.CONVERTED_TO_PROPOSAL,
            correlation_key=item.number,
            message_id=f"converted-{item.number}",
            payload={"proposal": made["number"]},
        )
    uow.flush()
    return {"opinion": dump(uow, item), "proposal": made}


def thread(uow: IntakeUnitOfWork, thread_id: str, principal: dict) -> dict:
    """Every opinion item and proposal of ``thread_id`` with its state and events, oldest first;
    ``history`` is all their events in one timeline. Staff, the committee and leaders read any
    thread; a member or informant one they took part in. A thread intake has nothing of answers
    empty entries (the consultation service may hold its case), and so does one the caller took no
    part in: a refusal would tell a member that another member's unpublished proposal exists."""
    user, roles = acting_user(principal)
    items = uow.opinions.of_thread(thread_id)
    props = uow.proposals.of_thread(thread_id)
    if (
        (items or props)
        and not reads_all(roles)
        and not (any(i.submitter == user for i in items) or any(is_proposer(p, user) for p in props))
    ):
        items, props = [], []
    stamp = UtcDateTime()
    entries = []
    for item in items:
        entries.append(
            {
                "kind": "opinion",
                "number": item.number,
                "title": item.title,
                "status": item.status,
                "status_zh": STATUS_ZH.get(item.status, item.status),
                "submitter": item.submitter,
                "origin_case": item.origin_case,
                "converted_to": item.converted_to,
                "created_at": stamp._serialize(item.created_at, "created_at", item),
                "events": made(EventSchema).dump(events_of(uow, item), many=True),
            }
        )
    for proposal in props:
        rows = uow.proposals.events_of(proposal)
        entries.append(
            {
                "kind": "proposal",
                "number": proposal.number,
                "title": proposal.title,
                "status": proposal.status,
                "submitter": proposal.initiator,
                "created_at": stamp._serialize(proposal.created_at, "created_at", proposal),
                "events": made(EventSchema).dump(rows, many=True),
            }
        )
    entries.sort(key=lambda e: e["created_at"])
    history = sorted(
        ({"kind": e["kind"], "number": e["number"], **ev} for e in entries for ev in e["events"]), key=lambda h: h["at"]
    )
    return {"thread": thread_id, "entries": entries, "history": history}
