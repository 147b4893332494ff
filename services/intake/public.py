"""What anyone may read of proposals without signing in (公开): published proposals with their
replies, a page at a time.

Only a proposal whose status is ``published`` is listed (a draft, a proposal filed but not yet
answered, one whose proposer declined publication: never). Texts are masked of phone, identity
numbers and e-mail addresses again on the way out. A proposer is named only if they consented to
being named: the initiator by the proposal's ``publish_name``, each co-signer by the consent given
when co-signing (``Cosigner.publish_name``; a co-signer who gave none, or dropped off, stays
masked); the name is the members directory's, asked through ``names``.
"""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared.errors import Forbidden
from shared.masking import mask_name
from shared.validation import load

from .access import PUBLIC, acting_user, not_found
from .models import Proposal, Publication
from .proposals import published
from .records import by_number, consenting, directory_names, names_masked, proposers
from .unit_of_work import IntakeUnitOfWork

MAX_PER_PAGE = 50


class PublicQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, MAX_PER_PAGE))
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1900, 2999))


def _require_public(principal: dict | None) -> None:
    _, roles = acting_user(principal)
    if PUBLIC not in roles:
        raise Forbidden("the public reading of proposals is for the public API")


def named_proposers(proposal: Proposal, known: dict[str, str]) -> list[dict]:
    """Each proposer as the public sees them: ``{"name", "named"}``, the directory's name where
    they consented to being named, else their masked name. ``known``: :func:`directory_names`."""
    consented = consenting(proposal)
    return [
        {"name": known.get(user) or user, "named": True}
        if user in consented
        else {"name": mask_name(user), "named": False}
        for user in proposers(proposal)
    ]


def item(row: Publication, proposal: Proposal, known: dict[str, str]) -> dict:
    """A publication as the public reads it; its texts masked again, of the names of the proposers
    who did not consent too (a row published before those were masked is masked today)."""
    shown = published(row, names_masked(proposal, known))
    return {**shown, "year": proposal.year, "proposers": named_proposers(proposal, known)}


def list_published(uow: IntakeUnitOfWork, query: dict | None, principal: dict | None, names) -> dict:
    """A page of published proposals, by year and number: ``{items, page, per_page, total}``."""
    _require_public(principal)
    data = load(PublicQuery, query or {}, "the query")
    total, rows = uow.proposals.published_page(data["year"], (data["page"] - 1) * data["per_page"], data["per_page"])
    known = directory_names([proposal for _, proposal in rows], names)
    return {
        "items": [item(row, proposal, known) for row, proposal in rows],
        "page": data["page"],
        "per_page": data["per_page"],
        "total": total,
    }


def get_published(uow: IntakeUnitOfWork, number: str, principal: dict | None, names) -> dict:
    """One published proposal; any other (a draft, unpublished, unknown) is not found."""
    _require_public(principal)
    proposal = by_number(uow, number)
    if proposal is None or proposal.status != "published":
        raise not_found(number)
    row = uow.proposals.publication_of(proposal)
    if row is None:
        raise not_found(number)
    return item(row, proposal, directory_names([proposal], names))
