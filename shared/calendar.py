"""The working-day calendar that deadlines are counted on.

A Chinese working day is a weekday that is not a public holiday, or a weekend day the State Council
has made a make-up working day (调休). The package ``chinesecalendar`` carries the schedules up to
its release; the State Council publishes next year's each winter, so a year the package does not
know is loaded as data from a YAML override file (see ``bpmn/calendar/README.md``). A date neither
knows raises :class:`UnknownCalendarDate`: it is never taken for a plain weekday in silence.

Contracts:

- A deadline of N working days from an event on day D ends at the end of the N-th working day
  *after* D. D itself never counts, working day or not; N = 0 ends on D.
- Dates are Chinese local dates (UTC+8; China has had no daylight saving since 1991). An aware
  datetime is converted to that zone first; a naive datetime is refused, its zone being unknown.
- A date listed in an override file wins over the package (that is how an error in the package is
  corrected without a release). An unlisted date is answered by the package if it knows the year,
  else by the weekday rule if an override for the year says ``complete: true``, else it raises.
"""
from __future__ import annotations

from calendar import monthrange
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import chinese_calendar
import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared import config

CHINA_TZ = timezone(timedelta(hours=8))
# Follows ZTC_BPMN_DIR, so an installation keeps its calendar files beside its diagrams.
DEFAULT_DIRECTORY = config.load().bpmn_dir / "calendar"
PACKAGE = "package"
# The package's own rule for the years it supports (chinese_calendar.utils._validate_date).
PACKAGE_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
PACKAGE_LABEL = f"chinesecalendar {metadata.version('chinesecalendar')}"
COUNTING_RULE = ("the start day is not counted; the deadline ends at the end of the "
                 "count-th working day after the start")


class UnknownCalendarDate(ValueError):
    """A date whose year neither the package nor a complete override file covers."""

    def __init__(self, day: date, message: str):
        super().__init__(message)
        self.day = day
        self.year = day.year


class DataFileError(ValueError):
    """A YAML data file (calendar override, rulebook) that cannot be used.

    ``errors`` maps each field path (``holidays[0]``, ``durations.reply_deadline.unit``) to its
    messages; the message names the file and every field.
    """

    def __init__(self, path: str | Path, errors: dict[str, list[str]]):
        self.path = Path(path)
        self.errors = errors
        detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        super().__init__(f"{self.path}: {detail}")


def _flatten(messages, prefix=""):
    """marshmallow's nested error messages as (field path, [message]) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                path = prefix
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten(value, path)
    else:
        items = messages if isinstance(messages, list) else [messages]
        yield prefix or "(file)", [str(item) for item in items]


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, for marshmallow to check and name the field
    (PyYAML itself raises a bare ValueError for a date like 2027-13-01)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: str | Path, schema: Schema, raw: bytes | None = None):
    """Parse the YAML file at ``path`` (or its already-read bytes) through ``schema``.

    Raises :class:`DataFileError` naming the file and the field for bad YAML and bad values.
    """
    path = Path(path)
    raw = path.read_bytes() if raw is None else raw
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataFileError(path, {"(file)": [f"not valid UTF-8 YAML: {exc}"]}) from None
    if not isinstance(data, dict):
        raise DataFileError(path, {"(file)": ["must be a YAML mapping of field: value"]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for field, messages in _flatten(exc.messages):
            errors.setdefault(field, []).extend(messages)
        raise DataFileError(path, errors) from None


def local_date(value: date | datetime) -> date:
    """The Chinese local date of a date or an aware datetime."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise TypeError(f"naive datetime {value.isoformat()}: give a date, or an aware "
                            "datetime whose Chinese local date will be used")
        return value.astimezone(CHINA_TZ).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or an aware datetime, got {type(value).__name__}")


class _Day(fields.Date):
    """A date, or ``{date, name}``; loads as ``(date, name or None)``."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = None
        if isinstance(value, dict):
            if "date" not in value or set(value) - {"date", "name"}:
                raise ValidationError("Expected a date or a mapping {date, name}.")
            name = value.get("name")
            if name is not None and not isinstance(name, str):
                raise ValidationError("name: Not a valid string.")
            value = value["date"]
        return super()._deserialize(value, attr, data, **kwargs), name


class OverrideSchema(Schema):
    """One override file: a year's holidays and make-up working days."""

    year = fields.Integer(required=True, strict=True, validate=validate.Range(1949, 2999))
    source = fields.String(required=True, validate=validate.Length(min=1))
    complete = fields.Boolean(required=True)
    holidays = fields.List(_Day(), load_default=list)
    workdays = fields.List(_Day(), load_default=list)
    note = fields.String()

    @validates_schema
    def _dates_fit_the_year(self, data, **kwargs):
        errors = {}
        for key in ("holidays", "workdays"):
            outside = [day.isoformat() for day, _ in data[key] if day.year != data["year"]]
            if outside:
                errors[key] = [f"dates outside year {data['year']}: {', '.join(outside)}"]
        both = {day for day, _ in data["holidays"]} & {day for day, _ in data["workdays"]}
        if both:
            listed = ", ".join(sorted(day.isoformat() for day in both))
            errors.setdefault("workdays", []).append(f"both holiday and workday: {listed}")
        if errors:
            raise ValidationError(errors)


@dataclass(frozen=True)
class Day:
    """What the calendar says about one date, and who said it.

    ``kind`` is ``workday``, ``weekend``, ``holiday`` (a public holiday, weekend days inside a
    holiday included) or ``makeup_workday`` (a weekend day worked in exchange for a holiday).
    ``source`` is ``package`` or the name of the override file that decided the date.
    """

    date: date
    working: bool
    kind: str
    name: str | None
    source: str

    def as_dict(self) -> dict:
        return {**asdict(self), "date": self.date.isoformat(), "weekday": self.date.strftime("%a")}


