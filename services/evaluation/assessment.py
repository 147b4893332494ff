"""The units' annual assessment (目标考核), computed from handling scores and ratings, never typed.

For each unit with handling scores in the year: the proposals it answered (单办, each unit of 分办,
the lead of 主办) and their average checklist score, the proposals it helped as a co-unit (协办) and
their average co-unit checklist score, the share of its work done on time (an answering unit's
reply, a co-unit's input to the lead; a reply or input overdue and not yet done counts as not on
time, from supervision's deadlines), the share of its replies after a face-to-face meeting with
the proposer (见面沟通率; facts of each score, as the diagram passed them on from the unit's own
reply), and the proposers' satisfaction with the handling work and with the result, counted over
the final rating round of each proposal it answered
(the newest round that closed with every proposer's rating; a superseded round does not count).
A co-unit does not answer, so the ratings of the lead's reply are not its.

Each unit's 目标考核 score weighs three components by the rulebook's ``unit_assessment``: its
checklist points as a share of the most its checklists give (each score on its own checklist, so
a co-unit's work counts at its own scale), the on-time share, and the ratings (both scores of
every rating given, each level at its share in the checklist's result rules). A component without
data (a unit nobody rated, such as a unit that was only a co-unit) is left out and the others
count in proportion.
Units are ranked by score, equal scores sharing a rank (1, 2, 2, 4). ``export`` writes the ranked
table as CSV or XLSX.
"""

from __future__ import annotations

import base64
import csv
import io
from collections import defaultdict
from collections.abc import Callable, Mapping
from fractions import Fraction

from marshmallow import Schema, validate

from shared.contracts import field_types as fields
from shared.errors import InvalidInput
from shared.validation import load

from .access import principal_of, require_overseer
from .checklist import points
from .ratings import NOT_GIVEN, SCORES, given
from .rules import EvaluationRules
from .unit_of_work import EvaluationUnitOfWork

# appealable: a re-handled reply rated 不满意; upheld: its appeal decided for the handling (the rating stays).
FINAL_OUTCOMES = ("accepted", "rehandle", "appealable", "upheld")


class AssessmentInput(Schema):
    # The years every other year of the API takes (the path converter, the public routes): a year
    # outside them is 404 at the gateway, so a year inside answers the same everywhere.
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=1900, max=2999))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _final_ratings(uow: EvaluationUnitOfWork, numbers) -> dict:
    rounds = uow.ratings.final_rounds(numbers, FINAL_OUTCOMES)
    final = {r.number: r for r in rounds}  # ordered by round: the newest wins
    return {number: list(r.ratings) for number, r in final.items()}


def _satisfaction(all_ratings, levels) -> dict:
    """Shares of each level among the ratings given; ``not_given`` counts the proposers silent
    when their round's rating window ended, who are in no share."""
    ratings = given(all_ratings)
    shares = {
        score: {level: _rate(sum(getattr(r, score) == level for r in ratings), len(ratings)) for level in levels}
        for score in SCORES
    }
    return {"ratings": len(ratings), "not_given": sum(r.handling == NOT_GIVEN for r in all_ratings), **shares}


def _on_time(row) -> bool:
    """An answering unit replied on time; a co-unit sent its input to the lead on time."""
    return row.facts.get("input") == "on_time" if row.role == "co" else bool(row.facts.get("replied_on_time"))


def _most(row) -> Fraction:
    """The most the row's checklist gives: its items' maxima, as scored."""
    return sum((Fraction(str(item["max"])) for item in row.items), Fraction(0))


def _average(rows) -> float | None:
    return points(sum(row.total for row in rows) / len(rows)) if rows else None


def unit_assessment(
    uow: EvaluationUnitOfWork,
    rules: EvaluationRules,
    year,
    principal,
    overdue: Callable[[int], Mapping[str, list]] | None = None,
) -> dict:
    """``{year, units: [{unit, proposals_handled, average_handling_score, proposals_assisted,
    average_co_unit_score, on_time_rate, face_to_face_rate, overdue_not_done, satisfaction:
    {ratings, handling: {level: share}, result: {level: share}}, score, rank}]}``, by unit. A
    figure without data is None (a unit that was only a co-unit has no average handling score nor
    face-to-face rate).

    ``overdue(year)``: the year's replies and co-unit inputs overdue now and not done, by unit
    (supervision's ``overdue_in_year``). Each counts in the unit's on-time share as work not done
    on time (``overdue_not_done`` says how many), so a unit that has not answered is not ranked
    above one that answered late; a unit that owes only overdue work is listed with it."""
    caller = principal_of(principal)
    require_overseer(caller, "the units' assessment")
    data = load(AssessmentInput, {"year": year}, "the assessment year")
    levels = [level.code for level in rules.satisfaction_levels()]
    scores = uow.scores.handling_scores_in(data["year"])
    owed = overdue(data["year"]) if overdue is not None else {}
    ratings = _final_ratings(uow, sorted({s.number for s in scores}))
    by_unit: dict[str, list] = defaultdict(list)
    for row in scores:
        by_unit[row.unit].append(row)
    units = []
    for unit in sorted(by_unit.keys() | owed.keys()):
        rows = by_unit.get(unit, [])
        missed = len(owed.get(unit, ()))
        answered = [row for row in rows if row.role != "co"]
        assisted = [row for row in rows if row.role == "co"]
        rated = [r for row in answered for r in ratings.get(row.number, [])]
        entry = {
            "unit": unit,
            "proposals_handled": len(answered),
            "average_handling_score": _average(answered),
            "proposals_assisted": len(assisted),
            "average_co_unit_score": _average(assisted),
            "on_time_rate": _rate(sum(_on_time(row) for row in rows), len(rows) + missed),
            "overdue_not_done": missed,
            # 见面沟通率: replies after a face-to-face meeting with the proposer, a fact of each score
            "face_to_face_rate": _rate(sum(bool(row.facts.get("face_to_face")) for row in answered), len(answered)),
            "satisfaction": _satisfaction(rated, levels),
        }
        entry["score"] = _score(rows, given(rated), rules, missed)
        units.append(entry)
    _rank(units)
    setting = rules.unit_assessment()
    return {
        "year": data["year"],
        "units": units,
        "scale": setting["scale"],
        "weights": {name: float(weight) for name, weight in setting["weights"].items()},
        "rulebook_version": rules.version,
    }


