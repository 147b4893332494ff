"""A report is answered in the format asked for, html or json, or refused: `?format=pdf` had been
answered with JSON and a 200, as if it had been understood."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Request

from services.gateway.reports import report_format, wants_html
from shared.errors import InvalidInput


@pytest.mark.parametrize(
    "query, default, answer",
    [("", "json", "json"), ("", "html", "html"), ("?format=HTML", "json", "html"), ("?format=json", "html", "json")],
)
def test_the_format_asked_or_the_routes_default(query, default, answer):
    assert report_format(Request.from_values(f"/notice{query}"), default) == answer


@pytest.mark.parametrize("asked", ["pdf", "csv", ""])
def test_any_other_format_is_refused_naming_the_two(asked):
    with pytest.raises(InvalidInput) as refused:
        wants_html(Request.from_values(f"/notice?format={asked}"))
    assert refused.value.details == {"format": [f"html or json, not {asked!r}"]}
