"""The public API (公开): what anyone may read without a token, and residents raising a
micro-consultation case themselves (群众点单) and following it by its public reference.

Every route here is ``anonymous``: the caller acts as the ``public`` role whatever token it sends,
so an answer never depends on who asks. The services decide what is public (intake: published
proposals only, names only where their bearer consented; assignment: a case only by its public
reference, without the resident's name or phone). Lists are a page at a time; a resident's case
is bounded field by field and limited per client address and per venue (:mod:`..limits`).
"""

from __future__ import annotations

from marshmallow import Schema

from shared.contracts import field_types as fields

from shared.contracts.rpc.consultations import CaseRegistration, PublicCaseSchema, VenueSchema
from shared.contracts.rpc.proposals import PublicProposalSchema

from .. import limits, schemas
from ..http import endpoint, given, http
from ..reports import REPORT_PAGE, adopted_opinions_page, every_page, public_notice, report_format
from .proposals import PROPOSAL_READERS


class _NamedUnit(Schema):
    code = fields.String()
    name = fields.String(metadata={"description": "the unit directory's name (the code if unknown)"})


class PublicProposal(PublicProposalSchema):
    units = fields.List(fields.Nested(_NamedUnit), metadata={"description": "the units that answered"})


class PublicVenue(VenueSchema):
    """A venue where residents raise issues, as anyone may see it (no member or staff names)."""

    class Meta:
        exclude = ("sector", "covers", "members")


class PublicProposalPage(Schema):
    items = fields.List(fields.Nested(PublicProposal))
    page = fields.Integer()
    per_page = fields.Integer(metadata={"description": "1-50 (default 20)"})
    total = fields.Integer(metadata={"description": "published proposals matching, on every page"})


_PAGE = ("page", "per_page", "year")
_TOO_MANY = (
    (
        429,
        "too many cases from this client address or venue in the window; "
        "details.retry_after_seconds says when to try again",
    ),
)


class PublicRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService` (``self.intake``,
    ``self.assignment``, ``self.db``)."""

    def _named_units(self, principal, items: list[dict]) -> list[dict]:
        codes = sorted({code for item in items for code in item.get("units") or ()})
        names = self.assignment.unit_names(codes, principal) if codes else {}
        return [
            {**item, "units": [{"code": c, "name": names.get(c, c)} for c in item.get("units") or ()]} for item in items
        ]

    @http("GET", "/api/public/proposals")
    @endpoint(anonymous=True, response=PublicProposalPage, query=_PAGE)
    def public_proposals(self, request, principal):
        """Published proposals with their replies, a page at a time (no token needed)."""
        query = given(request, _PAGE)
        page = self.intake.public_proposals(query, principal)
        return 200, {**page, "items": self._named_units(principal, page["items"])}

    @http("GET", "/api/published-proposals")
    @endpoint(*PROPOSAL_READERS, response=PublicProposalPage, query=_PAGE)
    def published_proposals(self, request, principal):
        """Published proposals as the public reads them (personal data masked, units named), a
        page at a time, for those who may read proposals (``GET /api/proposals``'s readers): the
        console's list of published proposals, which a year's list of every proposal in full made slow."""
        public = self._anonymous()
        query = given(request, _PAGE)
        page = self.intake.public_proposals(query, public)
        return 200, {**page, "items": self._named_units(public, page["items"])}

    @http("GET", "/api/public/proposals/<string:number>")
    @endpoint(anonymous=True, response=PublicProposal)
    def public_proposal(self, request, principal, number):
        """One published proposal and its reply; any other is not found (no token needed)."""
        return 200, self._named_units(principal, [self.intake.public_proposal(number, principal)])[0]

    @http("GET", "/api/public/reports/proposals/<year:year>/notice")
    @endpoint(anonymous=True, response=schemas.YearReport, query=("format", *REPORT_PAGE), html=True)
    def public_proposal_notice(self, request, principal, year):
        """The year-end public notice of proposal handling (年度提案办理情况通报), JSON (the year's
        figures and a page of the list: ``page``, ``per_page``) or printable HTML (``?format=html``,
        every proposal); no token needed."""
        if report_format(request, "json") != "html":
            query = given(request, REPORT_PAGE)
            return 200, self.intake.year_figures(year, "public", principal, query)
        return 200, public_notice(every_page(lambda query: self.intake.year_figures(year, "public", principal, query)))

    @http("GET", "/api/public/opinions/<year:year>/adopted")
    @endpoint(anonymous=True, response=schemas.AdoptedOpinions, query=("format",), html=True)
    def public_adopted_opinions(self, request, principal, year):
        """The year's adopted opinion items with leaders' instructions, submitters masked (no token
        needed): JSON, or printable HTML with ``?format=html``; any other format is refused (400)."""
        asked = report_format(request, "json")
        figures = self.intake.adopted_opinions(year, "public", principal)
        if asked != "html":
            return 200, figures
        return 200, adopted_opinions_page(figures)

    @http("GET", "/api/public/venues")
    @endpoint(anonymous=True, response=PublicVenue(many=True), query=("kind", "town"))
    def public_venues(self, request, principal):
        """The venues where a resident may raise an issue (contact points, reception rooms,
        consultation rooms, sector studios), by kind and by a town or street (no token needed)."""
        query = given(request, ("kind", "town"))
        # Only the public fields: the directory also names the members who serve at each venue.
        return 200, PublicVenue(many=True).dump(self.assignment.list_venues(query, principal=principal))

    @http("POST", "/api/public/consultations")
    @endpoint(anonymous=True, body=CaseRegistration, response=PublicCaseSchema, status=201, statuses=_TOO_MANY)
    def raise_case(self, request, principal, body):
        """A resident raises an issue at a venue (群众点单); the answer's ``reference`` is the only way
        to follow the case. At most ``ZTC_PUBLIC_CASES_PER_ADDRESS`` per client address and
        ``ZTC_PUBLIC_CASES_PER_VENUE`` per venue in each window (429 beyond)."""
        settings = self._settings()
        try:
            limits.take(
                self.db.session,
                [
                    (
                        "address",
                        limits.client_address(request, settings.http_trusted_proxy_hops),
                        settings.public_cases_per_address,
                    ),
                    ("venue", body["venue"], settings.public_cases_per_venue),
                ],
                settings.public_cases_window_seconds,
            )
        finally:
            self.db.commit()  # a refused attempt counts too
        return 201, self.assignment.register_case(body, principal)

    @http("GET", "/api/public/consultations/<string:reference>")
    @endpoint(anonymous=True, response=PublicCaseSchema)
    def follow_case(self, request, principal, reference):
        """A case by its public reference: where the work is, what was decided, whether the return
        visit was made; never the resident's name or phone (no token needed)."""
        return 200, self.assignment.public_case(reference, principal)
