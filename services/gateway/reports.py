"""Printable documents (HTML, A4 print styles) rendered from figures the services count.

The services decide what is counted and what is masked; this module only lays the figures out.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.wrappers import Response

from shared import clock

_env = Environment(
    loader=PackageLoader("services.gateway", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context) -> Response:
    context.setdefault("generated_at", clock.now().strftime("%Y-%m-%d %H:%M"))
    html = _env.get_template(template).render(**context)
    return Response(html, status=200, mimetype="text/html")


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


def wants_html(request) -> bool:
    """HTML unless ``?format=json`` is asked for."""
    return request.args.get("format", "html").lower() != "json"
