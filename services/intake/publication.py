"""公开 publish: a proposal, its units and its reply, if the proposer consented; personal data masked."""

from __future__ import annotations

from shared import clock
from shared.errors import BusinessError
from shared.rulebook import RuleNotFound
from shared.validation import load
from shared.contracts import messages
from shared.principal import acting_user

from shared.masking import mask_name, mask_text
from . import case_outcome
from .models import Proposal, Publication
from .records import by_id, names_masked, notify, proposers, record_event
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules
from .schemas import AnswerMergedParams, PublishFollowupParams, PublishParams

from .progress import IN_HANDLING

ANSWERED = (*IN_HANDLING, "merged")  # a merged proposal is answered too


def _mask(proposal: Proposal, data: dict, names: list[str]) -> dict:
    """The publication's texts masked of personal data and of ``names`` (``public.names_masked``)."""
    return {
        "number": proposal.number,
        "kind": proposal.kind,
        "title": mask_text(proposal.title, names),
        "situation": mask_text(proposal.situation, names),
        "analysis": mask_text(proposal.analysis, names),
        "suggestions": mask_text(proposal.suggestions, names),
        "proposers": [mask_name(name) for name in proposers(proposal)],
        "units": data["units"],
        "reply_category": data["reply_category"],
        "reply_summary": mask_text(data["reply_summary"], names),
        "followup_status": "pending" if data["followup_pending"] else None,
    }


def record_answer(uow: IntakeUnitOfWork, proposal: Proposal, actor: str, action: str, data: dict) -> None:
    """The history line of an answer published or declined for publication (``action``; ``data``
    with ``reply_category`` and ``units``), and the answer on the proposal itself: its category and
    lead unit (the first of ``units``), which the year's report counts."""
    record_event(uow, proposal, actor, action, data)
    proposal.reply_category = data["reply_category"]
    proposal.lead_unit = (data.get("units") or [None])[0]


def publish(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """Publish an answered proposal whose proposer consented; otherwise record why it is not.

    A category B reply is published at once with ``followup_status: pending`` (``followup_pending``);
    :func:`publish_followup` adds the follow-up reply when it arrives. Publishing again changes
    nothing. The texts are stored masked of personal data and of the proposers' user ids; the
    directory names of those who did not consent to being named are masked when the texts are read
    (``public``), so publishing asks the directory nothing. An unknown or disabled reply category is
    ``BusinessError("unknown_reply_category")``; a proposal not answered is ``not_publishable``.
    """
    data = load(PublishParams, params, "intake.publish parameters")
    proposal = by_id(uow, data["proposal_id"])
    actor = acting_user(principal)
    if proposal.status == "published":
        return {"published": True, "reason": None}
    if proposal.status not in ANSWERED:
        raise BusinessError(
            "not_publishable",
            f"proposal {proposal.number} is {proposal.status}; only a filed or merged proposal is published",
        )
    try:
        rules.reply_category(data["reply_category"])
    except RuleNotFound as exc:
        raise BusinessError("unknown_reply_category", str(exc)) from None
    if not proposal.publish_consent:
        record_answer(
            uow,
            proposal,
            actor,
            "publication_declined",
            {"reason": proposal.no_publish_reason, "units": data["units"], "reply_category": data["reply_category"]},
        )
        case_outcome.proposal_answered(uow, proposal, "answered", data["reply_category"])
        return {"published": False, "reason": proposal.no_publish_reason}
    if uow.proposals.publication_of(proposal) is None:
        uow.proposals.add_publication(
            Publication(
                proposal_id=proposal.id,
                published_at=clock.now(),
                **_mask(proposal, data, names_masked(proposal, {})),
            )
        )
    proposal.status = "published"
    record_answer(
        uow,
        proposal,
        actor,
        "published",
        {
            "units": data["units"],
            "reply_category": data["reply_category"],
            "followup_pending": data["followup_pending"],
        },
    )
    case_outcome.proposal_answered(uow, proposal, "published", data["reply_category"])
    notify(
        uow,
        proposal,
        proposers(proposal),
        f"您的提案 {proposal.number}《{proposal.title}》及其办理答复已公开（个人信息已隐去）。",
        kind="published",
    )
    uow.flush()
    return {"published": True, "reason": None}


def publish_followup(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """The follow-up reply of a category B answer arrived (job ``intake.publish_followup``): the
    published record says ``received``, with the reply masked and when. A proposal not published
    (its proposer declined) only records the follow-up in its history. Doing it again changes
    nothing. Returns ``{published, followup_status}``."""
    data = load(PublishFollowupParams, params, "intake.publish_followup parameters")
    proposal = by_id(uow, data["proposal_id"])
    row = uow.proposals.publication_of(proposal)
    if row is None:
        record_event(uow, proposal, acting_user(principal), "followup_received", {"published": False})
        return {"published": False, "followup_status": None}
    if row.followup_status != "received":
        row.followup_status, row.followup_received_at = "received", clock.now()
        row.followup_text = mask_text(data["text"], names_masked(proposal, {}))  # names: when read
        record_event(uow, proposal, acting_user(principal), "followup_published", {"text": row.followup_text})
        uow.flush()
    return {"published": True, "followup_status": row.followup_status}


def answer_merged(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """Tell every proposal merged into this one that it is answered (each still gets its answer):
    a ``merged_answered`` BPMN message per merged proposal, sent after this transaction commits."""
    data = load(AnswerMergedParams, params, "intake.answer_merged parameters")
    proposal = by_id(uow, data["proposal_id"])
    merged = uow.proposals.merged_into(proposal.number)
    for other in merged:
        uow.send_message(
            messages.MERGED_ANSWERED,
            other.number,
            f"merged-answered-{other.number}",
            {"main": proposal.number, "category": data["reply_category"], "summary": data["reply_summary"]},
        )
        record_event(
            uow,
            other,
            acting_user(principal),
            "answered_by_merge",
            {"main": proposal.number, "category": data["reply_category"]},
        )
        notify(
            uow,
            other,
            proposers(other),
            f"与您的提案 {other.number}《{other.title}》并案办理的提案 {proposal.number} 已答复，"
            f"答复类别 {data['reply_category']}，可在提案的“答复”中查看。",
            kind="merged_answered",
        )
    uow.flush()
    return {"answered": [other.number for other in merged]}
