"""The micro-consultation rulebook (``bpmn/rules/micro_consultation.yaml``): durations, outcomes,
meeting forms, venue kinds, satisfaction levels, re-opening and close reasons.

Loaded and checked like the other rulebooks (``shared.rulebook``), with its own schema, and
answered as a :class:`shared.rulebook.Rulebook` so :func:`shared.rulebook.deadline` computes each
case's deadlines with provenance. No time limit of the process lives in code.
"""

from __future__ import annotations

import functools
from pathlib import Path


from shared import clock
from shared.calendar import WorkingCalendar
from shared.errors import BusinessError, InvalidInput
from shared.rulebook import RULES_DIRECTORY, Rulebook, deadline  # noqa: F401

from shared.contracts.jobs.assignment import OUTCOMES  # noqa: F401 - the diagram branches on these
from shared.contracts.rpc.consultations import VENUE_KINDS  # noqa: F401
from shared.rulebook import CONSULTATION_DURATIONS as DURATIONS  # noqa: F401
from shared.rulebook import ConsultationRulebookSchema, current_rulebook, load_rulebook  # noqa: F401

NAME = "micro_consultation"


def load_consultation_rules(path: str | Path | None = None) -> Rulebook:
    return load_rulebook(NAME, path)


@functools.lru_cache(maxsize=1)
def _cached(path: str, mtime: float) -> Rulebook:
    return load_consultation_rules(path)


def current() -> Rulebook:
    """The rulebook as the file is now (reloaded when it changes)."""
    path = RULES_DIRECTORY / f"{NAME}.yaml"
    return _cached(str(path), path.stat().st_mtime)


def codes(rulebook: Rulebook, section: str) -> list[str]:
    return [label.code for label in rulebook.rules[section]]


def label(rulebook: Rulebook, section: str, code: str):
    for item in rulebook.rules[section]:
        if item.code == code:
            return item
    return None


def require(rulebook: Rulebook, section: str, code: str, field: str):
    """The label ``code`` of ``section``; one the rulebook lacks is refused naming ``field``."""
    found = label(rulebook, section, code)
    if found is None:
        raise InvalidInput(
            f"{code!r} is not in {section} of rulebook {NAME} {rulebook.version}",
            {field: [f"one of: {', '.join(codes(rulebook, section))}"]},
        )
    return found


def require_for_job(rulebook: Rulebook, section: str, code: str, error: str):
    """Like :func:`require` inside a job: the BPMN error ``error`` sends the task back."""
    found = label(rulebook, section, code)
    if found is None:
        raise BusinessError(
            error,
            f"{code!r} is not in {section} of rulebook {NAME} {rulebook.version}; "
            f"it has: {', '.join(codes(rulebook, section))}",
        )
    return found


def due(rulebook: Rulebook, rule: str, start) -> tuple[str, dict]:
    """The moment (UTC ISO) ``rule`` runs out for an event at ``start``, and its provenance."""
    found = deadline(rulebook, rule, start, WorkingCalendar())
    return clock.as_utc(found.ends_at).isoformat(), found.as_dict()
