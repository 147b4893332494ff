"""Versioned rulebooks: the numbers and lists a committee may set differently, kept as YAML data.

A rulebook lives at ``bpmn/rules/<name>.yaml`` and is checked against a marshmallow schema when
loaded; a bad file raises :class:`~shared.calendar.DataFileError` naming the file and the field.
It carries the committee's ``version`` label and is identified exactly by ``content_hash``, the
SHA-256 of the file's bytes (so anyone can check it with ``sha256sum``).

:func:`deadline` turns a duration rule into a :class:`Deadline` that records where it came from:
the rule, the rulebook's name, version and hash, the start, and for working-day rules the
calendar's day-by-day explanation. These are the deadlines anyone can audit.

A deadline's ``due`` date is the last day on which the work is on time; the deadline passes at
the end of that day, Chinese local time (:attr:`Deadline.ends_at`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

from marshmallow import Schema, ValidationError, post_load, validate, validates, validates_schema

from shared.contracts import field_types as fields

from shared.calendar import CHINA_TZ, DataFileError, WorkingCalendar, load_yaml, local_date
from shared import config, yamlio
from shared.contracts.jobs.assignment import OUTCOMES
from shared.contracts.rpc.consultations import VENUE_KINDS

# Follows ZTC_BPMN_DIR, so an installation keeps its rulebooks beside its diagrams.
RULES_DIRECTORY = config.load().bpmn_dir / "rules"
UNITS = ("months", "days", "working_days")
# The proposal diagram relies on every one of these; a proposal rulebook without one is refused.
PROPOSAL_DURATIONS = (
    "cosign_window",
    "objection_window",
    "sign_for_limit",
    "co_unit_input",
    "reply_deadline",
    "max_extension",
    "rehandling_reply",
    "rating_window",
    "appeal_window",
)


class RuleNotFound(KeyError):
    """A rule, code or section the rulebook does not have."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str


@dataclass(frozen=True)
class Label:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class ReplyCategory(Label):
    enabled: bool = True


@dataclass(frozen=True)
class ChecklistItem(Label):
    points: int = 0


@dataclass(frozen=True)
class ContactKind(Label):
    face_to_face: bool = False  # counts for the handling checklist's face-to-face item


def _unique_codes(items: Iterable[Label]) -> None:
    codes = [item.code for item in items]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ValidationError(f"duplicate codes: {', '.join(duplicates)}")


class _DurationSchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: object) -> Duration:
        return Duration(**data)


class _Durations(fields.Field[dict[str, Duration]]):
    """A mapping of rule name to duration (fields.Dict would nest errors under a "value" key)."""

    def _deserialize(
        self, value: object, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Duration]:
        if not isinstance(value, dict):
            raise ValidationError("Expected a mapping of rule name to {amount, unit}.")
        loaded: dict[str, Duration] = {}
        errors: dict[str, Any] = {}
        for name, spec in value.items():
            try:
                loaded[str(name)] = _DurationSchema().load(spec)
            except ValidationError as exc:
                errors[str(name)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return loaded


class _LabelSchema(Schema):
    made = Label
    code = fields.String(required=True, validate=validate.Length(min=1))
    zh = fields.String(required=True, validate=validate.Length(min=1))
    en = fields.String(required=True, validate=validate.Length(min=1))

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: object) -> Label:
        return self.made(**data)


class _CategorySchema(_LabelSchema):
    made = ReplyCategory
    enabled = fields.Boolean(load_default=True)


class _ChecklistItemSchema(_LabelSchema):
    made = ChecklistItem
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class _ContactKindSchema(_LabelSchema):
    made = ContactKind
    face_to_face = fields.Boolean(load_default=False)


def _labels(schema: type[_LabelSchema] = _LabelSchema, **kwargs: Any) -> fields.List[Label]:
    return fields.List(fields.Nested(schema), validate=[validate.Length(min=1), _unique_codes], **kwargs)


