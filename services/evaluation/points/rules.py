"""What the points area needs from the terms' points rulebooks (``bpmn/rules/points/<term>.yaml``).

:class:`PointsRules` is the port: every term's rulebook, a term by name and the term a date falls
in. :class:`RulebookPointsRules` reads the folder (``points.rulebook.all_terms``) once for the
worker that built it, when first asked: the service's dependency provider builds one for each
worker, so a new or changed term file counts at once, as the proposal rulebook does.
"""

from __future__ import annotations

import abc
from datetime import date
from pathlib import Path

from shared.errors import InvalidInput

from . import rulebook
from .rulebook import PointsRulebook


class PointsRules(abc.ABC):
    @abc.abstractmethod
    def terms(self) -> list[PointsRulebook]:
        """Every term's rulebook, oldest first."""

    def term(self, term_id: str) -> PointsRulebook:
        """The rulebook of term ``term_id``; InvalidInput when there is none."""
        for book in self.terms():
            if book.term == term_id:
                return book
        raise InvalidInput(f"there is no term {term_id}", {"term": [f"unknown term '{term_id}'"]})

    def term_for(self, day: date) -> PointsRulebook:
        """The rulebook of the term ``day`` falls in; InvalidInput when no term covers it."""
        for book in self.terms():
            if book.covers(day):
                return book
        raise InvalidInput(
            f"no term's points rulebook covers {day.isoformat()}",
            {"date": [f"{day.isoformat()} is outside every term in bpmn/rules/points"]},
        )


class RulebookPointsRules(PointsRules):
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._terms: list[PointsRulebook] | None = None

    def terms(self) -> list[PointsRulebook]:
        if self._terms is None:
            self._terms = rulebook.all_terms(self.folder)
        return self._terms
