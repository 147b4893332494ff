"""The 1533 model's five areas (经济, 政治, 文化, 社会, 生态文明) classifying proposals and opinion
items: the codes are the proposal rulebook's ``areas``, one list for both. The member may give the
area at submission; staff set or change it (at filing, or later with :func:`set_area`). The year's
figures by area (:func:`area_figures`) are in ``GET /api/reports/areas`` and the year-end reports."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from shared.contracts.rpc.proposals import AreaInput
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.rulebook import load_rulebook
from shared.validation import load

from .access import acting_user, reads_all
from .models import OpinionItem, OpinionReport, Proposal
from .opinion_records import record
from .records import record_event

STAFF = "staff"


def check_area(code: str | None, what: str, rulebook=None) -> None:
    """``code`` is one of the rulebook's areas, or none (not classified yet)."""
    if code is None:
        return
    codes = [area.code for area in (rulebook or load_rulebook("proposal")).areas()]
    if code not in codes:
        raise InvalidInput(
            f"{what} is not valid", {"area": [f"not an area of the rulebook; one of: {', '.join(codes)}"]}
        )


def set_area(session, kind: str, number: str, body: dict, principal: dict | None) -> dict:
    """Staff set or change the area of a proposal (``kind`` proposal) or an opinion item (opinion),
    recorded in its history with the old and the new area."""
    user, roles = acting_user(principal)
    if STAFF not in roles:
        raise Forbidden("staff classify proposals and opinion items")
    area = load(AreaInput, body, "the area")["area"]
    check_area(area, "the area")
    if kind == "proposal":
        row = session.scalar(select(Proposal).where(Proposal.number == number).with_for_update())
    else:
        row = session.scalar(select(OpinionItem).where(OpinionItem.number == number).with_for_update())
    if row is None:
        raise NotFound(f"no {'proposal' if kind == 'proposal' else 'opinion item'} {number}")
    before, row.area = row.area, area
    change = {"area": area, "was": before}
    if kind == "proposal":
        record_event(session, row, user, "area_set", change)
    else:
        record(session, row, user, "area_set", change)
    session.flush()
    return {"number": number, "area": area, "was": before}


def area_figures(session, year: int, principal: dict | None) -> dict:
    """For staff, the committee and leaders: the year's proposals (received; filed) and opinion items (submitted; adopted by a recipient)
    per area, in the rulebook's order, and those with no area (``unclassified``)."""
    _, roles = acting_user(principal)
    if not reads_all(roles):
        raise Forbidden("the year's figures by area are for staff, the committee and leaders")
    return count_areas(session, year)


def count_areas(session, year: int) -> dict:
    """:func:`area_figures` without asking who reads them (counts only: for the year-end reports)."""
    proposals = session.execute(
        select(Proposal.area, Proposal.decision).where(Proposal.year == int(year), Proposal.status != "dropped")
    ).all()
    items = session.execute(
        select(OpinionItem.id, OpinionItem.area).where(
            OpinionItem.year == int(year), OpinionItem.submitted_at.is_not(None)
        )
    ).all()
    adopted_ids = (
        set(
            session.scalars(
                select(OpinionReport.item_id).where(
                    OpinionReport.adoption == "adopted", OpinionReport.item_id.in_([i.id for i in items])
                )
            )
        )
        if items
        else set()
    )
    received, filed = Counter(a for a, _ in proposals), Counter(a for a, d in proposals if d == "filed")
    opinions, adopted = Counter(i.area for i in items), Counter(i.area for i in items if i.id in adopted_ids)

    def figure(code, label, en):
        return {
            "code": code,
            "label": label,
            "en": en,
            "proposals": received.get(code, 0),
            "filed": filed.get(code, 0),
            "opinions": opinions.get(code, 0),
            "adopted": adopted.get(code, 0),
        }

    return {
        "year": int(year),
        "areas": [figure(a.code, a.zh, a.en) for a in load_rulebook("proposal").areas()],
        "unclassified": figure(None, "未分类", "Not classified"),
    }