class _LeadTimes(fields.Field[dict[str, list[Duration]]]):
    """A mapping of rule name to its own reminder lead times (a short limit needs shorter ones)."""

    def _deserialize(
        self, value: object, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, list[Duration]]:
        if not isinstance(value, dict):
            raise ValidationError("Expected a mapping of rule name to a list of {amount, unit}.")
        loaded: dict[str, list[Duration]] = {}
        errors: dict[str, Any] = {}
        for name, specs in value.items():
            try:
                loaded[str(name)] = _DurationSchema(many=True).load(specs)
            except ValidationError as exc:
                errors[str(name)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return loaded


class _RemindersSchema(Schema):
    before_deadline = fields.List(fields.Nested(_DurationSchema), required=True)
    by_rule = _LeadTimes(load_default=dict)


class _SatisfactionSchema(Schema):
    levels = _labels(required=True)
    scores = _labels(required=True)


class _KeyProposalsSchema(Schema):
    share_min = fields.Float(required=True, validate=validate.Range(0, 1))
    share_max = fields.Float(required=True, validate=validate.Range(0, 1))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["share_min"] > data["share_max"]:
            raise ValidationError("share_min is larger than share_max", field_name="share_min")


class _Share(fields.Field[Fraction]):
    """A share from 0 to 1: a number, or a fraction written ``1/4``; loaded as a Fraction."""

    def _deserialize(self, value: object, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Fraction:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationError("Expected a share from 0 to 1: a number or a fraction like 1/4.")
        try:
            share = Fraction(str(value).strip())
        except (ValueError, ZeroDivisionError):
            raise ValidationError(f"{value!r} is not a number or a fraction like 1/4.") from None
        if not 0 <= share <= 1:
            raise ValidationError(f"{value} is not between 0 and 1.")
        return share


def _shares(**kwargs: Any) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1)), values=_Share(), validate=validate.Length(min=1), **kwargs
    )


class _OrganisationRules(Schema):
    late_signing = _Share(required=True)


class _ProcedureRules(Schema):
    per_rehandling = _Share(required=True)


class _FaceToFaceRules(Schema):
    no_meeting = _Share(required=True)


class _TimelinessRules(Schema):
    per_extension = _Share(required=True)
    on_time_floor = _Share(required=True)
    late_reply = _Share(required=True)


class _ResultRules(Schema):
    categories = _shares(required=True)
    levels = _shares(required=True)


class _ChecklistRulesSchema(Schema):
    organisation = fields.Nested(_OrganisationRules, required=True)
    procedure = fields.Nested(_ProcedureRules, required=True)
    face_to_face = fields.Nested(_FaceToFaceRules, required=True)
    timeliness = fields.Nested(_TimelinessRules, required=True)
    result = fields.Nested(_ResultRules, required=True)


class _ChecklistSchema(Schema):
    total = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    items = _labels(_ChecklistItemSchema, required=True)
    rules = fields.Nested(_ChecklistRulesSchema)

    @validates_schema
    def _adds_up(self, data: dict[str, Any], **kwargs: object) -> None:
        points = sum(item.points for item in data["items"])
        if points != data["total"]:
            raise ValidationError(f"points add up to {points}, not the total {data['total']}", field_name="items")


class _SigningRules(Schema):
    late = _Share(required=True)


class _InputRules(Schema):
    late = _Share(required=True)
    not_sent = _Share(required=True)


class _CoUnitChecklistRulesSchema(Schema):
    signing = fields.Nested(_SigningRules, required=True)
    input = fields.Nested(_InputRules, required=True)


class _CoUnitChecklistSchema(_ChecklistSchema):
    """A co-unit's (协办) checklist: its signing and its input to the lead, on their own points."""

    rules = fields.Nested(_CoUnitChecklistRulesSchema, required=True)


class _StandardSchema(Schema):
    """One standard of the quality checklist, with its items (each with points)."""

    code = fields.String(required=True, validate=validate.Length(min=1))
    zh = fields.String(required=True, validate=validate.Length(min=1))
    en = fields.String(required=True, validate=validate.Length(min=1))
    items = _labels(_ChecklistItemSchema, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: object) -> dict[str, Any]:
        return {"label": Label(data["code"], data["zh"], data["en"]), "items": data["items"]}


