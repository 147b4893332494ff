"""立 register: the jobs the proposal diagram gives intake between submission and assignment.

Each takes validated parameters and returns a JSON-ready result for the diagram. An outcome the
diagram may catch is a :class:`BusinessError` with a code (``unknown_reason``,
``merge_target_invalid``, ``already_decided``, ``not_in_review``).
"""

from __future__ import annotations

from shared import clock
from shared.errors import BusinessError
from shared.rulebook import RuleNotFound
from shared.validation import load
from shared.principal import acting_user

from . import case_outcome
from .conversion import opinion_from_proposal
from .areas import check_area
from .models import Conversion, Proposal
from .records import by_id, by_number, notice, notify, proposers, record_event, tell
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules
from .schemas import FilingParams, FilingRefusedParams, ProposalRef
from .progress import IN_HANDLING
from .similarity import bigrams
from .similarity import score as similarity_score

IN_REVIEW = ("submitted", "pre_review")
CONVERTED_AS = {"opinion": "社情民意信息", "letter": "来信"}


def _actor(principal: dict | None) -> str:
    return acting_user(principal)


def settle_cosigners(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """Close co-signing: co-signers who did not confirm drop off. Doing it again changes nothing."""
    data = load(ProposalRef, params, "intake.settle_cosigners parameters")
    proposal = by_id(uow, data["proposal_id"], lock=True)  # no confirmation slips in meanwhile
    if proposal.status == "cosigning":
        dropped = [c.user for c in proposal.cosigners if c.status == "invited"]
        for signer in proposal.cosigners:
            if signer.status == "invited":
                signer.status = "dropped"
        proposal.status = "submitted"
        record_event(
            uow,
            proposal,
            _actor(principal),
            "cosigning_settled",
            {"proposers": proposers(proposal), "dropped": dropped},
        )
        notify(
            uow,
            proposal,
            dropped,
            f"您未在期限内确认联名提案 {proposal.number}《{proposal.title}》，已不再列为联名人。",
            kind="cosign_dropped",
        )
    else:
        dropped = [c.user for c in proposal.cosigners if c.status == "dropped"]
    return {"proposers": proposers(proposal), "dropped": dropped}


def find_duplicates(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """Proposals of the same year whose title and suggestions are near this one's, best first:
    those scoring at least the rulebook's ``duplicates.threshold``.

    Opens the pre-review of a submitted proposal (status ``pre_review``), recording what was found.
    """
    proposal = by_id(uow, load(ProposalRef, params, "intake.find_duplicates parameters")["proposal_id"])
    threshold = rules.duplicate_threshold()
    own = bigrams(proposal.title, proposal.suggestions)
    candidates = []
    for number, title, suggestions, words in uow.proposals.duplicate_candidates(proposal, sorted(own), threshold):
        # The stored bigrams where there are (match_text), not the texts split again: thousands
        # of candidates on a year of similar texts, and splitting was most of the search's time.
        theirs = frozenset(words.split()) if words is not None else bigrams(title, suggestions)
        score = similarity_score(own, theirs)
        if score >= threshold:
            candidates.append({"number": number, "title": title, "score": score})
    candidates.sort(key=lambda c: (-c["score"], c["number"]))
    if proposal.status == "submitted":
        proposal.status = "pre_review"
        record_event(
            uow,
            proposal,
            _actor(principal),
            "pre_review_opened",
            {"duplicates": candidates, "threshold": threshold},
        )
    return {"candidates": candidates}


# Why a proposal cannot take another merged into it, in words for the committee (a status it has).
NOT_MERGEABLE_ZH = {
    "cancelled": "已撤销办理",
    "not_filed": "未予立案",
    "merged": "已并入其他提案",
    "published": "已办结公开",
    "returned": "已退回修改",
    "cosigning": "尚在联名",
    "submitted": "尚未立案",
    "pre_review": "尚未立案",
}


def _merge_problem(uow: IntakeUnitOfWork, proposal: Proposal, number: str) -> tuple[Proposal | None, str, str]:
    """The proposal ``number`` that ``proposal`` would be merged into, and why it cannot be, in
    English (the job's error) and in Chinese (the committee's notice); empty when it can."""
    target = by_number(uow, number)
    if target is None:
        return None, "does not exist", f"提案 {number} 不存在"
    if target.id == proposal.id:
        return target, "is this proposal itself", "不能并入本提案自身"
    if target.year != proposal.year:
        return target, f"is of {target.year}, not {proposal.year}", f"提案 {number} 是 {target.year} 年度的提案"
    if target.status not in IN_HANDLING:
        why = NOT_MERGEABLE_ZH.get(target.status, target.status)
        return target, f"is {target.status}, not filed", f"提案 {number} {why}，不是已立案办理中的提案"
    return target, "", ""


def _merge_target(uow: IntakeUnitOfWork, proposal: Proposal, number: str) -> Proposal:
    target, problem, _ = _merge_problem(uow, proposal, number)
    if problem or target is None:
        raise BusinessError(
            "merge_target_invalid", f"cannot merge {proposal.number} into {number}: that proposal {problem}"
        )
    return target


def _not_filed(uow: IntakeUnitOfWork, rules: IntakeRules, proposal: Proposal, data: dict) -> tuple[str, dict | None]:
    provenance = rules.proposal_provenance()
    try:
        reason = rules.not_filed_reason(data["reason_code"])
    except RuleNotFound:
        known = ", ".join(r.code for r in rules.not_filed_reasons())
        raise BusinessError(
            "unknown_reason",
            f"{data['reason_code']!r} is not a not-filed reason of "
            f"rulebook proposal {provenance['rulebook']}; it has: {known}",
        ) from None
    proposal.reason_code, proposal.reason_text = reason.code, reason.zh
    text = f"您的提案 {proposal.number}《{proposal.title}》不予立案，理由：{reason.zh}。"
    converted = None
    if data["convert_to"] in CONVERTED_AS:
        if data["convert_to"] == "opinion":  # an item of its own, in the proposal's thread, its process started
            reference = opinion_from_proposal(uow, rules, proposal, data["decided_by"]).number
        else:
            reference = f"{data['convert_to']}:{proposal.number}"  # one case keeps one identity
        uow.proposals.add_conversion(
            Conversion(proposal_id=proposal.id, kind=data["convert_to"], reference=reference, created_at=clock.now())
        )
        proposal.converted_kind, proposal.converted_reference = data["convert_to"], reference
        converted = {"kind": data["convert_to"], "reference": reference}
        text += f"已转为{CONVERTED_AS[data['convert_to']]}（{reference}）转送有关方面。"
    return text, {**provenance, "converted_to": converted}


def record_filing_refused(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """The filing decision could not be recorded (``intake.record_filing`` raised an error the
    diagram caught, e.g. ``merge_target_invalid``): the proposal's history says why, and the member
    of the committee who decided (or, unknown, the committee) is told, in words, that the decision
    is theirs to make again. The proposal's status is unchanged."""
    data = load(FilingRefusedParams, params, "intake.record_filing_refused parameters")
    proposal = by_id(uow, data["proposal_id"], lock=True)
    record_event(
        uow,
        proposal,
        acting_user(principal),
        "filing_refused",
        {"code": data["code"], "message": data["message"], "decided_by": data["decided_by"]},
    )
    why = data["message"] or data["code"]
    if data["code"] == "merge_target_invalid" and data["merge_into"]:
        # Said as the committee reads it, from the proposal it chose as it is now.
        why = _merge_problem(uow, proposal, data["merge_into"])[2] or why
    notify(
        uow,
        proposal,
        [data["decided_by"] or "role:committee"],
        f"提案 {proposal.number}《{proposal.title}》的立案决定未能记录：{why}。该提案已回到“立案决定”待办，请重新作出决定。",
        kind="filing_refused",
    )
    uow.flush()
    return {"recorded": True, "code": data["code"]}


def record_filing(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """The committee's filing decision: filed, not filed (with a rulebook reason, perhaps converted),
    returned for revision, or merged into a filed proposal. The proposers are told why."""
    data = load(FilingParams, params, "intake.record_filing parameters")
    proposal = by_id(uow, data["proposal_id"], lock=True)
    if proposal.status not in IN_REVIEW:
        code = "not_in_review" if proposal.status in ("cosigning", "returned") else "already_decided"
        raise BusinessError(
            code, f"proposal {proposal.number} is {proposal.status}; a filing decision needs one in review"
        )
    check_area(rules, data["area"], "intake.record_filing parameters")
    decision, title = data["decision"], f"{proposal.number}《{proposal.title}》"
    if data["area"] is not None and data["area"] != proposal.area:
        record_event(uow, proposal, data["decided_by"], "area_set", {"area": data["area"], "was": proposal.area})
        proposal.area = data["area"]
    details: dict | None = None
    if decision == "filed":
        text = f"您的提案 {title}已立案。"
    elif decision == "not_filed":
        text, details = _not_filed(uow, rules, proposal, data)
    elif decision == "returned":
        proposal.reason_text = data["note"]
        text = (
            f"您的提案 {title}已退回修改" + (f"，意见：{data['note']}" if data["note"] else "") + "。请修改后重新提交。"
        )
    else:
        target = _merge_target(uow, proposal, data["merge_into"])
        proposal.merged_into = target.number
        record_event(uow, target, data["decided_by"], "merged_in", {"number": proposal.number})
        text = f"您的提案 {title}与提案 {target.number} 并案办理，仍将单独得到答复。"
    proposal.status = proposal.decision = decision
    proposal.decided_by, proposal.decided_at = data["decided_by"], clock.now()
    result = {
        "status": proposal.status,
        "reason_code": proposal.reason_code,
        "reason_text": proposal.reason_text,
        "converted_to": (details or {}).get("converted_to"),
        "merged_into": proposal.merged_into,
    }
    record_event(
        uow,
        proposal,
        data["decided_by"],
        decision,
        {**result, **({"rulebook": details["rulebook"], "rulebook_hash": details["rulebook_hash"]} if details else {})},
    )
    told = notice(uow, proposal, proposers(proposal), text, kind="filing_decision")
    if decision not in ("filed", "merged"):
        tell(uow, [told])
    if decision in ("not_filed", "merged"):  # the case it came from, if any, learns it now
        converted = result["converted_to"]
        case_outcome.proposal_decided(uow, proposal, converted, CONVERTED_AS.get((converted or {}).get("kind"), ""))
    if decision in ("filed", "merged"):  # merged (并案): filed with another, its proposers keep their due
        _filed_event(uow, proposal, told)  # the proposers' notice rides on it: one message
    uow.flush()
    return result


def _filed_event(uow: IntakeUnitOfWork, proposal: Proposal, told: dict | None) -> None:
    """``proposal.filed`` for points: the initiator (lead) and the co-signers who confirmed (co). For a
    proposal merged into another, ``merged_into`` names that one: evaluation lets its proposers rate
    the answer they share. ``told``: the proposers' ``filing_decision`` notice, riding on it."""
    lead, *co = proposers(proposal)
    uow.publish_event(
        "proposal.filed",
        f"proposal.filed:{proposal.number}",
        proposal.number,
        thread=proposal.thread or proposal.number,
        members=[{"member": lead, "role": "lead"}, *({"member": m, "role": "co"} for m in co)],
        payload={
            "number": proposal.number,
            "year": proposal.year,
            "kind": proposal.kind,
            "title": proposal.title,
            **({"merged_into": proposal.merged_into} if proposal.merged_into else {}),
        },
        notices=[told] if told else [],
    )
