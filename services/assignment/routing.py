"""Routing suggestions (交办建议): which units a proposal might go to, and why.

Two sources, both shown with their reasons; staff decide (the ``assign`` user task):

- **Keywords** from the rulebook's ``routing`` section (``bpmn/rules/proposal.yaml``): a keyword
  found in the proposal's title or text suggests its units ("keyword 公交").
- **Past assignments**: the past proposals whose titles are most alike (the Jaccard index of
  their character bigrams, with the boilerplate every title shares cut out, at or above the
  rulebook's ``similar_titles.threshold``; its ``nearest`` of them, the most similar) suggest the
  units that answered them ("3 past proposals with similar titles went to transport", or "7 of the
  50 most similar past proposals went to transport" when more are alike). The titles are intake's:
  it finds the alike ones from its title index (``intake.similar_titles``, given the rulebook's
  ``ignore``, ``threshold`` and ``nearest``); which units each went to is this service's own
  record. A reassigned (cancelled) assignment does not count: the proposal did not go there in the
  end. Counting the nearest instead of every alike title keeps the answer's cost bounded: at
  110,000 proposals on a few common matters a title has thousands alike.

A unit's score is its keyword matches plus its nearest similar past proposals; highest first. An
answer names a unit's ten most similar past proposals and counts those of the nearest that went
there (``similar_count``); ``similar_total`` says how many past proposals are alike in all and
``similar_counted`` how many of them (the nearest) were counted.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable

from marshmallow import Schema, ValidationError, validate

from shared.contracts import field_types as fields

from shared.contracts.rpc.proposals import MAX_NEAREST, MAX_TITLES_ASKED, NEAREST, AskedTitle
from shared.errors import Forbidden
from shared.validation import load

from .contracts import ANSWERING_ROLES
from .records import oversees, principal_of
from .unit_of_work import AssignmentUnitOfWork


class _Keyword(Schema):
    keyword = fields.String(required=True, validate=validate.Length(min=1))
    units = fields.List(fields.String(validate=validate.Length(min=1)), required=True, validate=validate.Length(min=1))


class _SimilarTitles(Schema):
    threshold = fields.Float(required=True, validate=validate.Range(min=0, max=1, min_inclusive=False))
    ignore = fields.List(fields.String(), load_default=list)
    nearest = fields.Integer(load_default=NEAREST, validate=validate.Range(min=1, max=MAX_NEAREST))


class RoutingSection(Schema):
    """The rulebook's ``routing`` section."""

    version = fields.String(required=True, validate=validate.Length(min=1))
    keywords = fields.List(fields.Nested(_Keyword), required=True)
    similar_titles = fields.Nested(_SimilarTitles, required=True)


def routing_rules(rulebook) -> dict:
    """The checked ``routing`` section (ValueError naming the field when it does not fit)."""
    try:
        section = RoutingSection().load(rulebook.rules.get("routing") or {})
    except ValidationError as exc:
        raise ValueError(f"rulebook {rulebook.name} {rulebook.version}: section routing: {exc.messages}") from None
    return {**section, "rulebook": {"name": rulebook.name, "version": rulebook.version, "hash": rulebook.content_hash}}


class ProposalForRouting(AskedTitle):
    text = fields.String(load_default="", validate=validate.Length(max=200000))


# The most proposals one call suggests units for: a page of the staff's task list.
MAX_AT_ONCE = MAX_TITLES_ASKED


class ProposalsForRouting(Schema):
    """Several proposals routed at once (the staff's task list)."""

    proposals = fields.List(
        fields.Nested(ProposalForRouting), required=True, validate=validate.Length(min=1, max=MAX_AT_ONCE)
    )


# How many of a unit's similar past proposals an answer names (the most similar); the reason and
# the score count them all. At 100,000 proposals a common matter has thousands.
SIMILAR_NAMED = 10

# Proposal numbers per query of the assignments: within both databases' limits on bound values.
_NUMBERS_PER_QUERY = 5000

SimilarTitles = Callable[[dict], list[dict]]


def _went_to(uow: AssignmentUnitOfWork, numbers) -> dict[str, set[str]]:
    """The units that answered each proposal in the end (not cancelled by a reassignment)."""
    units = defaultdict(set)
    numbers = sorted(numbers)
    for at in range(0, len(numbers), _NUMBERS_PER_QUERY):
        for number, unit in uow.assignments.answering_units(numbers[at : at + _NUMBERS_PER_QUERY], ANSWERING_ROLES):
            units[number].add(unit)
    return units