class _GradeThresholdSchema(Schema):
    grade = fields.String(required=True, validate=validate.Length(min=1))
    min = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class _QualityChecklistSchema(Schema):
    total = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    standards = fields.List(fields.Nested(_StandardSchema), required=True, validate=validate.Length(min=1))
    grades = fields.List(fields.Nested(_GradeThresholdSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _adds_up_and_grades_fall(self, data: dict[str, Any], **kwargs: object) -> None:
        items = [item for standard in data["standards"] for item in standard["items"]]
        codes = [item.code for item in items]
        if len(set(codes)) != len(codes):
            raise ValidationError("each item code once across the standards", field_name="standards")
        points = sum(item.points for item in items)
        if points != data["total"]:
            raise ValidationError(f"points add up to {points}, not the total {data['total']}", field_name="standards")
        minimums = [row["min"] for row in data["grades"]]
        if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums) or minimums[-1] != 0:
            raise ValidationError("the grades' minimums fall strictly, highest first, down to 0", field_name="grades")


ASSESSMENT_COMPONENTS = ("handling", "on_time", "satisfaction")


class _AssessmentSchema(Schema):
    scale = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))
    weights = _shares(required=True)

    @validates("weights")
    def _every_component_adding_up(self, value: dict[str, Fraction], **kwargs: object) -> None:
        if sorted(value) != sorted(ASSESSMENT_COMPONENTS):
            raise ValidationError(f"give exactly these weights: {', '.join(ASSESSMENT_COMPONENTS)}")
        if sum(value.values()) != 1:
            raise ValidationError(f"the weights add up to {float(sum(value.values()))}, not 1")


class _FormatSchema(Schema):
    max_title = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=200))
    max_total = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))


class _DuplicatesSchema(Schema):
    threshold = fields.Float(required=True, validate=validate.Range(0, 1, min_inclusive=False))


class _CosigningSchema(Schema):
    max_cosigners = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1000))


class _FollowupSchema(Schema):
    max_milestones = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))


class RulebookSchema(Schema):
    """Any rulebook: a name, a version and durations; the other sections where they apply."""

    rulebook = fields.String(required=True, validate=validate.Length(min=1))
    version = fields.String(required=True, validate=validate.Length(min=1))
    title = fields.String()
    durations = _Durations(required=True)
    reminders = fields.Nested(_RemindersSchema)
    cosigning = fields.Nested(_CosigningSchema)
    followup = fields.Nested(_FollowupSchema)
    contact_kinds = _labels(_ContactKindSchema)
    reply_categories = _labels(_CategorySchema)
    not_filed_reasons = _labels()
    satisfaction = fields.Nested(_SatisfactionSchema)
    key_proposals = fields.Nested(_KeyProposalsSchema)
    handling_checklist = fields.Nested(_ChecklistSchema)
    co_unit_checklist = fields.Nested(_CoUnitChecklistSchema)
    format = fields.Nested(_FormatSchema)
    unit_assessment = fields.Nested(_AssessmentSchema)
    duplicates = fields.Nested(_DuplicatesSchema)
    quality_grades = _labels()
    quality_checklist = fields.Nested(_QualityChecklistSchema)
    areas = _labels()
    routing = fields.Dict(keys=fields.String())  # checked by services/assignment/routing.py


