"""The opinion rulebook (``bpmn/rules/opinion.yaml``): limits, durations, checks, channels, levels.

Loaded and checked like the proposal rulebook (``shared.rulebook``), with its own schema, and
answered as a :class:`shared.rulebook.Rulebook` so :func:`shared.rulebook.deadline` computes its
deadlines with provenance.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from marshmallow import Schema, ValidationError, validate

from shared.contracts import field_types as fields

from shared.calendar import DataFileError, load_yaml
from shared.errors import BusinessError
from shared.rulebook import RULES_DIRECTORY, Rulebook, RulebookSchema, _labels

DURATIONS = ("adoption_wait", "forward_answer", "overdue_reminder")
CHECKS = ("political", "facts", "content", "wording")


class _Numbering(Schema):
    prefix = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{1,6}\Z"))
    issue_digits = fields.Integer(required=True, strict=True, validate=validate.Range(1, 6))


class _Limits(Schema):
    max_title = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    max_characters = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class OpinionRulebookSchema(RulebookSchema):
    numbering = fields.Nested(_Numbering, required=True)
    limits = fields.Nested(_Limits, required=True)
    urgent_first = fields.Boolean(required=True)
    checks = _labels(required=True)
    channels = _labels(required=True)
    instruction_levels = _labels(required=True)

    def _validate_checks(self, data):
        missing = [name for name in DURATIONS if name not in data["durations"]]
        if missing:
            raise ValidationError(f"missing rules: {', '.join(missing)}", "durations")
        codes = [c.code for c in data["checks"]]
        if sorted(codes) != sorted(CHECKS):
            raise ValidationError(f"the four checks are {', '.join(CHECKS)}", "checks")

    def load(self, data, **kwargs):
        loaded = super().load(data, **kwargs)
        self._validate_checks(loaded)
        return loaded


def load_opinion_rules(path: str | Path | None = None) -> Rulebook:
    path = Path(path) if path is not None else RULES_DIRECTORY / "opinion.yaml"
    raw = path.read_bytes()
    rules = load_yaml(path, OpinionRulebookSchema(), raw)
    if rules["rulebook"] != "opinion":
        raise DataFileError(path, {"rulebook": [f"is {rules['rulebook']!r}, not 'opinion'"]})
    return Rulebook("opinion", rules["version"], "sha256:" + hashlib.sha256(raw).hexdigest(), path, rules)


def codes(rulebook: Rulebook, section: str) -> list[str]:
    return [label.code for label in rulebook.rules[section]]


def label(rulebook: Rulebook, section: str, code: str, error: str):
    """The label ``code`` of ``section``; one the rulebook lacks is the BPMN error ``error``."""
    for item in rulebook.rules[section]:
        if item.code == code:
            return item
    raise BusinessError(
        error,
        f"{code!r} is not in {section} of rulebook opinion {rulebook.version}; "
        f"it has: {', '.join(codes(rulebook, section))}",
    )


def provenance(rulebook: Rulebook) -> dict:
    return {"rulebook": rulebook.version, "rulebook_hash": rulebook.content_hash}
