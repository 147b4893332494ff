"""The micro-consultation rulebook (``bpmn/rules/micro_consultation.yaml``): durations, outcomes,
meeting forms, venue kinds, satisfaction levels, re-opening and close reasons.

Loaded and checked like the other rulebooks (``shared.rulebook``), with its own schema, and
answered as a :class:`shared.rulebook.Rulebook` so :func:`shared.rulebook.deadline` computes each
case's deadlines with provenance. No time limit of the process lives in code.

:class:`ConsultationRules` is the port the case modules use; :class:`RulebookConsultationRules`
reads the file, built for each worker of the service (a changed rulebook or calendar counts at once).
"""

from __future__ import annotations

import abc
from datetime import datetime
from pathlib import Path
from typing import Any

from shared import clock
from shared.calendar import WorkingCalendar
from shared.errors import BusinessError, InvalidInput
from shared.rulebook import RULES_DIRECTORY, Label, Rulebook, deadline  # noqa: F401

from shared.contracts.jobs.assignment import OUTCOMES  # noqa: F401 - the diagram branches on these
from shared.contracts.rpc.consultations import VENUE_KINDS  # noqa: F401
from shared.rulebook import CONSULTATION_DURATIONS as DURATIONS  # noqa: F401
from shared.rulebook import ConsultationRulebookSchema, current_rulebook, load_rulebook  # noqa: F401

NAME = "micro_consultation"


def load_consultation_rules(path: str | Path | None = None) -> Rulebook:
    return load_rulebook(NAME, path)


class ConsultationRules(abc.ABC):
    """What micro-consultation needs from its rulebook and the working-day calendar."""

    @abc.abstractmethod
    def version(self) -> str:
        """The rulebook's version (kept on each case registered under it)."""

    @abc.abstractmethod
    def numbering_prefix(self) -> str:
        """The prefix of a case number (``<prefix>-<year>-<sequence>``)."""

    @abc.abstractmethod
    def due(self, rule: str, start: datetime) -> tuple[str, dict[str, Any]]:
        """The moment (UTC ISO) ``rule`` runs out for an event at ``start``, and its provenance."""

    @abc.abstractmethod
    def codes(self, section: str) -> list[str]:
        """The codes of a section of labels (``outcomes``, ``meeting_forms``, ``satisfaction`` ...)."""

    @abc.abstractmethod
    def label(self, section: str, code: str) -> Label | None:
        """The label ``code`` of ``section``, or None."""

    @abc.abstractmethod
    def reopen_on(self) -> list[str]:
        """The satisfaction levels that send a case back to the member."""

    @abc.abstractmethod
    def max_reopen(self) -> int:
        """How often a case may be sent back."""


class RulebookConsultationRules(ConsultationRules):
    """``bpmn/rules/micro_consultation.yaml`` and the calendar, as read when built (once per worker)."""

    def __init__(self, rulebook: Rulebook | None = None, calendar: WorkingCalendar | None = None):
        self.rulebook = rulebook or load_consultation_rules()
        self.calendar = calendar or WorkingCalendar()

    def version(self) -> str:
        return self.rulebook.version

    def numbering_prefix(self) -> str:
        return str(self.rulebook.rules["numbering"]["prefix"])

    def due(self, rule: str, start: datetime) -> tuple[str, dict[str, Any]]:
        return due(self.rulebook, rule, start, self.calendar)

    def codes(self, section: str) -> list[str]:
        return codes(self.rulebook, section)

    def label(self, section: str, code: str) -> Label | None:
        return label(self.rulebook, section, code)

    def reopen_on(self) -> list[str]:
        return list(self.rulebook.rules["reopen_on"])

    def max_reopen(self) -> int:
        return int(self.rulebook.rules["max_reopen"])


def codes(rulebook: Rulebook, section: str) -> list[str]:
    return [label.code for label in rulebook.rules[section]]


def label(rulebook: Rulebook, section: str, code: str) -> Label | None:
    found: Label | None = next((item for item in rulebook.rules[section] if item.code == code), None)
    return found


def require(rules: ConsultationRules, section: str, code: str, field: str) -> Label:
    """The label ``code`` of ``section``; one the rulebook lacks is refused naming ``field``."""
    found = rules.label(section, code)
    if found is None:
        raise InvalidInput(
            f"{code!r} is not in {section} of rulebook {NAME} {rules.version()}",
            {field: [f"one of: {', '.join(rules.codes(section))}"]},
        )
    return found


def require_for_job(rules: ConsultationRules, section: str, code: str, error: str) -> Label:
    """Like :func:`require` inside a job: the BPMN error ``error`` sends the task back."""
    found = rules.label(section, code)
    if found is None:
        raise BusinessError(
            error,
            f"{code!r} is not in {section} of rulebook {NAME} {rules.version()}; "
            f"it has: {', '.join(rules.codes(section))}",
        )
    return found


def due(
    rulebook: Rulebook, rule: str, start: datetime, calendar: WorkingCalendar | None = None
) -> tuple[str, dict[str, Any]]:
    """The moment (UTC ISO) ``rule`` runs out for an event at ``start``, and its provenance."""
    found = deadline(rulebook, rule, start, calendar or WorkingCalendar())
    return clock.as_utc(found.ends_at).isoformat(), found.as_dict()