class ProposalRulebookSchema(RulebookSchema):
    """The proposal rulebook: every section is required."""

    reminders = fields.Nested(_RemindersSchema, required=True)
    cosigning = fields.Nested(_CosigningSchema, required=True)
    followup = fields.Nested(_FollowupSchema, required=True)
    contact_kinds = _labels(_ContactKindSchema, required=True)
    reply_categories = _labels(_CategorySchema, required=True)
    not_filed_reasons = _labels(required=True)
    satisfaction = fields.Nested(_SatisfactionSchema, required=True)
    key_proposals = fields.Nested(_KeyProposalsSchema, required=True)
    handling_checklist = fields.Nested(_ChecklistSchema, required=True)
    co_unit_checklist = fields.Nested(_CoUnitChecklistSchema, required=True)
    format = fields.Nested(_FormatSchema, required=True)
    unit_assessment = fields.Nested(_AssessmentSchema, required=True)
    duplicates = fields.Nested(_DuplicatesSchema, required=True)
    quality_grades = _labels(required=True)
    quality_checklist = fields.Nested(_QualityChecklistSchema, required=True)
    areas = _labels(required=True)

    @validates_schema
    def _checklist_grades_are_quality_grades(self, data: dict[str, Any], **kwargs: object) -> None:
        if "quality_checklist" not in data or "quality_grades" not in data:
            return
        codes = {grade.code for grade in data["quality_grades"]}
        unknown = [row["grade"] for row in data["quality_checklist"]["grades"] if row["grade"] not in codes]
        if unknown:
            raise ValidationError(
                {"grades": [f"not among quality_grades: {', '.join(unknown)}"]}, field_name="quality_checklist"
            )

    @validates("handling_checklist")
    def _checklist_has_rules(self, value: dict[str, Any], **kwargs: object) -> None:
        if value.get("rules") is None:
            raise ValidationError({"rules": ["Missing data for required field."]})

    @validates("quality_grades")
    def _has_excellent(self, value: list[Label], **kwargs: object) -> None:
        if "excellent" not in [grade.code for grade in value]:
            raise ValidationError("a grade 'excellent' (优秀提案) is needed: excellent proposals earn points")

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = super().load(data, **kwargs)
        result = loaded["handling_checklist"]["rules"]["result"]
        missing = [c.code for c in loaded["reply_categories"] if c.code not in result["categories"]]
        if missing:
            raise ValidationError(
                {
                    "handling_checklist": {
                        "rules": {"result": {"categories": [f"no share for reply categories: {', '.join(missing)}"]}}
                    }
                }
            )
        missing = [level.code for level in loaded["satisfaction"]["levels"] if level.code not in result["levels"]]
        if missing:
            raise ValidationError(
                {
                    "handling_checklist": {
                        "rules": {"result": {"levels": [f"no share for satisfaction levels: {', '.join(missing)}"]}}
                    }
                }
            )
        return loaded

    @validates("durations")
    def _has_every_duration(self, value: dict[str, Duration], **kwargs: object) -> None:
        missing = [name for name in PROPOSAL_DURATIONS if name not in value]
        if missing:
            raise ValidationError(f"missing rules: {', '.join(missing)}")


# -- the micro-consultation rulebook ----------------------------------------------------------------
CONSULTATION_DURATIONS = (
    "take_case",
    "commitment",
    "commitment_reminder",
    "follow_up",
    "follow_up_again",
    "follow_up_reminder",
    "conversion_outcome",
)


class _Numbering(Schema):
    prefix = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{1,6}\Z"))


class ConsultationRulebookSchema(RulebookSchema):
    numbering = fields.Nested(_Numbering, required=True)
    outcomes = _labels(required=True)
    meeting_forms = _labels(required=True)
    venue_kinds = _labels(required=True)
    satisfaction = _labels(required=True)  # type: ignore[assignment]  # levels only, no scores
    reopen_on = fields.List(fields.String(), required=True)
    max_reopen = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    close_reasons = _labels(required=True)

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = super().load(data, **kwargs)
        missing = [name for name in CONSULTATION_DURATIONS if name not in loaded["durations"]]
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
            raise ValidationError(
                {"close_reasons": ["a close reason 'converted' is needed for cases carried on in their thread"]}
            )
        return loaded


SCHEMAS = {"proposal": ProposalRulebookSchema, "micro_consultation": ConsultationRulebookSchema}