def _kind(day: date, working: bool, named: bool) -> str:
    weekend = day.weekday() >= 5
    if working:
        return "makeup_workday" if weekend else "workday"
    return "holiday" if named or not weekend else "weekend"


class WorkingCalendar:
    """Working days from ``chinesecalendar`` plus every ``*.yaml`` override in ``directory``."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
        if not self.directory.is_dir():
            raise FileNotFoundError(f"calendar override directory {self.directory} does not exist")
        self.sources = {PACKAGE: PACKAGE_LABEL}  # source name -> what it rests on
        self.files: dict[int, str] = {}  # year -> override file name
        self._listed: dict[date, tuple[bool, str | None, str]] = {}
        self._complete: set[int] = set()
        for path in sorted([*self.directory.glob("*.yaml"), *self.directory.glob("*.yml")]):
            data = load_yaml(path, OverrideSchema())
            year = data["year"]
            if year in self.files:  # two files for one year would make the answer depend on order
                raise DataFileError(path, {"year": [
                    f"{year} is already given by {self.files[year]}; keep one file per year"]})
            self.files[year] = path.name
            self.sources[path.name] = data["source"]
            for day, name in data["holidays"]:
                self._listed[day] = (False, name, path.name)
            for day, name in data["workdays"]:
                self._listed[day] = (True, name, path.name)
            if data["complete"]:
                self._complete.add(year)

    def day(self, value: date | datetime) -> Day:
        """Everything known about one date; raises :class:`UnknownCalendarDate`."""
        day = local_date(value)
        if day in self._listed:
            working, name, source = self._listed[day]
            return Day(day, working, _kind(day, working, True), name, source)
        if day.year in PACKAGE_YEARS:
            working = chinese_calendar.is_workday(day)
            _, name = chinese_calendar.get_holiday_detail(day)
            return Day(day, working, _kind(day, working, name is not None), name, PACKAGE)
        if day.year in self._complete:
            working = day.weekday() < 5
            return Day(day, working, _kind(day, working, False), None, self.files[day.year])
        raise UnknownCalendarDate(day, self._unknown_message(day))

    def _unknown_message(self, day: date) -> str:
        file = self.files.get(day.year)
        where = f"{self.directory}/{file or f'{day.year}.yaml'}"
        partial = f"; {file} is marked complete: false and does not list this date" if file else ""
        return (f"The working-day calendar does not know {day.isoformat()}: {PACKAGE_LABEL} covers "
                f"{PACKAGE_YEARS[0]}-{PACKAGE_YEARS[-1]} and no complete override covers "
                f"{day.year}{partial}. Add the State Council's holiday schedule for {day.year} to "
                f"{where} with complete: true (format: bpmn/calendar/README.md).")

    def is_working_day(self, value: date | datetime) -> bool:
        return self.day(value).working

    def known_until(self) -> date:
        """The last date of the unbroken run of known years: the package's, then complete overrides.

        Dates listed in incomplete (provisional) files are answered too, but they leave gaps.
        """
        year = PACKAGE_YEARS[-1]
        while year + 1 in self._complete:
            year += 1
        return date(year, 12, 31)

    def _walk(self, start: date | datetime, n: int) -> tuple[date, list[Day]]:
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"a working-day count must be a whole number >= 0, got {n!r}")
        day, counted, trail = local_date(start), 0, []
        while counted < n:
            day += timedelta(days=1)
            info = self.day(day)
            trail.append(info)
            counted += info.working
        return day, trail

    def add_working_days(self, start: date | datetime, n: int) -> date:
        """The last day of a deadline of ``n`` working days from an event on ``start``."""
        return self._walk(start, n)[0]

    def working_days_between(self, a: date | datetime, b: date | datetime) -> int:
        """Working days d with a < d <= b (negative when b is before a).

        So ``working_days_between(d, add_working_days(d, n)) == n``.
        """
        a, b = local_date(a), local_date(b)
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    @staticmethod
    def add_months(start: date | datetime, n: int) -> date:
        """``n`` calendar months after ``start``, clamped at month end (11-30 + 3 -> 02-28).

        Holidays are not consulted: a month deadline is a calendar date in the domain, so it never
        raises for an unknown year, and one ending on a holiday is not moved.
        """
        day = local_date(start)
        year, month0 = divmod(day.year * 12 + day.month - 1 + n, 12)
        return date(year, month0 + 1, min(day.day, monthrange(year, month0 + 1)[1]))

    def explain(self, start: date | datetime, n: int) -> dict:
        """A plain, JSON-ready account of ``add_working_days(start, n)`` for anyone to audit.

        ``days`` lists every date looked at after the start, counted or skipped, each with its
        kind, holiday name and deciding source; ``skipped`` and ``makeup_workdays`` pick out the
        dates that made the deadline differ from a plain count of weekdays.
        """
        end, trail = self._walk(start, n)
        days, counted = [], 0
        for info in trail:
            entry = info.as_dict()
            if info.working:
                counted += 1
                entry["counted_as"] = counted
            days.append(entry)
        return {
            "start": local_date(start).isoformat(),
            "unit": "working_days",
            "count": n,
            "end": end.isoformat(),
            "rule": COUNTING_RULE,
            "days": days,
            "skipped": [entry for entry in days if not entry["working"]],
            "makeup_workdays": [entry for entry in days if entry["kind"] == "makeup_workday"],
            "sources": {name: self.sources[name] for name in sorted({e["source"] for e in days})},
        }
