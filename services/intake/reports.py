"""Figures for the documents the committee publishes about a year's proposals.

- the **year-end notice** of handling status (年度提案办理情况通报) is public: proposers' names masked;
- the **bulletin** to all members (书面通报) is internal: names shown, phone and identity numbers masked.

Both are counted here from intake's own records (proposals, filing decisions, conversions, merges and
the answer each proposal keeps beside its audit line of publication, ``publication.record_answer``);
the gateway renders them. Replies the proposer did not consent to publish are counted (their
category is recorded with the declined publication) but not listed.
"""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared.errors import Forbidden, InvalidInput
from shared.validation import load

from .access import PUBLIC, acting_user, reads_all
from .areas import count_areas
from shared.masking import mask_name, mask_text
from .models import Proposal
from .opinion_schemas import STATUS_ZH
from .public import directory_names, named_proposers, names_masked
from .records import proposers
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules

AUDIENCES = ("public", "members")
# The committee's filing decisions that settle a proposal's filing (``returned`` does not: the
# proposal comes back revised for one).
DECIDED = ("filed", "not_filed", "merged")


MAX_PER_PAGE = 1000


class ReportQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PER_PAGE))


def _answers(uow: IntakeUnitOfWork, proposal_ids: list[int]) -> dict[int, dict]:
    """The reply category and units of each answered proposal of ``proposal_ids``, from its last
    publication event."""
    answers = {}
    for proposal_id, data in uow.proposals.answers_of(proposal_ids):
        data = data or {}
        if data.get("reply_category"):
            answers[proposal_id] = {"category": data["reply_category"], "units": data.get("units") or []}
    return answers


def _check_reader(principal: dict | None, audience: str) -> str:
    """Staff, the committee and leaders prepare both reports; the public reads the public one."""
    user, roles = acting_user(principal)
    if audience not in AUDIENCES:
        raise InvalidInput("unknown audience", {"audience": [f"one of: {', '.join(AUDIENCES)}"]})
    if not reads_all(roles) and not (audience == "public" and PUBLIC in roles):
        raise Forbidden("the year's reports are prepared by staff, the committee and leaders")
    return user


