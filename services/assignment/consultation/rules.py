"""The micro-consultation rulebook (``bpmn/rules/micro_consultation.yaml``): durations, outcomes,
meeting forms, venue kinds, satisfaction levels, re-opening and close reasons.

Loaded and checked like the other rulebooks (``shared.rulebook``), with its own schema, and
answered as a :class:`shared.rulebook.Rulebook` so :func:`shared.rulebook.deadline` computes each
case's deadlines with provenance. No time limit of the process lives in code.
"""
from __future__ import annotations

import functools
import hashlib
from datetime import timezone
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate

from shared.calendar import DataFileError, WorkingCalendar, load_yaml
from shared.errors import BusinessError, InvalidInput
from shared.rulebook import RULES_DIRECTORY, Rulebook, RulebookSchema, _labels, deadline

NAME = "micro_consultation"
DURATIONS = ("take_case", "commitment", "commitment_reminder", "follow_up", "follow_up_again",
             "follow_up_reminder")
from shared.contracts.jobs.assignment import OUTCOMES  # noqa: E402 - the diagram branches on these
VENUE_KINDS = ("contact_point", "reception_room", "consultation_room", "sector_studio")


class _Numbering(Schema):
    prefix = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{1,6}$"))


class ConsultationRulebookSchema(RulebookSchema):
    numbering = fields.Nested(_Numbering, required=True)
    outcomes = _labels(required=True)
    meeting_forms = _labels(required=True)
    venue_kinds = _labels(required=True)
    satisfaction = _labels(required=True)
    reopen_on = fields.List(fields.String(), required=True)
    max_reopen = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    close_reasons = _labels(required=True)

    def load(self, data, **kwargs):
        loaded = super().load(data, **kwargs)
        missing = [name for name in DURATIONS if name not in loaded["durations"]]
        if missing:
            raise ValidationError({"durations": [f"missing rules: {', '.join(missing)}"]})
        for section, expected in (("outcomes", OUTCOMES), ("venue_kinds", VENUE_KINDS)):
            if sorted(item.code for item in loaded[section]) != sorted(expected):
                raise ValidationError({section: [f"the diagram and the directory know exactly: {', '.join(expected)}"]})
        levels = [item.code for item in loaded["satisfaction"]]
        unknown = [code for code in loaded["reopen_on"] if code not in levels]
        if unknown:
            raise ValidationError({"reopen_on": [f"not satisfaction levels: {', '.join(unknown)}"]})
        if "converted" not in [item.code for item in loaded["close_reasons"]]:
            raise ValidationError({"close_reasons": ["a close reason 'converted' is needed for cases carried "
                                                     "on in their thread"]})
        return loaded


def load_consultation_rules(path: str | Path | None = None) -> Rulebook:
    path = Path(path) if path is not None else RULES_DIRECTORY / f"{NAME}.yaml"
    raw = path.read_bytes()
    rules = load_yaml(path, ConsultationRulebookSchema(), raw)
    if rules["rulebook"] != NAME:
        raise DataFileError(path, {"rulebook": [f"is {rules['rulebook']!r}, not {NAME!r}"]})
    return Rulebook(NAME, rules["version"], "sha256:" + hashlib.sha256(raw).hexdigest(), path, rules)


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
        raise InvalidInput(f"{code!r} is not in {section} of rulebook {NAME} {rulebook.version}",
                           {field: [f"one of: {', '.join(codes(rulebook, section))}"]})
    return found


def require_for_job(rulebook: Rulebook, section: str, code: str, error: str):
    """Like :func:`require` inside a job: the BPMN error ``error`` sends the task back."""
    found = label(rulebook, section, code)
    if found is None:
        raise BusinessError(error, f"{code!r} is not in {section} of rulebook {NAME} {rulebook.version}; "
                                   f"it has: {', '.join(codes(rulebook, section))}")
    return found


def due(rulebook: Rulebook, rule: str, start) -> tuple[str, dict]:
    """The moment (UTC ISO) ``rule`` runs out for an event at ``start``, and its provenance."""
    found = deadline(rulebook, rule, start, WorkingCalendar())
    return found.ends_at.astimezone(timezone.utc).isoformat(), found.as_dict()
