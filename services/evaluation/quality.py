"""Proposal quality (提案质量) on the 1533 model's three standards (服务中心有为、建言资政有力、凝聚共识有效).

The committee ticks the items of the rulebook's ``quality_checklist`` a proposal meets; each item
earns its points, and the grade is the first of ``quality_checklist.grades`` (highest first) whose
minimum the points reach. The checklist is stored with the grade, each standard with its points.
A grade given directly (the input before the checklist, kept for tasks and clients that send it) is
stored with no checklist."""

from __future__ import annotations

from shared.errors import InvalidInput, NotFound

from .access import principal_of, require_overseer
from .rules import EvaluationRules
from .unit_of_work import EvaluationUnitOfWork


def score_checklist(rulebook, ticked: list[str]) -> dict:
    """``{grade, points, total, standards: [{code, zh, en, points, max, items: [{code, zh, en, points, met}]}]}``
    for the ``ticked`` item codes; an unknown or repeated code is refused."""
    known = {item.code for standard in rulebook.quality_standards() for item in standard["items"]}
    unknown = sorted(set(ticked) - known)
    if unknown or len(set(ticked)) != len(ticked):
        problem = (
            f"not items of the rulebook's quality checklist: {', '.join(unknown)}" if unknown else "each item once"
        )
        raise InvalidInput("the quality checklist is not valid", {"quality_checklist": [problem]})
    standards = []
    for standard in rulebook.quality_standards():
        label = standard["label"]
        items = [
            {
                "code": item.code,
                "zh": item.zh,
                "en": item.en,
                "met": item.code in ticked,
                "points": item.points if item.code in ticked else 0,
                "max": item.points,
            }
            for item in standard["items"]
        ]
        standards.append(
            {
                "code": label.code,
                "zh": label.zh,
                "en": label.en,
                "items": items,
                "points": sum(i["points"] for i in items),
                "max": sum(i["max"] for i in items),
            }
        )
    points = sum(s["points"] for s in standards)
    return {
        "grade": rulebook.quality_grade_for(points),
        "points": points,
        "total": rulebook.quality_checklist_total(),
        "standards": standards,
    }


def grade_of(uow: EvaluationUnitOfWork, rules: EvaluationRules, number: str, principal) -> dict:
    """A proposal's quality grade with its checklist, for staff, the committee and leaders."""
    require_overseer(principal_of(principal), "a proposal's quality grade")
    row = uow.scores.quality_grade(number)
    if row is None:
        raise NotFound(f"proposal {number} has no quality grade yet")
    labels = {grade.code: grade for grade in rules.quality_grades()}
    label = labels.get(row.grade)
    return {
        "number": row.number,
        "grade": row.grade,
        "grade_zh": label.zh if label else row.grade,
        "graded_by": row.graded_by,
        "graded_at": row.graded_at.isoformat(),
        "points": row.points,
        "checklist": row.checklist,
    }