def year_figures(
    uow: IntakeUnitOfWork,
    rules: IntakeRules,
    year: int,
    audience: str,
    principal: dict | None,
    member_names=None,
    query: dict | None = None,
) -> dict:
    """Counts and lists for ``year``'s report to ``audience`` (public | members). In the public
    notice a proposer who consented to being named is named (``member_names``: users -> the members
    directory's names), any other masked; the bulletin to members names every proposer by the
    directory's name (their user id if the directory lacks them).

    The counts are the whole year's, counted by the database; ``proposals`` is one page of the
    listing (``query``: ``page`` from 1, ``per_page`` 1-1000, default 100; by number), ``listed``
    how many the listing holds on every page: the public notice lists the published proposals,
    the bulletin every proposal of the year. A printed report asks for every page."""
    user = _check_reader(principal, audience)
    data = load(ReportQuery, query or {}, "the query")
    member_names = member_names or (lambda users: {})
    counts = uow.proposals.year_counts(year)  # the answers' categories and lead units among them
    decisions, categories, units = counts["decisions"], counts["categories"], counts["lead_units"]
    cancelled = counts["cancelled"]
    listed_total, proposals = uow.proposals.year_page(
        year, audience == "public", (data["page"] - 1) * data["per_page"], data["per_page"]
    )
    answers = _answers(uow, [p.id for p in proposals]) if audience != "public" else {}
    published = {row.proposal_id: row for row in uow.proposals.publications_of([p.id for p in proposals])}

    known = directory_names(proposals, member_names)

    def listed(p: Proposal) -> dict:
        names = proposers(p)
        if audience == "public":
            row = published[p.id]
            # Masked again: a row published before masking learned a form of number is masked
            # today, and of the names of the proposers who did not consent to being named.
            hidden = names_masked(p, known)
            return {
                "number": p.number,
                "title": mask_text(row.title, hidden),
                "proposers": [who["name"] for who in named_proposers(p, known)],
                "units": row.units,
                "category": row.reply_category,
                "reply_summary": mask_text(row.reply_summary, hidden),
            }
        answer = answers.get(p.id, {})
        return {
            "number": p.number,
            "title": mask_text(p.title),
            "proposers": [known.get(user, user) for user in names],
            "units": answer.get("units", []),
            "category": answer.get("category"),
            "status": p.status,
            "published": p.id in published,
        }

    reasons = counts["not_filed_reasons"]
    conversions = counts["conversions"]
    return {
        "year": year,
        "audience": audience,
        "prepared_by": user,
        "received": counts["received"],
        "filed": decisions.get("filed", 0),
        "merged": counts["merged"],
        "not_filed": decisions.get("not_filed", 0),
        "not_filed_reasons": [
            {"code": code, "label": rules.not_filed_reason(code).zh, "count": n} for code, n in sorted(reasons.items())
        ],
        "converted": {"opinion": conversions.get("opinion", 0), "letter": conversions.get("letter", 0)},
        # Waiting for the committee's filing decision: none yet, or returned for revision (it comes
        # back for one). Merged is a decision (counted under ``merged``); cancelled before the
        # committee decided (its process cancelled by an operator) waits for none any more.
        # ``cancelled``: every proposal of the year whose process was cancelled.
        "undecided": sum(n for d, n in decisions.items() if d not in DECIDED)
        - sum(n for d, n in cancelled.items() if d not in DECIDED),
        "cancelled": sum(cancelled.values()),
        "answered": counts["answered"],
        "categories": [
            {"code": c.code, "label": c.zh, "count": categories.get(c.code, 0)} for c in rules.reply_categories()
        ],
        "lead_units": [{"unit": u, "count": n} for u, n in sorted(units.items())],
        "areas": count_areas(uow, rules, year, counts["areas"]),
        "proposals": [listed(p) for p in proposals],
        "page": data["page"],
        "per_page": data["per_page"],
        "listed": listed_total.total,
        "personal_data": "masked" if audience == "public" else "names shown; phone and identity numbers masked",
    }


def adopted_opinions(
    uow: IntakeUnitOfWork, rules: IntakeRules, year: int, audience: str, principal: dict | None
) -> dict:
    """The year's opinion items adopted by at least one recipient, with the issues they were
    reported in and the leaders' instructions; for the public only adoptions marked publishable,
    and only the instructions given on those (one on an adoption not publishable stays internal).
    In the public list submitters are masked; in the
    members' list members are named and informants (who are not committee members) stay masked.

    An adoption is a fact of the issue that carried it: an item whose process an operator cancelled
    later stays listed, with its ``status`` (``cancelled``, 已撤销) as every item has it, and is
    counted apart (``cancelled``) so the list does not show it as still in hand."""
    user = _check_reader(principal, audience)
    channel_names = {c.code: {"zh": c.zh, "en": c.en} for c in rules.opinion_rulebook().rules["channels"]}
    # The public sees only adoptions marked publishable when recorded.
    adopted = uow.opinions.adopted_reports_of_year(year, publishable_only=audience == "public")
    ids = sorted({r.item_id for r in adopted})
    items = {i.id: i for i in uow.opinions.items(ids)}
    instructions = uow.opinions.instructions_of(ids)
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
                "status": item.status,
                "status_zh": STATUS_ZH.get(item.status, item.status),
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
                    {
                        "level": i.level,
                        "leader": mask_text(i.leader, names),  # a name staff typed: it may carry a number
                        "channel": i.channel,
                        "text": mask_text(i.text, names),
                    }
                    for i in instructions
                    if i.item_id == item_id
                    # the public reads the instructions of the adoptions it may read, no other
                    and (audience != "public" or i.channel in {r.channel for r in adopted if r.item_id == item_id})
                ],
            }
        )
    return {
        "year": year,
        "audience": audience,
        "prepared_by": user,
        "adopted": len(listed),
        "instructed": sum(1 for row in listed if row["instructions"]),
        "cancelled": sum(1 for row in listed if row["status"] == "cancelled"),
        "items": listed,
        "personal_data": "submitters masked"
        if audience == "public"
        else "members named; informants masked; phone and identity numbers masked",
    }
