"""The documents the committee publishes: the year-end notice (public), the bulletin to all members,
the list of adopted opinion items with leaders' instructions."""

from __future__ import annotations


from .. import schemas
from ..http import endpoint, given, http
from ..reports import REPORT_PAGE, adopted_opinions_page, every_page, public_notice, render, wants_html

_READERS = ("staff", "committee", "leader")


class ReportRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/api/reports/proposals/<year:year>/notice")
    @endpoint(*_READERS, response=schemas.YearReport, query=("format", *REPORT_PAGE), html=True)
    def proposal_notice(self, request, principal, year):
        """The year-end public notice of proposal handling (年度提案办理情况通报): proposers named only
        with their consent, only published proposals listed. Printable HTML (every proposal), or
        ``?format=json`` (the year's figures and a page of the list: ``page``, ``per_page``; the
        same as ``/api/public/…/notice``, which needs no token)."""
        if not wants_html(request):
            return 200, self.intake.year_figures(year, "public", principal, given(request, REPORT_PAGE))
        return 200, public_notice(every_page(lambda query: self.intake.year_figures(year, "public", principal, query)))

    @http("GET", "/api/reports/proposals/<year:year>/bulletin")
    @endpoint(*_READERS, response=schemas.YearReport, query=("format", *REPORT_PAGE), html=True)
    def proposal_bulletin(self, request, principal, year):
        """The written bulletin to all members (书面通报): every proposal of the year with its status,
        and the units' assessment. Printable HTML (every proposal), or ``?format=json`` (a page of
        the list: ``page``, ``per_page``)."""
        if not wants_html(request):
            figures = self.intake.year_figures(year, "members", principal, given(request, REPORT_PAGE))
            figures["assessment"] = self.evaluation.unit_assessment(year, principal=principal)
            return 200, figures
        figures = every_page(lambda query: self.intake.year_figures(year, "members", principal, query))
        figures["assessment"] = self.evaluation.unit_assessment(year, principal=principal)
        return 200, render(
            "proposal_report.html",
            f=figures,
            assessment=figures["assessment"],
            heading="政协提案工作书面通报",
            subheading="Bulletin to all members",
            personal_data_note="委员内部通报 For members; phone and identity numbers masked",
        )

    @http("GET", "/api/reports/opinions/<year:year>/adopted")
    @endpoint(*_READERS, response=schemas.AdoptedOpinions, query=("audience", "format"), html=True)
    def adopted_opinions(self, request, principal, year):
        """The year's adopted opinion items with leaders' instructions (采用情况通报). ``audience=public``
        (default; submitters masked) or ``members`` (members named, informants masked)."""
        audience = request.args.get("audience", "public")
        figures = self.intake.adopted_opinions(year, audience, principal)
        if not wants_html(request):
            return 200, figures
        return 200, adopted_opinions_page(figures)
