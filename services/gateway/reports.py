"""Printable documents (HTML, A4 print styles) rendered from figures the services count.

The services decide what is counted and what is masked; this module only lays the figures out.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.wrappers import Response

from shared import clock
from shared.errors import InvalidInput
from shared.names import unit_zh

_env = Environment(
    loader=PackageLoader("services.gateway", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# A printed document names a unit as people know it (市交通运输局), not by its code (transport).
_env.filters["unit_name"] = unit_zh


# A printed report lists every proposal of its year; it asks for them this many at a time (intake's
# most per page).
PRINT_PAGE = 1000
REPORT_PAGE = ("page", "per_page")


def every_page(fetch) -> dict:
    """A year's report with its whole listing, for printing: ``fetch(query)`` answers one page of
    it (``{..., "proposals", "listed"}``); the figures are the first page's."""
    first = fetch({"page": 1, "per_page": PRINT_PAGE})
    proposals = list(first["proposals"])
    page = 1
    while len(proposals) < first.get("listed", 0):
        page += 1
        more = fetch({"page": page, "per_page": PRINT_PAGE})["proposals"]
        if not more:  # fewer than counted: proposals dropped meanwhile
            break
        proposals += more
    return {**first, "proposals": proposals}


def render(template: str, **context) -> Response:
    context.setdefault("generated_at", clock.now().strftime("%Y-%m-%d %H:%M"))
    html = _env.get_template(template).render(**context)
    return Response(html, status=200, mimetype="text/html")


def adopted_opinions_page(figures: dict) -> Response:
    """The year's adopted opinion items (社情民意信息采用情况通报) as printable HTML, for the
    audience intake masked them for."""
    return render(
        "adopted_opinions.html",
        f=figures,
        heading="社情民意信息采用情况通报",
        personal_data_note=figures["personal_data"],
    )


def public_notice(figures: dict) -> Response:
    """The year-end public notice (年度提案办理情况通报) as printable HTML, from the figures intake
    gives for the public audience (proposers named only with their consent)."""
    return render(
        "proposal_report.html",
        f=figures,
        assessment=None,
        heading="政协提案办理情况通报",
        subheading="Public notice of proposal handling",
        personal_data_note="提案人经同意方署名，否则遮蔽 Proposers named only with their "
        "consent; phone and identity numbers masked",
    )


def report_format(request, default: str) -> str:
    """``html`` or ``json``, as ``?format=`` asks (``default`` when it does not); anything else is
    refused (400), not answered in a format the caller did not ask for."""
    asked: str = request.args.get("format", default).lower()
    if asked not in ("html", "json"):
        raise InvalidInput("the report's format is html or json", {"format": [f"html or json, not {asked!r}"]})
    return asked


def wants_html(request) -> bool:
    """HTML unless ``?format=json`` is asked for."""
    return report_format(request, "html") == "html"
