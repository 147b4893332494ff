"""Figures for the documents the committee publishes about a year's proposals.

- the **year-end notice** of handling status (年度提案办理情况通报) is public: proposers' names masked;
- the **bulletin** to all members (书面通报) is internal: names shown, phone and identity numbers masked.

Both are counted here from intake's own records (proposals, filing decisions, conversions, merges and
the audit events of publication); the gateway renders them. Replies the proposer did not consent to
publish are counted (their category is recorded with the declined publication) but not listed.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shared.errors import Forbidden, InvalidInput
from shared.rulebook import load_rulebook

from .access import PUBLIC, acting_user, reads_all
from .areas import count_areas
from shared.masking import mask_name, mask_text
from .models import Conversion, Proposal, ProposalEvent, Publication
from .public import named_proposers
from .records import proposers

AUDIENCES = ("public", "members")
_ANSWER_ACTIONS = ("published", "publication_declined")


def _of_year(year: int) -> tuple:
    """The proposals a year's report counts, as conditions on ``Proposal``."""
    return (Proposal.year == year, Proposal.status != "dropped")


def _answers(session, year: int) -> dict[int, dict]:
    """The reply category and units of each answered proposal of ``year``, from the last
    publication event. Joined on the year (proposals' year index, then each proposal's events by
    ``ix_proposal_events_proposal_id``), not an IN list of every id of the year."""
    rows = session.scalars(
        select(ProposalEvent)
        .join(Proposal, Proposal.id == ProposalEvent.proposal_id)
        .where(*_of_year(year), ProposalEvent.action.in_(_ANSWER_ACTIONS))
        .order_by(ProposalEvent.id)
    ).all()
    answers = {}
    for row in rows:
        data = row.data or {}
        if data.get("reply_category"):
            answers[row.proposal_id] = {"category": data["reply_category"], "units": data.get("units") or []}
    return answers


def _check_reader(principal: dict | None, audience: str) -> str:
    """Staff, the committee and leaders prepare both reports; the public reads the public one."""
    user, roles = acting_user(principal)
    if audience not in AUDIENCES:
        raise InvalidInput("unknown audience", {"audience": [f"one of: {', '.join(AUDIENCES)}"]})
    if not reads_all(roles) and not (audience == "public" and PUBLIC in roles):
        raise Forbidden("the year's reports are prepared by staff, the committee and leaders")
    return user


def year_figures(session, year: int, audience: str, principal: dict | None, member_names=None) -> dict:
    """Counts and lists for ``year``'s report to ``audience`` (public | members). In the public
    notice a proposer who consented to being named is named (``member_names``: users -> the members
    directory's names), any other masked."""
    user = _check_reader(principal, audience)
    member_names = member_names or (lambda users: {})
    rulebook = load_rulebook("proposal")
    proposals = session.scalars(
        select(Proposal)
        .where(*_of_year(year))
        .options(selectinload(Proposal.cosigners))  # not one query per proposal
        .order_by(Proposal.sequence)
    ).all()
    answers = _answers(session, year)
    conversions = Counter(
        session.scalars(
            select(Conversion.kind).join(Proposal, Proposal.id == Conversion.proposal_id).where(*_of_year(year))
        ).all()
    )
    decisions = Counter(p.decision or "undecided" for p in proposals)
    reasons = Counter(p.reason_code for p in proposals if p.decision == "not_filed" and p.reason_code)
    categories = Counter(a["category"] for a in answers.values())
    units = Counter(a["units"][0] for a in answers.values() if a["units"])
    published = {
        row.proposal_id: row
        for row in session.scalars(
            select(Publication).join(Proposal, Proposal.id == Publication.proposal_id).where(*_of_year(year))
        ).all()
    }

    def listed(p: Proposal) -> dict:
        names = proposers(p)
        if audience == "public":
            row = published[p.id]
            # Masked again: a row published before masking learned a form of number is masked today.
            shown_names = [who["name"] for who in named_proposers(p, member_names)]
            return {
                "number": p.number,
                "title": mask_text(row.title, names),
                "proposers": shown_names,
                "units": row.units,
                "category": row.reply_category,
                "reply_summary": mask_text(row.reply_summary, names),
            }
        answer = answers.get(p.id, {})
        return {
            "number": p.number,
            "title": mask_text(p.title),
            "proposers": names,
            "units": answer.get("units", []),
            "category": answer.get("category"),
            "status": p.status,
            "published": p.id in published,
        }

    shown = [p for p in proposals if (p.id in published if audience == "public" else True)]
    return {
        "year": year,
        "audience": audience,
        "prepared_by": user,
        "received": len(proposals),
        "filed": decisions.get("filed", 0),
        "merged": sum(1 for p in proposals if p.merged_into),
        "not_filed": decisions.get("not_filed", 0),
        "not_filed_reasons": [
            {"code": code, "label": rulebook.reason(code).zh, "count": n} for code, n in sorted(reasons.items())
        ],
        "converted": {"opinion": conversions.get("opinion", 0), "letter": conversions.get("letter", 0)},
        "undecided": sum(n for d, n in decisions.items() if d not in ("filed", "not_filed")),
        "answered": len(answers),
        "categories": [
            {"code": c.code, "label": c.zh, "count": categories.get(c.code, 0)} for c in rulebook.reply_categories()
        ],
        "lead_units": [{"unit": u, "count": n} for u, n in sorted(units.items())],
        "areas": count_areas(session, year),
        "proposals": [listed(p) for p in shown],
        "personal_data": "masked" if audience == "public" else "names shown; phone and identity numbers masked",
    }


