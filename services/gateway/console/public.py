"""The public's pages (公开), no sign-in needed: published proposals and their replies, the
year-end notice of proposal handling, the year's adopted opinion items, and micro-consultation —
a resident raises an issue at a venue (群众点单) and follows it by the reference it was given.

Each page calls the public API's own route (``/api/public/...``) as an anonymous caller from the
visitor's address, so it shows exactly what the public API serves and the same limits apply."""

from __future__ import annotations

import secrets


from ..http import http
from . import session
from .views import PUBLIC_COOKIE, page_number, public_page, year_asked

CASE_FIELDS = ("venue", "town", "title", "description", "resident_name", "resident_phone")


class ConsolePublicRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/public")
    @public_page
    def console_public(self, visit):
        """What the public may read and do, in one place."""
        return visit.render("public_home.html", year=year_asked(None))

    @http("GET", "/console/public/proposals")
    @public_page
    def console_public_proposals(self, visit):
        """Published proposals with their replies, a page at a time, by year."""
        args = visit.request.args
        query = {"page": str(page_number(args.get("page"))), "per_page": "20"}
        if args.get("year"):
            query["year"] = str(year_asked(args.get("year")))
        answer = visit.public_api("public_proposals", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        page = answer.body
        pages = max(1, -(-page["total"] // page["per_page"]))
        return visit.render("public_proposals.html", page=page, pages=pages, year=query.get("year"))

    @http("GET", "/console/public/proposals/<string:number>")
    @public_page
    def console_public_proposal(self, visit, number):
        """One published proposal and its reply (any other is not found)."""
        answer = visit.public_api("public_proposal", number=number)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("public_proposal.html", p=answer.body)

    @http("GET", "/console/public/notice/<year:year>")
    @public_page
    def console_public_notice(self, visit, year):
        """The year-end public notice of proposal handling, as a print-ready page."""
        answer = visit.public_api("public_proposal_notice", year=year)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("public_notice.html", report=answer.body, year=year)

    @http("GET", "/console/public/opinions/<year:year>")
    @public_page
    def console_public_opinions(self, visit, year):
        """The year's adopted opinion items and leaders' instructions (submitters masked)."""
        answer = visit.public_api("public_adopted_opinions", year=year)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("public_opinions.html", report=answer.body, year=year)

    @http("GET", "/console/public/cases/new")
    @public_page
    def console_public_case_form(self, visit):
        """The form a resident raises an issue with, at one of the venues."""
        return self._case_form(visit, {}, None)

    @http("POST", "/console/public/cases")
    @public_page
    def console_public_case_raise(self, visit):
        """Raise the case through the public API; the page that follows shows its reference."""
        form = visit.request.form
        body = {name: form.get(name, "").strip() for name in CASE_FIELDS}
        for optional in ("town", "resident_phone"):
            if not body[optional]:
                body[optional] = None
        answer = visit.public_api("raise_case", method="POST", body=body)
        if not answer.ok:
            return self._case_form(visit, body, answer, status=answer.status)
        return visit.render("public_case.html", case=answer.body, raised=True, status=201)

    @http("GET", "/console/public/cases")
    @public_page
    def console_public_case(self, visit):
        """A case by its reference (typed in, or the link given when it was raised)."""
        reference = (visit.request.args.get("reference") or "").strip()
        if not reference:
            return visit.render("public_case.html", case=None, raised=False)
        answer = visit.public_api("follow_case", reference=reference)
        if not answer.ok:
            return visit.render(
                "public_case.html", case=None, raised=False, reference=reference, answer=answer, status=answer.status
            )
        return visit.render("public_case.html", case=answer.body, raised=False)

    def _case_form(self, visit, typed: dict, refused, status: int = 200):
        venues = visit.public_api("public_venues")
        secret = visit.request.cookies.get(PUBLIC_COOKIE) or secrets.token_urlsafe(24)
        response = visit.render(
            "public_case_new.html",
            status=status,
            typed=typed,
            refused=refused,
            venues=venues.body if venues.ok else [],
            form_csrf=session.csrf_for(secret),
        )
        session.set_cookie(response, PUBLIC_COOKIE, secret, self._settings(), max_age=3600)
        return response