def suggest(uow: AssignmentUnitOfWork, rules: dict, proposal, principal, similar_titles: SimilarTitles) -> dict:
    """Suggestions for ``proposal`` ``{number, title, text}``; staff (and committee, leaders,
    operators) only. ``similar_titles`` asks intake for the proposals with titles alike
    (``{titles, ignore, threshold, nearest}`` → ``[{number, total, similar: [{number,
    similarity}]}]``). Returns ``{number, routing_version, rulebook, similar_total,
    similar_counted, suggestions: [{unit, name, score, reasons, keywords, similar_count,
    similar_proposals}]}``."""
    _staff_only(principal)
    data = load(ProposalForRouting, proposal, "the proposal to route")
    return _suggest_all(uow, rules, [data], similar_titles)[0]


def suggest_many(
    uow: AssignmentUnitOfWork, rules: dict, request, principal, similar_titles: SimilarTitles
) -> list[dict]:
    """:func:`suggest` for each of ``request['proposals']`` (at most :data:`MAX_AT_ONCE`), with
    one question to intake for all their titles: a page of the staff's task list. Answers in the
    order asked."""
    _staff_only(principal)
    data = load(ProposalsForRouting, request, "the proposals to route")
    return _suggest_all(uow, rules, data["proposals"], similar_titles)


def _staff_only(principal) -> None:
    if not oversees(principal_of(principal)):
        raise Forbidden("routing suggestions are for the committee's staff")


def _suggest_all(
    uow: AssignmentUnitOfWork, rules: dict, proposals: list[dict], similar_titles: SimilarTitles
) -> list[dict]:
    similar = rules["similar_titles"]
    asked = [{"number": data["number"], "title": data["title"]} for data in proposals]
    answers = similar_titles(
        {"titles": asked, "ignore": similar["ignore"], "threshold": similar["threshold"], "nearest": similar["nearest"]}
    )
    alike_of = {answer["number"]: answer for answer in answers}
    found_of = []
    for data in proposals:
        found = defaultdict(lambda: {"keywords": [], "similar_proposals": []})
        haystack = unicodedata.normalize("NFKC", f"{data['title']}\n{data['text']}").casefold()
        for item in rules["keywords"]:
            if unicodedata.normalize("NFKC", item["keyword"]).casefold() in haystack:
                for unit in item["units"]:
                    found[unit]["keywords"].append(item["keyword"])
        found_of.append(found)
    went = _went_to(uow, {alike["number"] for answer in answers for alike in answer["similar"]})
    for data, found in zip(proposals, found_of, strict=True):
        for alike in alike_of.get(data["number"], {}).get("similar", ()):
            for unit in went.get(alike["number"], ()):
                found[unit]["similar_proposals"].append(alike)
    units = {unit for found in found_of for unit in found}
    directory = {row.code: row.name for row in uow.assignments.units(units)}
    return [
        _answer(rules, data["number"], found, directory, alike_of.get(data["number"], {}))
        for data, found in zip(proposals, found_of, strict=True)
    ]


def _answer(rules: dict, number: str, found: dict, directory: dict, alike: dict) -> dict:
    total, counted = alike.get("total", 0), len(alike.get("similar", ()))
    suggestions = []
    for unit, why in found.items():
        if unit not in directory:  # a rulebook keyword naming a unit this directory lacks
            continue
        reasons = [f"keyword {keyword}" for keyword in why["keywords"]]
        past = sorted(why["similar_proposals"], key=lambda p: (-p["similarity"], p["number"]))
        if past:
            count = len(past)
            if total > counted:  # more are alike than were counted: say of how many
                reasons.append(f"{count} of the {counted} most similar past proposals went to {unit}")
            else:
                reasons.append(f"{count} past proposal{'s' if count > 1 else ''} with similar titles went to {unit}")
        suggestions.append(
            {
                "unit": unit,
                "name": directory[unit],
                "score": len(why["keywords"]) + len(past),
                "reasons": reasons,
                "keywords": why["keywords"],
                "similar_count": len(past),
                "similar_proposals": past[:SIMILAR_NAMED],
            }
        )
    suggestions.sort(key=lambda s: (-s["score"], s["unit"]))
    return {
        "number": number,
        "routing_version": rules["version"],
        "rulebook": rules["rulebook"],
        "similar_total": total,
        "similar_counted": counted,
        "suggestions": suggestions,
    }
