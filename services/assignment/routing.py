"""Routing suggestions (交办建议): which units a proposal might go to, and why.

Two sources, both shown with their reasons; staff decide (the ``assign`` user task):

- **Keywords** from the rulebook's ``routing`` section (``bpmn/rules/proposal.yaml``): a keyword
  found in the proposal's title or text suggests its units ("keyword 公交").
- **Past assignments**: proposals assigned before whose titles are alike (the Jaccard index of
  their character bigrams, after removing the boilerplate every title shares, at or above the
  rulebook's ``similar_titles.threshold``) suggest the units that answered them ("3 past proposals
  with similar titles went to transport"). The titles are intake's (the caller passes the other
  proposals' numbers and titles: the gateway asks intake); which units each went to is this
  service's own record. A reassigned (cancelled) assignment does not count: the proposal did
  not go there in the end.

A unit's score is its keyword matches plus its similar past proposals; highest first.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict

from marshmallow import Schema, ValidationError, fields, validate

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


class _Titled(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))


class _Routed(_Titled):
    text = fields.String(load_default="", validate=validate.Length(max=200000))


class ProposalForRouting(_Routed):
    others = fields.List(
        fields.Nested(_Titled),
        load_default=list,
        metadata={"description": "other proposals (number, title) to compare titles with"},
    )


# The most proposals one call suggests units for: a page of the staff's task list.
MAX_AT_ONCE = 100


class ProposalsForRouting(Schema):
    """Several proposals routed at once against one list of others (the staff's task list)."""

    proposals = fields.List(fields.Nested(_Routed), required=True, validate=validate.Length(min=1, max=MAX_AT_ONCE))
    others = fields.List(
        fields.Nested(_Titled),
        load_default=list,
        metadata={"description": "other proposals (number, title) to compare titles with"},
    )


def _characters(text: str, ignore=()) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    for word in ignore:
        text = text.replace(unicodedata.normalize("NFKC", word).casefold(), " ")
    return "".join(ch for ch in text if ch.isalnum())


def bigrams(text: str, ignore=()) -> frozenset[str]:
    chars = _characters(text, ignore)
    return frozenset(chars[i : i + 2] for i in range(len(chars) - 1)) or frozenset(chars and {chars})


def similarity(a: str, b: str, ignore=()) -> float:
    return _jaccard(bigrams(a, ignore), bigrams(b, ignore))


def _went_to(uow: AssignmentUnitOfWork, numbers) -> dict[str, set[str]]:
    """The units that answered each proposal in the end (not cancelled by a reassignment)."""
    units = defaultdict(set)
    for row in uow.assignments.live_assignments(numbers):
        if row.role in ANSWERING_ROLES:
            units[row.number].add(row.unit)
    return units


def suggest(uow: AssignmentUnitOfWork, rules: dict, proposal, principal) -> dict:
    """Suggestions for ``proposal`` ``{number, title, text, others: [{number, title}]}``; staff
    (and committee, leaders, operators) only. Returns ``{number, routing_version, rulebook, suggestions: [{unit, name,
    score, reasons, keywords, similar_proposals}]}``."""
    _staff_only(principal)
    data = load(ProposalForRouting, proposal, "the proposal to route")
    return _suggest_all(uow, rules, [data], data["others"])[0]


def suggest_many(uow: AssignmentUnitOfWork, rules: dict, request, principal) -> list[dict]:
    """:func:`suggest` for each of ``request['proposals']`` (at most :data:`MAX_AT_ONCE`), all
    compared with one list ``request['others']``: one call for a page of the staff's task list,
    the others' titles read and split into bigrams once. Answers in the order asked."""
    _staff_only(principal)
    data = load(ProposalsForRouting, request, "the proposals to route")
    return _suggest_all(uow, rules, data["proposals"], data["others"])


def _staff_only(principal) -> None:
    if not oversees(principal_of(principal)):
        raise Forbidden("routing suggestions are for the committee's staff")


def _suggest_all(uow: AssignmentUnitOfWork, rules: dict, proposals: list[dict], others: list[dict]) -> list[dict]:
    similar = rules["similar_titles"]
    titles = [(o["number"], bigrams(o["title"], similar["ignore"])) for o in others]
    found_of, alike_of = [], []
    for data in proposals:
        found = defaultdict(lambda: {"keywords": [], "similar_proposals": []})
        haystack = unicodedata.normalize("NFKC", f"{data['title']}\n{data['text']}").casefold()
        for item in rules["keywords"]:
            if unicodedata.normalize("NFKC", item["keyword"]).casefold() in haystack:
                for unit in item["units"]:
                    found[unit]["keywords"].append(item["keyword"])
        own = bigrams(data["title"], similar["ignore"])
        alike = {number: round(_jaccard(own, theirs), 3) for number, theirs in titles if number != data["number"]}
        found_of.append(found)
        alike_of.append({number: score for number, score in alike.items() if score >= similar["threshold"]})
    went = _went_to(uow, {number for alike in alike_of for number in alike})
    for found, alike in zip(found_of, alike_of, strict=True):
        for number in alike:
            for unit in went.get(number, ()):
                found[unit]["similar_proposals"].append({"number": number, "similarity": alike[number]})
    units = {unit for found in found_of for unit in found}
    directory = {row.code: row.name for row in uow.assignments.units(units)}
    return [_answer(rules, data["number"], found, directory) for data, found in zip(proposals, found_of, strict=True)]


def _jaccard(x: frozenset[str], y: frozenset[str]) -> float:
    return len(x & y) / len(x | y) if x | y else 0.0


def _answer(rules: dict, number: str, found: dict, directory: dict) -> dict:
    suggestions = []
    for unit, why in found.items():
        if unit not in directory:  # a rulebook keyword naming a unit this directory lacks
            continue
        reasons = [f"keyword {keyword}" for keyword in why["keywords"]]
        past = sorted(why["similar_proposals"], key=lambda p: (-p["similarity"], p["number"]))
        if past:
            count = len(past)
            reasons.append(f"{count} past proposal{'s' if count > 1 else ''} with similar titles went to {unit}")
        suggestions.append(
            {
                "unit": unit,
                "name": directory[unit],
                "score": len(why["keywords"]) + len(past),
                "reasons": reasons,
                "keywords": why["keywords"],
                "similar_proposals": past,
            }
        )
    suggestions.sort(key=lambda s: (-s["score"], s["unit"]))
    return {
        "number": number,
        "routing_version": rules["version"],
        "rulebook": rules["rulebook"],
        "suggestions": suggestions,
    }
