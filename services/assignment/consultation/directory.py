"""The venue directory (履职阵地): towns and streets, venues, the towns each covers, and coverage
statistics, and the members who serve at each venue. Read by anyone signed in; changed only by
seeding (``deploy/seed/venues.yaml``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared.errors import InvalidInput
from shared.validation import load

from .models import Town, Venue
from .rules import VENUE_KINDS, ConsultationRules
from .schemas import VenueQuery

if TYPE_CHECKING:
    from ..unit_of_work import AssignmentUnitOfWork


class _SeedTown(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["town", "street"]))
    district = fields.String(required=True)


class _SeedVenue(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    kind = fields.String(required=True, validate=validate.OneOf(VENUE_KINDS))
    name = fields.String(required=True)
    town = fields.String(required=True)
    address = fields.String(required=True)
    sector = fields.String(load_default=None)
    covers = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    members = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        metadata={"description": "the members who serve there"},
    )


class VenueSeed(Schema):
    towns = fields.List(fields.Nested(_SeedTown), required=True)
    venues = fields.List(fields.Nested(_SeedVenue), required=True)


def ensure_venues(uow: AssignmentUnitOfWork, seed: dict) -> int:
    """Add the towns and venues of ``seed`` (the shape of ``deploy/seed/venues.yaml``) that the
    directory lacks; returns how many venues were added. A venue naming an unknown town is refused."""
    data = load(VenueSeed, seed, "the venue seed")
    # What the directory holds is read in three queries, not three per venue: every start of the
    # system seeds (``make run``, each test system), and the directory is already there.
    known = {town.code for town in uow.cases.towns()}
    for town in data["towns"]:
        if town["code"] not in known:
            uow.cases.add_town(Town(**town))
            known.add(town["code"])
    uow.flush()
    venues = {venue.code for venue in uow.cases.venues()}
    serving = uow.cases.members_by_venue()
    added = 0
    for venue in data["venues"]:
        unknown = [t for t in [venue["town"], *venue["covers"]] if t not in known]
        if unknown:
            raise InvalidInput("the venue seed", {venue["code"]: [f"unknown towns: {', '.join(unknown)}"]})
        members = venue.pop("members")
        if venue["code"] not in venues:
            covers = venue.pop("covers")
            uow.cases.add_venue(Venue(**venue), covers)
            venues.add(venue["code"])
            added += 1
        # Links the seed names are added to a venue seeded before them too; none is removed.
        linked = set(serving.get(venue["code"], ()))
        for member in dict.fromkeys(members):
            if member not in linked:
                uow.cases.add_venue_member(venue["code"], member)
                linked.add(member)
        serving[venue["code"]] = list(linked)
    uow.flush()
    return added


def venue_members(uow: AssignmentUnitOfWork, venue: str) -> list[str]:
    """The members who serve at ``venue``, by user."""
    return uow.cases.venue_members(venue)


def list_venues(uow: AssignmentUnitOfWork, rules: ConsultationRules, query: dict | None = None) -> list[dict]:
    """Venues, filtered by ``kind`` and by a ``town`` they cover."""
    data = load(VenueQuery, query or {}, "the venue filter")
    covers, members = uow.cases.coverage(), uow.cases.members_by_venue()
    found = []
    for venue in uow.cases.venues(data["kind"] or None):
        if data["town"] and data["town"] not in covers.get(venue.code, []):
            continue
        kind = rules.label("venue_kinds", venue.kind)
        found.append(
            {
                "code": venue.code,
                "name": venue.name,
                "kind": venue.kind,
                "kind_zh": kind.zh if kind else venue.kind,
                "town": venue.town,
                "address": venue.address,
                "sector": venue.sector,
                "covers": covers.get(venue.code, []),
                "members": members.get(venue.code, []),
            }
        )
    return found


def coverage(uow: AssignmentUnitOfWork) -> dict:
    """Per town or street: the venues covering it by kind and its cases; the towns none covers;
    how many venues of each kind; cases per venue."""
    venues = {v.code: v for v in uow.cases.venues()}
    by_town: dict = defaultdict(lambda: defaultdict(list))
    for venue, covered in sorted(uow.cases.coverage().items()):
        for town_code in covered:
            by_town[town_code][venues[venue].kind].append(venue)
    cases_by_town = uow.cases.cases_by_town()
    cases_by_venue = uow.cases.cases_by_venue()
    towns = []
    for town in uow.cases.towns():
        towns.append(
            {
                "code": town.code,
                "name": town.name,
                "kind": town.kind,
                "district": town.district,
                "venues": {kind: codes for kind, codes in by_town[town.code].items()},
                "cases": cases_by_town.get(town.code, 0),
            }
        )
    return {
        "towns": towns,
        "uncovered": [t["code"] for t in towns if not t["venues"]],
        "venues_by_kind": dict(Counter(v.kind for v in venues.values())),
        "cases_per_venue": {code: cases_by_venue.get(code, 0) for code in sorted(venues)},
    }