def adopted_opinions(session, year: int, audience: str, principal: dict | None) -> dict:
    """The year's opinion items adopted by at least one recipient, with the issues they were
    reported in and the leaders' instructions; for the public only adoptions marked publishable. In the public list submitters are masked; in the
    members' list members are named and informants (who are not committee members) stay masked."""
    from .models import OpinionInstruction, OpinionItem, OpinionReport
    from .opinion_rules import load_opinion_rules

    user = _check_reader(principal, audience)
    channel_names = {c.code: {"zh": c.zh, "en": c.en} for c in load_opinion_rules().rules["channels"]}
    query = (
        select(OpinionReport)
        .join(OpinionItem, OpinionItem.id == OpinionReport.item_id)
        .where(OpinionItem.year == year, OpinionReport.adoption == "adopted")
    )
    if audience == "public":  # the public sees only adoptions marked publishable when recorded
        query = query.where(OpinionReport.publishable.is_(True))
    adopted = session.scalars(query.order_by(OpinionItem.sequence, OpinionReport.channel)).all()
    ids = sorted({r.item_id for r in adopted})
    items = {i.id: i for i in session.scalars(select(OpinionItem).where(OpinionItem.id.in_(ids))).all()} if ids else {}
    instructions = (
        session.scalars(
            select(OpinionInstruction).where(OpinionInstruction.item_id.in_(ids)).order_by(OpinionInstruction.id)
        ).all()
        if ids
        else []
    )
    listed = []
    for item_id in sorted(ids, key=lambda i: items[i].sequence):
        item = items[item_id]
        named = audience == "members" and item.submitter_role == "member"
        names = [item.submitter]
        listed.append(
            {
                "number": item.number,
                "thread": item.thread,
                "title": mask_text(item.title, names),
                "submitter": item.submitter if named else mask_name(item.submitter),
                "adopted_by": [
                    {
                        "channel": r.channel,
                        "channel_name": channel_names.get(r.channel, {}).get("zh", r.channel),
                        "channel_name_en": channel_names.get(r.channel, {}).get("en", r.channel),
                        "issue": r.issue.number,
                    }
                    for r in adopted
                    if r.item_id == item_id
                ],
                "instructions": [
                    {"level": i.level, "leader": i.leader, "channel": i.channel, "text": mask_text(i.text, names)}
                    for i in instructions
                    if i.item_id == item_id
                ],
            }
        )
    return {
        "year": year,
        "audience": audience,
        "prepared_by": user,
        "adopted": len(listed),
        "instructed": sum(1 for row in listed if row["instructions"]),
        "items": listed,
        "personal_data": "submitters masked"
        if audience == "public"
        else "members named; informants masked; phone and identity numbers masked",
    }
