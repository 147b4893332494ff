"""The points rulebooks: one YAML file per term (届) in ``bpmn/rules/points/<term>.yaml``.

A file names its term and the term's dates, a ``version`` label, the correction window, the caps'
period, the grading (the 100-point view and its grade thresholds) and the ``rows``: which event,
member role and payload values earn how many points, counted in which unit, up to which cap.
It is identified exactly by ``content_hash`` (SHA-256 of the file's bytes), recorded with its
``version`` on every ledger entry it produced.

Which rulebook applies is decided by the date an event counts for (``PointsRules.term_for`` in ``rules.py``): a changed
rulebook is a new term's file and applies to that term's dates only. Terms must not overlap.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from marshmallow import Schema, ValidationError, validate, validates, validates_schema

from shared.contracts import field_types as fields

from shared import config
from shared.calendar import DataFileError, load_yaml

UNITS = ("event", "item", "half_day")  # unit of count: each event / once per item / per half day
CAP_PERIODS = ("year", "term")
PERIOD_KINDS = ("quarter", "year", "term")


class _RowSchema(Schema):
    activity = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*\Z"))
    zh = fields.String(required=True, validate=validate.Length(min=1))
    event = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+\.[a-z_][a-z0-9_.]*\Z"))
    role = fields.Raw(load_default=None, metadata={"description": "a role, a list of roles, or null: any"})
    when = fields.Dict(keys=fields.String(), load_default=dict)
    unless = fields.Dict(keys=fields.String(), load_default=dict)
    points = fields.Integer(required=True, strict=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    cap = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0))
    group = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*\Z"))

    @validates("role")
    def _role(self, value, **kwargs):
        roles = value if isinstance(value, list) else [value]
        if value is not None and not all(isinstance(r, str) and r for r in roles):
            raise ValidationError("a role, a list of roles, or null")


class _GradeSchema(Schema):
    code = fields.String(required=True)
    zh = fields.String(required=True)
    min = fields.Float(required=True, validate=validate.Range(min=0, max=100))


class _GradingSchema(Schema):
    full_marks = fields.Dict(
        keys=fields.String(validate=validate.OneOf(PERIOD_KINDS)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1)),
        required=True,
    )
    grades = fields.List(fields.Nested(_GradeSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _complete(self, data, **kwargs):
        missing = [k for k in PERIOD_KINDS if k not in data.get("full_marks", {})]
        if missing:
            raise ValidationError(f"full marks missing for: {', '.join(missing)}", field_name="full_marks")
        mins = [g["min"] for g in data.get("grades", [])]
        if mins != sorted(mins, reverse=True) or (mins and mins[-1] != 0):
            raise ValidationError("grades from the highest minimum down, the last with min 0", field_name="grades")


class _WindowSchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    unit = fields.String(required=True, validate=validate.OneOf(("days",)))


class PointsRulebookSchema(Schema):
    rulebook = fields.String(required=True, validate=validate.Equal("points"))
    term = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z_-]{1,20}\Z"))
    name = fields.String(required=True)
    starts = fields.Date(required=True)
    ends = fields.Date(required=True)
    version = fields.String(required=True, validate=validate.Length(min=1))
    title = fields.String()
    caps_per = fields.String(required=True, validate=validate.OneOf(CAP_PERIODS))
    activity_kinds = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]*\Z")), required=True, validate=validate.Length(min=1)
    )
    correction_window = fields.Nested(_WindowSchema, required=True)
    grading = fields.Nested(_GradingSchema, required=True)
    rows = fields.List(fields.Nested(_RowSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data.get("starts") and data.get("ends") and data["ends"] < data["starts"]:
            raise ValidationError("a term ends after it starts", field_name="ends")
        codes = [row["activity"] for row in data.get("rows", [])]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValidationError(f"duplicate activities: {', '.join(twice)}", field_name="rows")


@dataclass(frozen=True)
class Rule:
    activity: str
    zh: str
    event: str
    role: object
    when: dict
    unless: dict
    points: int
    unit: str
    cap: int | None
    group: str | None

    def matches(self, event_name: str, role: str | None, payload: dict) -> bool:
        if event_name != self.event:
            return False
        if self.role is not None and role not in (self.role if isinstance(self.role, list) else [self.role]):
            return False
        for key, wanted in self.when.items():
            if payload.get(key) not in (wanted if isinstance(wanted, list) else [wanted]):
                return False
        for key, unwanted in self.unless.items():
            if payload.get(key) in (unwanted if isinstance(unwanted, list) else [unwanted]):
                return False
        return True

    def as_dict(self) -> dict:
        return {
            "activity": self.activity,
            "zh": self.zh,
            "event": self.event,
            "role": self.role,
            "when": self.when,
            "unless": self.unless,
            "points": self.points,
            "unit": self.unit,
            "cap": self.cap,
            "group": self.group,
        }


@dataclass(frozen=True)
class PointsRulebook:
    term: str
    name: str
    starts: date
    ends: date
    version: str
    content_hash: str
    path: Path
    caps_per: str
    activity_kinds: list
    correction_window_days: int
    full_marks: dict
    grades: list
    rules: list = field(default_factory=list)

    def rule_for(self, event_name: str, role: str | None, payload: dict) -> Rule | None:
        """The first row that matches (rows are read top-down: put the narrower ones first)."""
        return next((r for r in self.rules if r.matches(event_name, role, payload)), None)

    def rule(self, activity: str) -> Rule | None:
        return next((r for r in self.rules if r.activity == activity), None)

    def covers(self, day: date) -> bool:
        return self.starts <= day <= self.ends

    def grade(self, total: float, period_kind: str) -> tuple[float, dict]:
        """The 100-point view of ``total`` points earned over a period of ``period_kind`` and its grade."""
        view = max(0.0, min(100.0, round(total * 100.0 / self.full_marks[period_kind], 1)))
        grade = next(g for g in self.grades if view >= g["min"])
        return view, {"code": grade["code"], "zh": grade["zh"]}

    def describe(self) -> dict:
        return {
            "term": self.term,
            "name": self.name,
            "starts": self.starts.isoformat(),
            "ends": self.ends.isoformat(),
            "version": self.version,
            "hash": self.content_hash,
            "file": self.path.name,
            "caps_per": self.caps_per,
            "activity_kinds": self.activity_kinds,
            "correction_window_days": self.correction_window_days,
            "full_marks": self.full_marks,
            "grades": self.grades,
            "rows": [r.as_dict() for r in self.rules],
        }


def directory() -> Path:
    """``<ZTC_BPMN_DIR>/rules/points``: read when asked, so an installation's own files count."""
    return config.load().bpmn_dir / "rules" / "points"