def _score(rows, ratings, rules: EvaluationRules, missed: int = 0) -> float:
    """The 目标考核 score; ``missed``: the unit's overdue work not done, each not on time."""
    setting = rules.unit_assessment()
    level_shares = rules.handling_checklist_rules()["result"]["levels"]
    components = {"on_time": Fraction(sum(_on_time(row) for row in rows), len(rows) + missed)}
    if rows:  # a unit that owes only overdue work has no checklist scored yet
        components["handling"] = sum(Fraction(str(row.total)) for row in rows) / sum(_most(row) for row in rows)
    if ratings:
        shares = [level_shares[getattr(r, score)] for r in ratings for score in SCORES]
        components["satisfaction"] = sum(shares, Fraction(0)) / len(shares)
    weights = setting["weights"]
    weighed = sum(weights[name] * value for name, value in components.items())
    return points(setting["scale"] * weighed / sum(weights[name] for name in components))


def _rank(units) -> None:
    """Set each unit's ``rank``: by score, highest first; equal scores share a rank."""
    ordered = sorted(units, key=lambda u: -u["score"])
    for place, unit in enumerate(ordered, start=1):
        same = [u for u in ordered[: place - 1] if u["score"] == unit["score"]]
        unit["rank"] = same[0]["rank"] if same else place


EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COLUMNS = (
    ("rank", "排名 Rank"),
    ("unit", "承办单位 Unit"),
    ("proposals_handled", "办理件数 Proposals"),
    ("average_handling_score", "办理评分 Handling score"),
    ("proposals_assisted", "协办件数 As co-unit"),
    ("average_co_unit_score", "协办评分 Co-unit score"),
    ("on_time_rate", "按时率 On time"),
    ("overdue_not_done", "逾期未办 Overdue, not done"),
    ("face_to_face_rate", "见面率 Face to face"),
    ("satisfied_rate", "满意率 Satisfied"),
    ("not_given", "未评价 Not rated"),
    ("score", "考核得分 Score"),
)


def ranking(uow: EvaluationUnitOfWork, rules: EvaluationRules, year, principal, overdue=None) -> dict:
    """The assessment with the units in rank order (RPC ``unit_ranking``)."""
    table = unit_assessment(uow, rules, year, principal, overdue)
    table["units"].sort(key=lambda u: (u["rank"], u["unit"]))
    return table


def _rows(table):
    for u in table["units"]:
        result = u["satisfaction"]["result"]
        yield {
            "rank": u["rank"],
            "unit": u["unit"],
            "proposals_handled": u["proposals_handled"],
            "average_handling_score": u["average_handling_score"],
            "proposals_assisted": u["proposals_assisted"],
            "average_co_unit_score": u["average_co_unit_score"],
            "on_time_rate": u["on_time_rate"],
            "overdue_not_done": u["overdue_not_done"],
            "face_to_face_rate": u["face_to_face_rate"],
            "satisfied_rate": result.get("satisfied"),
            "not_given": u["satisfaction"]["not_given"],
            "score": u["score"],
        }


def export(uow: EvaluationUnitOfWork, rules: EvaluationRules, year, fmt, principal, overdue=None) -> dict:
    """The ranked assessment as a file (RPC ``export_unit_assessment``): ``{filename, content_type,
    content_base64}``; ``fmt`` is ``csv`` or ``xlsx``."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput("the export format", {"format": [f"one of: {', '.join(EXPORT_FORMATS)}"]})
    table = ranking(uow, rules, year, principal, overdue)
    rows = list(_rows(table))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([title for _, title in COLUMNS])
        writer.writerows([["" if row[key] is None else row[key] for key, _ in COLUMNS] for row in rows])
        content = ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM lets spreadsheet programs read UTF-8
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = f"{table['year']} 目标考核"
        sheet.append([title for _, title in COLUMNS])
        for row in rows:
            sheet.append([row[key] for key, _ in COLUMNS])
        sheet.append([])
        weights = ", ".join(f"{name} {weight:g}" for name, weight in table["weights"].items())
        sheet.append([f"rulebook proposal {table['rulebook_version']}: scale {table['scale']}, weights {weights}"])
        buffer = io.BytesIO()
        book.save(buffer)
        content = buffer.getvalue()
    return {
        "filename": f"unit-assessment-{table['year']}.{fmt}",
        "content_type": EXPORT_FORMATS[fmt],
        "content_base64": base64.b64encode(content).decode("ascii"),
    }
