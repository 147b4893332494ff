"""What the assignment rules need from the rulebook and the working-day calendar.

:class:`AssignmentRules` is the port; :class:`RulebookRules` reads ``bpmn/rules/proposal.yaml``
and counts working days on :class:`~shared.calendar.WorkingCalendar`. Tests may pass a rulebook
of their own (say, one that enables category D).
"""

from __future__ import annotations

import abc
from datetime import datetime

from shared.calendar import WorkingCalendar
from shared.rulebook import ContactKind, Deadline, Rulebook, deadline, load_rulebook

from .routing import routing_rules


class AssignmentRules(abc.ABC):
    @abc.abstractmethod
    def objection_deadline(self, assigned_at: datetime) -> Deadline:
        """Until when a unit may object to an assignment made at ``assigned_at``."""

    @abc.abstractmethod
    def reply_categories(self) -> list[str]:
        """The enabled reply categories, the most favourable first (A before B before C)."""

    @abc.abstractmethod
    def max_milestones(self) -> int:
        """The most milestones a category B reply may promise (``followup.max_milestones``)."""

    @abc.abstractmethod
    def contact_kinds(self) -> list[ContactKind]:
        """The ways a unit contacts the proposer (``contact_kinds``), face-to-face ones marked."""

    @abc.abstractmethod
    def routing(self) -> dict:
        """The rulebook's routing section (keywords, similar titles), checked, with its provenance."""


class RulebookRules(AssignmentRules):
    def __init__(self, rulebook: Rulebook | None = None, calendar: WorkingCalendar | None = None):
        self.rulebook = rulebook or load_rulebook("proposal")
        self.calendar = calendar or WorkingCalendar()

    def objection_deadline(self, assigned_at: datetime) -> Deadline:
        # A year without an official schedule is counted provisionally (the account says so); a
        # date no source knows raises UnknownCalendarDate: never guessed in silence.
        return deadline(self.rulebook, "objection_window", assigned_at, self.calendar)

    def reply_categories(self) -> list[str]:
        return [category.code for category in self.rulebook.reply_categories()]

    def max_milestones(self) -> int:
        return self.rulebook.max_milestones()

    def contact_kinds(self) -> list[ContactKind]:
        return self.rulebook.contact_kinds()

    def routing(self) -> dict:
        return routing_rules(self.rulebook)
