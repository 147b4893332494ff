"""The 1533 model's five areas (经济, 政治, 文化, 社会, 生态文明) classifying proposals and opinion
items: the codes are the proposal rulebook's ``areas``, one list for both. The member may give the
area at submission; staff set or change it (at filing, or later with :func:`set_area`). The year's
figures by area (:func:`area_figures`) are in ``GET /api/reports/areas`` and the year-end reports."""

from __future__ import annotations

from collections import Counter

from shared.contracts.rpc.proposals import AreaInput
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.validation import load

from .access import acting_user, reads_all
from .opinion_records import record, refuse_if_cancelled
from .records import record_event
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules

STAFF = "staff"


def check_area(rules: IntakeRules, code: str | None, what: str) -> None:
    """``code`` is one of the rulebook's areas, or none (not classified yet)."""
    if code is None:
        return
    codes = [area.code for area in rules.areas()]
    if code not in codes:
        raise InvalidInput(
            f"{what} is not valid", {"area": [f"not an area of the rulebook; one of: {', '.join(codes)}"]}
        )


def set_area(
    uow: IntakeUnitOfWork, rules: IntakeRules, kind: str, number: str, body: dict, principal: dict | None
) -> dict:
    """Staff set or change the area of a proposal (``kind`` proposal) or an opinion item (opinion),
    recorded in its history with the old and the new area."""
    user, roles = acting_user(principal)
    if STAFF not in roles:
        raise Forbidden("staff classify proposals and opinion items")
    area = load(AreaInput, body, "the area")["area"]
    check_area(rules, area, "the area")
    row = (uow.proposals if kind == "proposal" else uow.opinions).by_number(number, lock=True)
    if row is None:
        raise NotFound(f"no {'proposal' if kind == 'proposal' else 'opinion item'} {number}")
    if kind != "proposal":
        refuse_if_cancelled(uow, row, "area changes")  # type: ignore[arg-type]
    before, row.area = row.area, area
    change = {"area": area, "was": before}
    if kind == "proposal":
        record_event(uow, row, user, "area_set", change)  # type: ignore[arg-type]
    else:
        record(uow, row, user, "area_set", change)  # type: ignore[arg-type]
    uow.flush()
    return {"number": number, "area": area, "was": before}


def area_figures(uow: IntakeUnitOfWork, rules: IntakeRules, year: int, principal: dict | None) -> dict:
    """For staff, the committee and leaders: the year's proposals (received; filed) and opinion items (submitted; adopted by a recipient)
    per area, in the rulebook's order, and those with no area (``unclassified``)."""
    _, roles = acting_user(principal)
    if not reads_all(roles):
        raise Forbidden("the year's figures by area are for staff, the committee and leaders")
    return count_areas(uow, rules, year, uow.proposals.area_decisions(int(year)))


def count_areas(
    uow: IntakeUnitOfWork, rules: IntakeRules, year: int, proposals: dict[tuple[str | None, str | None], int]
) -> dict:
    """:func:`area_figures` without asking who reads them (counts only: for the year-end reports),
    from ``proposals``, the year's ``(area, decision)`` counts (``area_decisions``, or the year's
    report's ``year_counts``)."""
    items = uow.opinions.submitted_areas(int(year))
    adopted_ids = uow.opinions.adopted_among([item_id for item_id, _ in items])
    received, filed = Counter(), Counter()
    for (area, decision), n in proposals.items():
        received[area] += n
        if decision == "filed":
            filed[area] += n
    opinions, adopted = Counter(a for _, a in items), Counter(a for i, a in items if i in adopted_ids)

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
        "areas": [figure(a.code, a.zh, a.en) for a in rules.areas()],
        "unclassified": figure(None, "未分类", "Not classified"),
    }
