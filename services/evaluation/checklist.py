"""The handling checklist (办理工作评分表): how well a unit handled one proposal, scored from facts.

The items and the points each is worth come from the rulebook's ``handling_checklist``. The rules
below decide what share of an item's points the facts earn, one rule per item, and every scored
item carries the sentence of the rule that gave its points, so a unit can check its score line by
line. The facts come from the process events (signing, meetings, reply, extensions, re-handling,
category, ratings), never from a person's hand.

The shares each rule gives (a late signing's share, what a round of re-handling or an extension
takes off, the floor of an on-time reply, each reply category's and satisfaction level's share of
the result) are the rulebook's too: ``handling_checklist.rules``.

A co-unit (协办) does not answer: it signs for its assignment, sends its input to the lead unit and
co-signs the lead's reply. It is scored on the rulebook's ``co_unit_checklist`` (its signing and
the timeliness of its input), from its own facts, with the rules in ``CO_UNIT_RULES``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from shared.rulebook import RuleNotFound


def _share(value: Fraction) -> str:
    return str(value) if value.denominator != 1 else str(value.numerator)


def _points(share: Fraction) -> str:
    return "no points" if share == 0 else f"{_share(share)} of the points"


def _rule(table: dict, code: str, what: str) -> Fraction:
    if code not in table:
        raise RuleNotFound(f"no share of the result is set for {what} {code!r}; known: {', '.join(table)}")
    return table[code]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def organisation(facts, rules):
    if facts["signed_on_time"]:
        return Fraction(1), "signed for the assignment within the sign-for limit: all points"
    late = rules["organisation"]["late_signing"]
    return late, f"signed for the assignment late: {_share(late)} of the points"


def procedure(facts, rules):
    deduction = rules["procedure"]["per_rehandling"]
    rounds = facts["rehandling_rounds"]
    if rounds == 0:
        return Fraction(1), "the first reply was accepted, no re-handling: all points"
    share = max(Fraction(0), 1 - deduction * rounds)
    return share, (
        f"{_plural(rounds, 'round')} of re-handling, {_share(deduction)} of the "
        f"points off each: {_share(share)} of the points"
    )


def face_to_face(facts, rules):
    if facts["face_to_face"]:
        return Fraction(1), "the unit met the proposer face to face: all points"
    share = rules["face_to_face"]["no_meeting"]
    return share, f"no face-to-face meeting with the proposer: {_points(share)}"


def timeliness(facts, rules):
    deduction, floor = rules["timeliness"]["per_extension"], rules["timeliness"]["on_time_floor"]
    extensions = facts["extensions"]
    if not facts["replied_on_time"]:
        late = rules["timeliness"]["late_reply"]
        return late, f"replied after the deadline: {_points(late)}"
    if extensions == 0:
        return Fraction(1), "replied on time without an extension: all points"
    share = max(floor, 1 - deduction * extensions)
    return share, (
        f"replied on time after {_plural(extensions, 'extension')}, "
        f"{_share(deduction)} of the points off each, at least "
        f"{_share(floor)} for an on-time reply: {_share(share)} of the points"
    )


def result(facts, rules):
    category_shares, level_shares = rules["result"]["categories"], rules["result"]["levels"]
    category = _rule(category_shares, facts["category"], "reply category")
    levels = facts["satisfaction"]
    said = f"category {facts['category']} earns {_share(category)}"
    if not levels:
        return category, f"{said}; no ratings, so the category alone counts: {_share(category)} of the points"
    satisfaction = sum((_rule(level_shares, level, "satisfaction level") for level in levels), Fraction(0)) / len(
        levels
    )
    counts = ", ".join(f"{levels.count(code)} {code}" for code in level_shares if code in levels)
    scale = ", ".join(f"{code.replace('_', ' ')} {_share(value)}" for code, value in level_shares.items())
    share = (category + satisfaction) / 2
    return share, (
        f"{said}; the ratings ({counts}) earn {_share(satisfaction)} on average "
        f"({scale}); half each: {_share(share)} of the points"
    )


def co_unit_signing(facts, rules):
    if facts["signed_on_time"]:
        return Fraction(1), "signed for the assignment within the sign-for limit: all points"
    late = rules["signing"]["late"]
    return late, f"signed for the assignment late: {_points(late)}"


def co_unit_input(facts, rules):
    sent = facts["input"]
    if sent == "on_time":
        return Fraction(1), "sent its input to the lead unit within the deadline: all points"
    if sent == "late":
        late = rules["input"]["late"]
        return late, f"sent its input to the lead unit after the deadline: {_points(late)}"
    share = rules["input"]["not_sent"]
    return share, f"sent no input to the lead unit before the reply was accepted: {_points(share)}"


RULES = {
    "organisation": organisation,
    "procedure": procedure,
    "face_to_face": face_to_face,
    "timeliness": timeliness,
    "result": result,
}
CO_UNIT_RULES = {"signing": co_unit_signing, "input": co_unit_input}


def points(value) -> float:
    return float(Decimal(str(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _checklist(rulebook, role: str):
    """The items, the rules' shares, the total and the scoring rules of ``role``'s checklist."""
    if role == "co":
        return (
            rulebook.co_unit_checklist(),
            rulebook.co_unit_checklist_rules(),
            rulebook.co_unit_checklist_total(),
            CO_UNIT_RULES,
        )
    return (
        rulebook.handling_checklist(),
        rulebook.handling_checklist_rules(),
        rulebook.handling_checklist_total(),
        RULES,
    )


def score(facts: dict, rulebook, role: str = "answering") -> dict:
    """``{total, max, items: [{item, points, max, why}]}`` for ``facts`` on ``rulebook``'s checklist
    of ``role``: ``answering`` (the handling checklist) or ``co`` (the co-unit checklist).
    ``rulebook`` is the service's rules port (``rules.EvaluationRules``) or a rulebook itself.

    Each item's points are rounded to one decimal; the total is the sum of the rounded points, so
    the items add up to it exactly as shown."""
    items = []
    checklist_items, rules, most, known = _checklist(rulebook, role)
    for item in checklist_items:
        rule = known.get(item.code)
        if rule is None:
            raise RuleNotFound(
                f"checklist item {item.code!r} of rulebook {rulebook.name} "
                f"{rulebook.version} has no scoring rule; known: {', '.join(known)}"
            )
        share, why = rule(facts, rules)
        items.append({"item": item.code, "points": points(item.points * share), "max": item.points, "why": why})
    total = points(sum(Decimal(str(i["points"])) for i in items))
    return {"total": total, "max": most, "items": items}
