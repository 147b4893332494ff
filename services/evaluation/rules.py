"""What evaluation needs from the proposal rulebook and the working-day calendar.

:class:`EvaluationRules` is the port: the rating and appeal windows (counted on the calendar), the
satisfaction levels, reply categories, the handling and co-unit checklists, the quality checklist
and the units' assessment weights, and the identity of the rulebook in force (``name``, ``version``,
``content_hash``, recorded with every handling score). The rulebook questions are named as
:class:`~shared.rulebook.Rulebook` names them, so the checklist functions (``checklist.score``,
``quality.score_checklist``) read a rules port or a rulebook alike.

:class:`RulebookRules` reads ``bpmn/rules/proposal.yaml`` and counts on
:class:`~shared.calendar.WorkingCalendar`; the service builds one for each worker (``Rules`` in
``service.py``), so a changed rulebook or calendar file counts at once. Tests may pass a rulebook or
a calendar of their own.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

from shared.calendar import WorkingCalendar
from shared.rulebook import ChecklistItem, Label, ReplyCategory, Rulebook, deadline, load_rulebook


class EvaluationRules(abc.ABC):
    name: str
    version: str
    content_hash: str

    @abc.abstractmethod
    def rating_window_ends(self, opened_at: datetime) -> datetime:
        """When a rating round opened at ``opened_at`` stops taking ratings (rule ``rating_window``)."""

    @abc.abstractmethod
    def appeal_window_ends(self, closed_at: datetime) -> datetime:
        """Until when a round closed at ``closed_at`` may be appealed (rule ``appeal_window``)."""

    @abc.abstractmethod
    def satisfaction_levels(self) -> list[Label]: ...

    @abc.abstractmethod
    def reply_categories(self) -> list[ReplyCategory]:
        """The enabled reply categories."""

    @abc.abstractmethod
    def handling_checklist(self) -> list[ChecklistItem]: ...

    @abc.abstractmethod
    def handling_checklist_total(self) -> int: ...

    @abc.abstractmethod
    def handling_checklist_rules(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def co_unit_checklist(self) -> list[ChecklistItem]: ...

    @abc.abstractmethod
    def co_unit_checklist_total(self) -> int: ...

    @abc.abstractmethod
    def co_unit_checklist_rules(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def unit_assessment(self) -> dict[str, Any]:
        """The units' assessment: ``{scale, weights: {component: weight}}``."""

    @abc.abstractmethod
    def quality_grades(self) -> list[Label]: ...

    @abc.abstractmethod
    def quality_standards(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def quality_checklist_total(self) -> int: ...

    @abc.abstractmethod
    def quality_grade_for(self, points: int) -> str: ...


class RulebookRules(EvaluationRules):
    def __init__(self, rulebook: Rulebook | None = None, calendar: WorkingCalendar | None = None) -> None:
        self.rulebook = rulebook or load_rulebook("proposal")
        self.calendar = calendar or WorkingCalendar()
        self.name, self.version = self.rulebook.name, self.rulebook.version
        self.content_hash = self.rulebook.content_hash

    def rating_window_ends(self, opened_at: datetime) -> datetime:
        return deadline(self.rulebook, "rating_window", opened_at, self.calendar).ends_at

    def appeal_window_ends(self, closed_at: datetime) -> datetime:
        return deadline(self.rulebook, "appeal_window", closed_at, self.calendar).ends_at

    def satisfaction_levels(self) -> list[Label]:
        return self.rulebook.satisfaction_levels()

    def reply_categories(self) -> list[ReplyCategory]:
        return self.rulebook.reply_categories()

    def handling_checklist(self) -> list[ChecklistItem]:
        return self.rulebook.handling_checklist()

    def handling_checklist_total(self) -> int:
        return self.rulebook.handling_checklist_total()

    def handling_checklist_rules(self) -> dict[str, Any]:
        return self.rulebook.handling_checklist_rules()

    def co_unit_checklist(self) -> list[ChecklistItem]:
        return self.rulebook.co_unit_checklist()

    def co_unit_checklist_total(self) -> int:
        return self.rulebook.co_unit_checklist_total()

    def co_unit_checklist_rules(self) -> dict[str, Any]:
        return self.rulebook.co_unit_checklist_rules()

    def unit_assessment(self) -> dict[str, Any]:
        return self.rulebook.unit_assessment()

    def quality_grades(self) -> list[Label]:
        return self.rulebook.quality_grades()

    def quality_standards(self) -> list[dict[str, Any]]:
        return self.rulebook.quality_standards()

    def quality_checklist_total(self) -> int:
        return self.rulebook.quality_checklist_total()

    def quality_grade_for(self, points: int) -> str:
        return self.rulebook.quality_grade_for(points)