@dataclass(frozen=True)
class Rulebook:
    name: str
    version: str
    content_hash: str  # "sha256:<hex>" of the file's bytes
    path: Path
    rules: dict[str, Any]  # as the rulebook's schema loaded them

    def _section(self, key: str) -> Any:
        if key not in self.rules:
            raise RuleNotFound(f"rulebook {self.name} {self.version} has no section {key!r}")
        return self.rules[key]

    def _pick(self, key: str, code: str, what: str) -> Any:
        found = {item.code: item for item in self._section(key)}
        if code not in found:
            raise RuleNotFound(
                f"rulebook {self.name} {self.version} has no {what} {code!r}; it has: {', '.join(found)}"
            )
        return found[code]

    def duration(self, name: str) -> Duration:
        durations = self.rules["durations"]
        if name not in durations:
            raise RuleNotFound(
                f"rulebook {self.name} {self.version} has no duration rule {name!r}; it has: {', '.join(durations)}"
            )
        return cast(Duration, durations[name])

    def reminder_lead_times(self, rule: str | None = None) -> list[Duration]:
        """The reminders before a deadline of ``rule``: its own lead times (``reminders.by_rule``)
        if the rulebook gives them, else the general ``reminders.before_deadline``."""
        section = self._section("reminders")
        by_rule = section.get("by_rule") or {}
        if rule is not None and rule in by_rule:
            return list(by_rule[rule])
        return list(section["before_deadline"])

    def max_cosigners(self) -> int:
        """The most co-signers a joint proposal may name."""
        return cast(int, self._section("cosigning")["max_cosigners"])

    def max_milestones(self) -> int:
        """The most milestones a category B reply may promise (B follow-ups)."""
        return cast(int, self._section("followup")["max_milestones"])

    def contact_kinds(self) -> list[ContactKind]:
        """The ways a unit contacts a proposer (办理沟通), those that count as meeting face to face marked."""
        return list(self._section("contact_kinds"))

    def reply_categories(self, include_disabled: bool = False) -> list[ReplyCategory]:
        return [c for c in self._section("reply_categories") if c.enabled or include_disabled]

    def reply_category(self, code: str) -> ReplyCategory:
        """An enabled reply category; a disabled one (D by default) is refused as unknown."""
        category = self._pick("reply_categories", code, "reply category")
        if not category.enabled:
            raise RuleNotFound(f"reply category {code!r} is disabled in rulebook {self.name} {self.version}")
        return cast(ReplyCategory, category)

    def reasons(self) -> list[Label]:
        return list(self._section("not_filed_reasons"))

    def reason(self, code: str) -> Label:
        return cast(Label, self._pick("not_filed_reasons", code, "not-filed reason"))

    def satisfaction_levels(self) -> list[Label]:
        return list(self._section("satisfaction")["levels"])

    def satisfaction_scores(self) -> list[Label]:
        return list(self._section("satisfaction")["scores"])

    def key_proposal_share(self) -> tuple[float, float]:
        section = self._section("key_proposals")
        return section["share_min"], section["share_max"]

    def handling_checklist(self) -> list[ChecklistItem]:
        return list(self._section("handling_checklist")["items"])

    def handling_checklist_total(self) -> int:
        return cast(int, self._section("handling_checklist")["total"])

    def handling_checklist_rules(self) -> dict[str, Any]:
        """The shares each checklist item's rule gives (Fractions), by item."""
        rules = self._section("handling_checklist").get("rules")
        if rules is None:
            raise RuleNotFound(f"rulebook {self.name} {self.version} has no handling_checklist.rules")
        return cast(dict[str, Any], rules)

    def co_unit_checklist(self) -> list[ChecklistItem]:
        """A co-unit's (协办) checklist items: its part is its signing and its input to the lead."""
        return list(self._section("co_unit_checklist")["items"])

    def co_unit_checklist_total(self) -> int:
        return cast(int, self._section("co_unit_checklist")["total"])

    def co_unit_checklist_rules(self) -> dict[str, Any]:
        """The shares each co-unit checklist item's rule gives (Fractions), by item."""
        return cast(dict[str, Any], self._section("co_unit_checklist")["rules"])

    def format_limits(self) -> dict[str, int]:
        """``{max_title, max_total}``: what one proposal may hold (一事一案)."""
        return dict(self._section("format"))

    def unit_assessment(self) -> dict[str, Any]:
        """``{scale, weights: {handling, on_time, satisfaction}}`` of the units' 目标考核 score."""
        return cast(dict[str, Any], self._section("unit_assessment"))

    def duplicate_threshold(self) -> float:
        return cast(float, self._section("duplicates")["threshold"])

    def quality_grades(self) -> list[Label]:
        return list(self._section("quality_grades"))

    def quality_standards(self) -> list[dict[str, Any]]:
        """The quality checklist's standards: ``[{label: Label, items: [ChecklistItem]}]``."""
        return list(self._section("quality_checklist")["standards"])

    def quality_checklist_total(self) -> int:
        return cast(int, self._section("quality_checklist")["total"])

    def quality_grade_for(self, points: int) -> str:
        """The grade a checklist's ``points`` earn: the first threshold (highest first) they reach."""
        for row in self._section("quality_checklist")["grades"]:
            if points >= row["min"]:
                return cast(str, row["grade"])
        raise RuleNotFound(f"rulebook {self.name} {self.version}: no grade for {points} points")

    def areas(self) -> list[Label]:
        """The 1533 model's five areas (经济, 政治, 文化, 社会, 生态文明) classifying proposals and opinion items."""
        return list(self._section("areas"))

    def area(self, code: str) -> Label:
        return cast(Label, self._pick("areas", code, "area"))


