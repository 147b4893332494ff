"""The handling checklist (办理工作评分表): how well a unit handled one proposal, scored from facts.

The items and the points each is worth come from the rulebook's ``handling_checklist``. The rules
below decide what share of an item's points the facts earn, one rule per item, and every scored
item carries the sentence of the rule that gave its points, so a unit can check its score line by
line. The facts come from the process events (signing, meetings, reply, extensions, re-handling,
category, ratings), never from a person's hand.

The shares are defaults of ours; domain.md gives none. They belong in the rulebook next to the
points (a ``rules`` entry per checklist item) once its schema allows it.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from shared.rulebook import RuleNotFound

LATE_SIGNING_SHARE = Fraction(1, 2)
REHANDLING_DEDUCTION = Fraction(1, 4)      # of procedure, per round of re-handling
EXTENSION_DEDUCTION = Fraction(1, 4)       # of timeliness, per approved extension
ON_TIME_FLOOR = Fraction(1, 2)             # an on-time reply keeps at least this share
CATEGORY_SHARE = {"A": Fraction(1), "B": Fraction(3, 4), "C": Fraction(1, 2), "D": Fraction(1, 4)}
LEVEL_SHARE = {"satisfied": Fraction(1), "basically_satisfied": Fraction(1, 2),
               "unsatisfied": Fraction(0)}


def _share(value: Fraction) -> str:
    return str(value) if value.denominator != 1 else str(value.numerator)


def _rule(table: dict, code: str, what: str) -> Fraction:
    if code not in table:
        raise RuleNotFound(f"no share of the result is set for {what} {code!r}; known: {', '.join(table)}")
    return table[code]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def organisation(facts):
    if facts["signed_on_time"]:
        return Fraction(1), "signed for the assignment within the sign-for limit: all points"
    return LATE_SIGNING_SHARE, (f"signed for the assignment late: {_share(LATE_SIGNING_SHARE)} "
                                f"of the points")


def procedure(facts):
    rounds = facts["rehandling_rounds"]
    if rounds == 0:
        return Fraction(1), "the first reply was accepted, no re-handling: all points"
    share = max(Fraction(0), 1 - REHANDLING_DEDUCTION * rounds)
    return share, (f"{_plural(rounds, 'round')} of re-handling, {_share(REHANDLING_DEDUCTION)} of the "
                   f"points off each: {_share(share)} of the points")


def face_to_face(facts):
    if facts["face_to_face"]:
        return Fraction(1), "the unit met the proposer face to face: all points"
    return Fraction(0), "no face-to-face meeting with the proposer: no points"


def timeliness(facts):
    extensions = facts["extensions"]
    if not facts["replied_on_time"]:
        return Fraction(0), "replied after the deadline: no points"
    if extensions == 0:
        return Fraction(1), "replied on time without an extension: all points"
    share = max(ON_TIME_FLOOR, 1 - EXTENSION_DEDUCTION * extensions)
    return share, (f"replied on time after {_plural(extensions, 'extension')}, "
                   f"{_share(EXTENSION_DEDUCTION)} of the points off each, at least "
                   f"{_share(ON_TIME_FLOOR)} for an on-time reply: {_share(share)} of the points")


def result(facts):
    category = _rule(CATEGORY_SHARE, facts["category"], "reply category")
    levels = facts["satisfaction"]
    said = f"category {facts['category']} earns {_share(category)}"
    if not levels:
        return category, f"{said}; no ratings, so the category alone counts: {_share(category)} of the points"
    satisfaction = sum((_rule(LEVEL_SHARE, level, "satisfaction level") for level in levels), Fraction(0)) / len(levels)
    counts = ", ".join(f"{levels.count(code)} {code}" for code in LEVEL_SHARE if code in levels)
    share = (category + satisfaction) / 2
    return share, (f"{said}; the ratings ({counts}) earn {_share(satisfaction)} on average "
                   f"(satisfied 1, basically satisfied 1/2, unsatisfied 0); half each: "
                   f"{_share(share)} of the points")


RULES = {"organisation": organisation, "procedure": procedure, "face_to_face": face_to_face,
         "timeliness": timeliness, "result": result}


def points(value) -> float:
    return float(Decimal(str(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def score(facts: dict, rulebook) -> dict:
    """``{total, max, items: [{item, points, max, why}]}`` for ``facts`` on ``rulebook``'s checklist.

    Each item's points are rounded to one decimal; the total is the sum of the rounded points, so
    the items add up to it exactly as shown."""
    items = []
    for item in rulebook.handling_checklist():
        rule = RULES.get(item.code)
        if rule is None:
            raise RuleNotFound(f"checklist item {item.code!r} of rulebook {rulebook.name} "
                               f"{rulebook.version} has no scoring rule; known: {', '.join(RULES)}")
        share, why = rule(facts)
        items.append({"item": item.code, "points": points(item.points * share), "max": item.points,
                      "why": why})
    total = points(sum(Decimal(str(i["points"])) for i in items))
    return {"total": total, "max": rulebook.handling_checklist_total(), "items": items}