def load(path: Path) -> PointsRulebook:
    raw = path.read_bytes()
    data = load_yaml(path, PointsRulebookSchema(), raw=raw)
    return PointsRulebook(
        term=data["term"],
        name=data["name"],
        starts=data["starts"],
        ends=data["ends"],
        version=data["version"],
        content_hash="sha256:" + hashlib.sha256(raw).hexdigest(),
        path=path,
        caps_per=data["caps_per"],
        activity_kinds=data["activity_kinds"],
        correction_window_days=data["correction_window"]["amount"],
        full_marks=data["grading"]["full_marks"],
        grades=data["grading"]["grades"],
        rules=[Rule(**row) for row in data["rows"]],
    )


_cache: dict = {}


def all_terms(folder: Path | None = None) -> list[PointsRulebook]:
    """Every term's rulebook, oldest first. Reloaded when a file changes; overlapping terms raise."""
    folder = Path(folder or directory())
    files = sorted(folder.glob("*.yaml"))
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if _cache.get(folder, (None,))[0] != stamp:
        books = sorted((load(p) for p in files), key=lambda b: b.starts)
        for earlier, later in itertools.pairwise(books):
            if later.starts <= earlier.ends:
                raise DataFileError(
                    later.path,
                    {"starts": [f"overlaps term {earlier.term} ({earlier.path.name}), which ends {earlier.ends}"]},
                )
        terms = [b.term for b in books]
        if len(set(terms)) != len(terms):
            raise DataFileError(folder, {"term": ["two files name the same term"]})
        _cache[folder] = (stamp, books)
    return _cache[folder][1]
