"""The venue directory (履职阵地): towns and streets, venues, the towns each covers, and coverage
statistics, and the members who serve at each venue. Read by anyone signed in; changed only by
seeding (``deploy/seed/venues.yaml``)."""

from __future__ import annotations

from collections import Counter, defaultdict

from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from shared.errors import InvalidInput
from shared.validation import load

from . import rules
from .models import Case, Town, Venue, VenueCoverage, VenueMember
from .schemas import VenueQuery


class _SeedTown(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["town", "street"]))
    district = fields.String(required=True)


class _SeedVenue(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    kind = fields.String(required=True, validate=validate.OneOf(rules.VENUE_KINDS))
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


def ensure_venues(session, seed: dict) -> int:
    """Add the towns and venues of ``seed`` (the shape of ``deploy/seed/venues.yaml``) that the
    directory lacks; returns how many venues were added. A venue naming an unknown town is refused."""
    data = load(VenueSeed, seed, "the venue seed")
    for town in data["towns"]:
        if session.get(Town, town["code"]) is None:
            session.add(Town(**town))
    session.flush()
    known = set(session.scalars(select(Town.code)))
    added = 0
    for venue in data["venues"]:
        unknown = [t for t in [venue["town"], *venue["covers"]] if t not in known]
        if unknown:
            raise InvalidInput("the venue seed", {venue["code"]: [f"unknown towns: {', '.join(unknown)}"]})
        members = venue.pop("members")
        if session.get(Venue, venue["code"]) is None:
            covers = venue.pop("covers")
            session.add(Venue(**venue))
            session.flush()
            session.add_all(VenueCoverage(venue=venue["code"], town=t) for t in dict.fromkeys(covers))
            added += 1
        # Links the seed names are added to a venue seeded before them too; none is removed.
        linked = set(session.scalars(select(VenueMember.member).where(VenueMember.venue == venue["code"])))
        session.add_all(VenueMember(venue=venue["code"], member=m) for m in dict.fromkeys(members) if m not in linked)
    session.flush()
    return added


def venue_members(session, venue: str) -> list[str]:
    """The members who serve at ``venue``, by user."""
    return list(
        session.scalars(select(VenueMember.member).where(VenueMember.venue == venue).order_by(VenueMember.member))
    )


def _members_map(session) -> dict[str, list[str]]:
    members = defaultdict(list)
    for row in session.scalars(select(VenueMember).order_by(VenueMember.venue, VenueMember.member)):
        members[row.venue].append(row.member)
    return members


def _coverage_map(session) -> dict[str, list[str]]:
    covers = defaultdict(list)
    for row in session.scalars(select(VenueCoverage).order_by(VenueCoverage.venue, VenueCoverage.town)):
        covers[row.venue].append(row.town)
    return covers


def list_venues(session, query: dict | None = None) -> list[dict]:
    """Venues, filtered by ``kind`` and by a ``town`` they cover."""
    data = load(VenueQuery, query or {}, "the venue filter")
    rulebook = rules.current()
    covers, members = _coverage_map(session), _members_map(session)
    stmt = select(Venue).order_by(Venue.kind, Venue.code)
    if data["kind"]:
        stmt = stmt.where(Venue.kind == data["kind"])
    found = []
    for venue in session.scalars(stmt):
        if data["town"] and data["town"] not in covers[venue.code]:
            continue
        kind = rules.label(rulebook, "venue_kinds", venue.kind)
        found.append(
            {
                "code": venue.code,
                "name": venue.name,
                "kind": venue.kind,
                "kind_zh": kind.zh if kind else venue.kind,
                "town": venue.town,
                "address": venue.address,
                "sector": venue.sector,
                "covers": covers[venue.code],
                "members": members[venue.code],
            }
        )
    return found


def coverage(session) -> dict:
    """Per town or street: the venues covering it by kind and its cases; the towns none covers;
    how many venues of each kind; cases per venue."""
    venues = {v.code: v for v in session.scalars(select(Venue))}
    by_town = defaultdict(lambda: defaultdict(list))
    for row in session.scalars(select(VenueCoverage).order_by(VenueCoverage.venue)):
        by_town[row.town][venues[row.venue].kind].append(row.venue)
    cases_by_town = dict(session.execute(select(Case.town, func.count()).group_by(Case.town)).all())
    cases_by_venue = dict(session.execute(select(Case.venue, func.count()).group_by(Case.venue)).all())
    towns = []
    for town in session.scalars(select(Town).order_by(Town.district, Town.code)):
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
