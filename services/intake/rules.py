"""What intake needs from its two rulebooks and the working-day calendar.

:class:`IntakeRules` is the port; :class:`RulebookRules` reads ``bpmn/rules/proposal.yaml`` and
``bpmn/rules/opinion.yaml`` and counts working days on :class:`~shared.calendar.WorkingCalendar`.
The service builds one for each worker (``service.Rules``), so a changed rulebook or calendar file
counts from the next call on, as in supervision and assignment. Tests may pass rulebooks or a
calendar of their own.
"""

from __future__ import annotations

import abc
import functools
from datetime import datetime

from shared.calendar import WorkingCalendar
from shared.rulebook import Deadline, Label, ReplyCategory, Rulebook, deadline, load_rulebook

from .opinion_rules import load_opinion_rules


class IntakeRules(abc.ABC):
    # -- the proposal rulebook ---------------------------------------------------------------------
    @abc.abstractmethod
    def max_cosigners(self) -> int:
        """The most co-signers a joint proposal may invite (``cosigning.max_cosigners``)."""

    @abc.abstractmethod
    def format_limits(self) -> dict[str, int]:
        """One matter, one proposal: ``{max_title, max_total}`` characters (``format``)."""

    @abc.abstractmethod
    def areas(self) -> list[Label]:
        """The 1533 model's areas, in the rulebook's order: one list for proposals and opinion items."""

    @abc.abstractmethod
    def duplicate_threshold(self) -> float:
        """The score from which another proposal of the year is a possible duplicate."""

    @abc.abstractmethod
    def not_filed_reasons(self) -> list[Label]:
        """Why a proposal may be not filed (不予立案), in the rulebook's order."""

    @abc.abstractmethod
    def not_filed_reason(self, code: str) -> Label:
        """The not-filed reason ``code``; :class:`~shared.rulebook.RuleNotFound` if there is none."""

    @abc.abstractmethod
    def reply_categories(self) -> list[ReplyCategory]:
        """The enabled reply categories, in the rulebook's order."""

    @abc.abstractmethod
    def reply_category(self, code: str) -> ReplyCategory:
        """The enabled reply category ``code``; :class:`~shared.rulebook.RuleNotFound` if the
        rulebook lacks or disables it."""

    @abc.abstractmethod
    def proposal_provenance(self) -> dict[str, str]:
        """``{rulebook, rulebook_hash}``: the version and hash of the proposal rulebook in force."""

    @abc.abstractmethod
    def proposal_deadline(self, rule: str, start: datetime) -> Deadline:
        """The deadline of the proposal rule ``rule`` for an event at ``start``, with its provenance."""

    # -- the opinion rulebook ----------------------------------------------------------------------
    @abc.abstractmethod
    def opinion_rulebook(self) -> Rulebook:
        """The opinion rulebook: numbering, limits, checks, channels and instruction levels."""

    @abc.abstractmethod
    def opinion_deadline(self, rule: str, start: datetime) -> Deadline:
        """The deadline of the opinion rule ``rule`` for an event at ``start``, with its provenance."""


class RulebookRules(IntakeRules):
    """The rulebook files as they are when built; each file is read at most once per instance."""

    def __init__(
        self,
        proposal: Rulebook | None = None,
        opinion: Rulebook | None = None,
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self._proposal = proposal
        self._opinion = opinion
        self._calendar = calendar

    @functools.cached_property
    def proposal(self) -> Rulebook:
        return self._proposal or load_rulebook("proposal")

    @functools.cached_property
    def calendar(self) -> WorkingCalendar:
        return self._calendar or WorkingCalendar()

    def max_cosigners(self) -> int:
        return self.proposal.max_cosigners()

    def format_limits(self) -> dict[str, int]:
        return self.proposal.format_limits()

    def areas(self) -> list[Label]:
        return self.proposal.areas()

    def duplicate_threshold(self) -> float:
        return self.proposal.duplicate_threshold()

    def not_filed_reasons(self) -> list[Label]:
        return self.proposal.reasons()

    def not_filed_reason(self, code: str) -> Label:
        return self.proposal.reason(code)

    def reply_categories(self) -> list[ReplyCategory]:
        return self.proposal.reply_categories()

    def reply_category(self, code: str) -> ReplyCategory:
        return self.proposal.reply_category(code)

    def proposal_provenance(self) -> dict[str, str]:
        return {"rulebook": self.proposal.version, "rulebook_hash": self.proposal.content_hash}

    def proposal_deadline(self, rule: str, start: datetime) -> Deadline:
        return deadline(self.proposal, rule, start, self.calendar)

    def opinion_rulebook(self) -> Rulebook:
        if self._opinion is None:
            self._opinion = load_opinion_rules()
        return self._opinion

    def opinion_deadline(self, rule: str, start: datetime) -> Deadline:
        return deadline(self.opinion_rulebook(), rule, start, self.calendar)
