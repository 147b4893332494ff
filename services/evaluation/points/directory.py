"""The members directory: who earns points, their sector (界别) and the terms (届) they serve."""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock
from shared.contracts.fields import USER_ID, Text
from shared.errors import Forbidden, InvalidInput
from shared.validation import load

from ..access import oversees, principal_of
from ..unit_of_work import EvaluationUnitOfWork
from .models import Member
from .rules import PointsRules


class MemberInput(Schema):
    user = fields.String(required=True, validate=USER_ID)
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    sector = fields.String(required=True, validate=validate.Length(min=1, max=200))
    terms = fields.List(fields.String(validate=validate.Length(min=1, max=20)), load_default=None)


def as_dict(row: Member) -> dict:
    return {"user": row.user, "name": row.name, "sector": row.sector, "terms": list(row.terms)}


def _terms(rules: PointsRules, data: dict) -> list[str]:
    known = [book.term for book in rules.terms()]
    if data.get("terms") is None:
        return known
    unknown = [t for t in data["terms"] if t not in known]
    if unknown:
        raise InvalidInput(
            "unknown terms", {"terms": [f"no rulebook for term(s) {', '.join(unknown)}; known: {', '.join(known)}"]}
        )
    return data["terms"]


def ensure_members(uow: EvaluationUnitOfWork, rules: PointsRules, rows: list[dict]) -> int:
    """Seed an empty directory (``deploy/seed/members.yaml``); a directory with anyone in it is
    left alone. A row without ``terms`` serves every term that has a rulebook. Returns how many
    were added."""
    if uow.points.has_members():
        return 0
    for i, row in enumerate(rows):
        data = load(MemberInput, row, f"members[{i}]")
        uow.points.add_member(
            Member(
                user=data["user"],
                name=data["name"],
                sector=data["sector"],
                terms=_terms(rules, data),
                added_at=clock.now(),
            )
        )
    uow.flush()
    return len(rows)


class _Users(Schema):
    users = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), required=True, validate=validate.Length(max=1000)
    )


def unknown_members(uow: EvaluationUnitOfWork, users, principal) -> list[str]:
    """Those of ``users`` the directory does not know: intake checks a proposal's co-signers here."""
    principal_of(principal)
    wanted = load(_Users, {"users": users}, "the users")["users"]
    known = {row.user for row in uow.points.members_among(wanted)}
    return [user for user in wanted if user not in known]


def member_names(uow: EvaluationUnitOfWork, users, principal) -> dict[str, str]:
    """``{user: name}`` for those of ``users`` the directory knows. Asked by intake for the
    proposers who consented to being named where their proposal is published, so any signed caller
    (the public role included) may ask: the committee's membership is public; which proposal a
    member wrote is what stays masked without their consent, and intake decides that."""
    principal_of(principal)
    wanted = load(_Users, {"users": users}, "the users")["users"]
    return {row.user: row.name for row in uow.points.members_among(wanted)}


def list_members(uow: EvaluationUnitOfWork, principal, sector: str | None = None) -> list[dict]:
    """Anyone signed in who is a member or overseer sees the directory (names and sectors are public
    within the committee)."""
    who = principal_of(principal)
    if not (oversees(who) or "member" in who["roles"]):
        raise Forbidden("only members, staff, committee and leaders see the members directory")
    return [as_dict(row) for row in uow.points.members(sector or None)]


def save_member(uow: EvaluationUnitOfWork, rules: PointsRules, data, principal) -> dict:
    """Staff add a member or change one's name, sector or terms."""
    who = principal_of(principal)
    if "staff" not in who["roles"]:
        raise Forbidden("only staff keep the members directory")
    data = load(MemberInput, data, "the member")
    row = uow.points.member(data["user"])
    if row is None:
        row = Member(user=data["user"], added_at=clock.now())
        uow.points.add_member(row)
    row.name, row.sector, row.terms = data["name"], data["sector"], _terms(rules, data)
    uow.flush()
    return as_dict(row)


RULEBOOK_READERS = frozenset({"staff", "designer", "operator"})


def terms(rules: PointsRules, principal) -> list[dict]:
    """Every term with its dates and its rulebook (version, hash, rows): for staff, designers and
    operators, who keep the rulebooks."""
    who = principal_of(principal)
    if not RULEBOOK_READERS & set(who["roles"]):
        raise Forbidden("the points rulebooks are read by staff, designers and operators")
    return [book.describe() for book in rules.terms()]
