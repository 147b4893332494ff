"""Periods by name: ``2026-Q3`` (a quarter) and ``2026`` (a year); a term is named by its rulebook."""

from __future__ import annotations

import re
from datetime import date, timedelta

from shared import clock
from shared.calendar import local_date
from shared.errors import InvalidInput

# Years 1900-2999: a period outside them is no period of a committee (and year 0 is no date at all).
_QUARTER = re.compile(r"^((?:19|2[0-9])[0-9]{2})-Q([1-4])\Z")
_YEAR = re.compile(r"^((?:19|2[0-9])[0-9]{2})\Z")


def parse(key: str) -> tuple[str, date, date]:
    """``(kind, first day, last day)`` of a period named ``2026-Q3`` or ``2026``."""
    key = (key or "").strip()
    if match := _QUARTER.match(key):
        year, quarter = int(match[1]), int(match[2])
        starts = date(year, 3 * quarter - 2, 1)
        ends = (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(days=1)
        return "quarter", starts, ends
    if match := _YEAR.match(key):
        year = int(match[1])
        return "year", date(year, 1, 1), date(year, 12, 31)
    raise InvalidInput(
        "a period is a quarter like 2026-Q3 or a year like 2026 (1900-2999)",
        {"period": [f"'{key[:20]}' is neither YYYY-Qn nor YYYY"]},
    )


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarters(year: int) -> list[str]:
    return [f"{year}-Q{q}" for q in range(1, 5)]


def today() -> date:
    """Today in China, by the injected clock."""
    return local_date(clock.now())