def load_rulebook(name: str, path: str | Path | None = None) -> Rulebook:
    """Load and check ``bpmn/rules/<name>.yaml`` (or ``path``); its ``rulebook`` must be ``name``.

    The file is read on every call, so a changed rulebook counts at once; the same bytes are parsed
    only once (parsing and checking took most of a job such as ``intake.find_duplicates``)."""
    path = Path(path) if path is not None else RULES_DIRECTORY / f"{name}.yaml"
    return _parsed(name, path, path.read_bytes())  # hash and parse the same bytes


@functools.lru_cache(maxsize=32)
def _parsed(name: str, path: Path, raw: bytes) -> Rulebook:
    rules = load_yaml(path, SCHEMAS.get(name, RulebookSchema)(), raw)
    if rules["rulebook"] != name:
        raise DataFileError(
            path, {"rulebook": [f"is {rules['rulebook']!r}, but the file was loaded as rulebook {name!r}"]}
        )
    content_hash = "sha256:" + hashlib.sha256(raw).hexdigest()
    return Rulebook(name, rules["version"], content_hash, path, rules)


@dataclass(frozen=True)
class Deadline:
    """A due date and everything it was computed from."""

    rule: str
    rulebook: str
    rulebook_version: str
    rulebook_hash: str
    start: date
    amount: int
    unit: str
    due: date
    explanation: dict[str, Any] | None = None  # the calendar's account, for working-day rules

    @property
    def ends_at(self) -> datetime:
        """The moment the deadline passes: midnight after ``due``, Chinese local time."""
        return datetime.combine(self.due + timedelta(days=1), time(0), CHINA_TZ)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "start": self.start.isoformat(),
            "due": self.due.isoformat(),
            "ends_at": self.ends_at.isoformat(),
        }


def deadline(rulebook: Rulebook, rule_name: str, start: date | datetime, calendar: WorkingCalendar) -> Deadline:
    """The deadline of ``rule_name`` for an event at ``start`` (a date or an aware datetime).

    months: calendar months, clamped at month end; days: calendar days; working_days: counted on
    ``calendar``, the start day not counted (may raise UnknownCalendarDate).
    """
    rule = rulebook.duration(rule_name)
    day = local_date(start)
    explanation = None
    if rule.unit == "months":
        due = calendar.add_months(day, rule.amount)
    elif rule.unit == "days":
        due = day + timedelta(days=rule.amount)
    else:
        explanation = calendar.explain(day, rule.amount)
        due = date.fromisoformat(str(explanation["end"]))
    return Deadline(
        rule_name, rulebook.name, rulebook.version, rulebook.content_hash, day, rule.amount, rule.unit, due, explanation
    )


@functools.lru_cache(maxsize=8)
def _cached_rulebook(name: str, path: str, mtime: float) -> Rulebook:
    return load_rulebook(name, path)


def current_rulebook(name: str) -> Rulebook:
    """``name``'s rulebook as its file is now: read again when the file changes."""
    path = RULES_DIRECTORY / f"{name}.yaml"
    return _cached_rulebook(name, str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=8)
def _cached_as_written(path: str, mtime: float) -> dict[str, Any]:
    rules: dict[str, Any] = yamlio.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return rules


def rules_as_written(name: str) -> dict[str, Any]:
    """``name``'s rulebook file as plain YAML, unchecked, read again when the file changes: for a
    reader outside the service that owns and checks it (the opinion rulebook is intake's; a form or
    a console page only reads a limit or a list of codes from it)."""
    path = RULES_DIRECTORY / f"{name}.yaml"
    return _cached_as_written(str(path), path.stat().st_mtime)
