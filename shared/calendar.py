"""The working-day calendar that deadlines are counted on.

A Chinese working day is a weekday that is not a public holiday, or a weekend day the State Council
has made a make-up working day (调休). The package ``chinesecalendar`` carries the schedules up to
its release; the State Council publishes next year's each winter, so a year the package does not
know is loaded as data from a YAML file (see ``bpmn/calendar/README.md``, ``ztc calendar add``).
Until that file is there, such a year is answered by the *provisional rule*: weekends and the
statutory holidays of the holiday rules in force (the lunar ones computed by ``tyme4py``), with no
make-up working days, bridge days or compensatory days off, since only the State Council's notice
sets those. Every date answered so is marked ``provisional``, and so is every account that counted
one, so whoever stored a deadline from it can recompute it when the official schedule arrives.

Contracts:

- A deadline of N working days from an event on day D ends at the end of the N-th working day
  *after* D. D itself never counts, working day or not; N = 0 ends on D.
- Dates are Chinese local dates (UTC+8; China has had no daylight saving since 1991). An aware
  datetime is converted to that zone first; a naive datetime is refused, its zone being unknown.
- A date listed in a file wins over everything else (that is how an error in the package is
  corrected without a release). An unlisted date is answered by the package if it knows the year,
  else by the weekday rule if a file for the year says ``complete: true``, else by the provisional
  rule for a year the current holiday rules govern (from 2025) and the lunar library computes.
  Any other date raises :class:`UnknownCalendarDate`: it is never taken for a plain weekday in
  silence. A date of a year that neither the package nor a complete file knows is provisional,
  listed in an incomplete file or not.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from chinese_calendar import Holiday
from tyme4py.lunar import LunarDay
from tyme4py.solar import SolarDay, SolarTerm
from marshmallow import Schema, ValidationError, validate, validates_schema

from shared.contracts import field_types as fields

from shared import config, yamlio

CHINA_TZ = timezone(timedelta(hours=8))
# Follows ZTC_BPMN_DIR, so an installation keeps its calendar files beside its diagrams.
DEFAULT_DIRECTORY = config.load().bpmn_dir / "calendar"
PACKAGE = "package"
# The package's own rule for the years it supports (chinese_calendar.utils._validate_date).
PACKAGE_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
PACKAGE_LABEL = f"chinesecalendar {metadata.version('chinesecalendar')}"
COUNTING_RULE = "the start day is not counted; the deadline ends at the end of the count-th working day after the start"
# The provisional rule: the statutory holidays of 全国年节及纪念日放假办法 as revised by State
# Council Decree No. 798 (in force from 2025-01-01), the lunar dates and solar terms from tyme4py.
PROVISIONAL = "provisional"
STATUTORY_RULES = "全国年节及纪念日放假办法 (State Council Decree No. 798, in force from 2025-01-01)"
STATUTORY_RULES_FROM = 2025
LUNAR_LABEL = f"tyme4py {metadata.version('tyme4py')}"
PROVISIONAL_LABEL = (
    f"provisional rule, until the State Council's notice for the year is entered: "
    f"weekends and the statutory holidays of {STATUTORY_RULES}, lunar dates and "
    f"solar terms from {LUNAR_LABEL}; no make-up working days (调休), bridge days or "
    f"compensatory days off, which only the notice sets"
)


class UnknownCalendarDate(ValueError):
    """A date no source answers: its year is not in the package, has no complete file, and is
    outside the provisional rule (before the current holiday rules, or beyond the lunar library).

    ``day`` is the date asked about, or None when a whole ``year`` was (:func:`statutory_holidays`).
    """

    def __init__(self, day: date | None, message: str, year: int | None = None) -> None:
        super().__init__(message)
        self.day = day
        self.year = day.year if day is not None else year


def _solar(day: SolarDay) -> date:
    """A tyme4py ``SolarDay`` as a date."""
    return date(day.get_year(), day.get_month(), day.get_day())


def _lunar(year: int, month: int, day: int) -> date:
    return _solar(LunarDay.from_ymd(year, month, day).get_solar_day())


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The days off for all citizens that the holiday rules fix for ``year``, with their names.

    By the rules in force from 2025 (``STATUTORY_RULES``), 13 days: New Year's Day (1 January);
    Spring Festival (the lunar New Year's Eve and lunar 1/1 to 1/3); Qingming on the day of its solar
    term; Labour Day (1 and 2 May); Dragon Boat Festival (lunar 5/5); Mid-autumn Festival (lunar
    8/15); National Day (1 to 3 October). A day both Mid-autumn and National Day carries both names.
    These are the only holidays known before the State Council's notice: it adds the make-up working
    days, bridge days and the compensatory days off for a holiday on a weekend.

    Raises :class:`UnknownCalendarDate` for a year before the rules, or one the lunar library
    refuses. The names are chinesecalendar's, so a provisional day reads like a package day.
    """
    if year < STATUTORY_RULES_FROM:
        raise UnknownCalendarDate(
            None,
            (
                f"the provisional rule does not apply to {year}: it follows the holiday rules in force "
                f"from {STATUTORY_RULES_FROM} ({STATUTORY_RULES})"
            ),
            year,
        )
    try:
        new_year = _lunar(year, 1, 1)
        qingming = _solar(SolarTerm.from_name(year, "清明").get_julian_day().get_solar_day())
        dragon_boat, mid_autumn = _lunar(year, 5, 5), _lunar(year, 8, 15)
    except ValueError as exc:  # tyme4py refuses a year outside its range so
        raise UnknownCalendarDate(
            None, f"{LUNAR_LABEL} cannot compute the lunar holidays of {year}: {exc}", year
        ) from None
    days: dict[date, str] = {}

    def add(day: date, holiday: Holiday) -> None:
        days[day] = f"{days[day]} / {holiday.value}" if day in days else holiday.value

    add(date(year, 1, 1), Holiday.new_years_day)
    for offset in range(-1, 3):
        add(new_year + timedelta(days=offset), Holiday.spring_festival)
    add(qingming, Holiday.tomb_sweeping_day)
    add(date(year, 5, 1), Holiday.labour_day)
    add(date(year, 5, 2), Holiday.labour_day)
    add(dragon_boat, Holiday.dragon_boat_festival)
    add(mid_autumn, Holiday.mid_autumn_festival)
    for day in (1, 2, 3):
        add(date(year, 10, day), Holiday.national_day)
    return dict(sorted(days.items()))


class DataFileError(ValueError):
    """A YAML data file (calendar override, rulebook) that cannot be used.

    ``errors`` maps each field path (``holidays[0]``, ``durations.reply_deadline.unit``) to its
    messages; the message names the file and every field.
    """

    def __init__(self, path: str | Path, errors: dict[str, list[str]]) -> None:
        self.path = Path(path)
        self.errors = errors
        detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        super().__init__(f"{self.path}: {detail}")


def _flatten(messages: object, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
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


def load_yaml(path: str | Path, schema: Schema, raw: bytes | None = None) -> Any:
    """Parse the YAML file at ``path`` (or its already-read bytes) through ``schema``.

    Raises :class:`DataFileError` naming the file and the field for bad YAML and bad values.
    """
    path = Path(path)
    raw = path.read_bytes() if raw is None else raw
    try:
        data = yamlio.safe_load(raw.decode("utf-8"), dates_as_text=True)
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
            raise TypeError(
                f"naive datetime {value.isoformat()}: give a date, or an aware "
                "datetime whose Chinese local date will be used"
            )
        return value.astimezone(CHINA_TZ).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or an aware datetime, got {type(value).__name__}")


class _Day(fields.Date):
    """A date, or ``{date, name}``; loads as ``(date, name or None)``."""

    def _deserialize(  # type: ignore[override]  # loads as (date, name), not a bare date
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[date, str | None]:
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

    # Run even when a field is wrong too, so a file is refused with all of its problems at once.
    @validates_schema(skip_on_field_errors=False)
    def _dates_fit_the_year(self, data: dict[str, Any], **kwargs: object) -> None:
        errors: dict[str, list[str]] = {}
        if "year" in data:
            for key in ("holidays", "workdays"):
                outside = [day.isoformat() for day, _ in data.get(key, []) if day.year != data["year"]]
                if outside:
                    errors[key] = [f"dates outside year {data['year']}: {', '.join(outside)}"]
        both = {day for day, _ in data.get("holidays", [])} & {day for day, _ in data.get("workdays", [])}
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
    ``source`` is ``package``, the name of the file that decided the date, or ``provisional``.
    ``provisional`` is true for every date of a year without an official schedule (neither the
    package nor a ``complete: true`` file): the answer may change when the schedule is entered.
    """

    date: date
    working: bool
    kind: str
    name: str | None
    source: str
    provisional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "date": self.date.isoformat(), "weekday": self.date.strftime("%a")}


def _kind(day: date, working: bool, named: bool) -> str:
    weekend = day.weekday() >= 5
    if working:
        return "makeup_workday" if weekend else "workday"
    return "holiday" if named or not weekend else "weekend"


def files_fingerprint(directory: str | Path | None = None) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every yearly file in ``directory``: a process that keeps
    a :class:`WorkingCalendar` compares it to know when to read the files again."""
    directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
    return tuple(
        (path.name, stat.st_size, stat.st_mtime_ns)
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        for stat in [path.stat()]
    )


def check_year_file(path: str | Path, year: int, raw: bytes | None = None) -> tuple[dict[str, Any], list[str]]:
    """Check a yearly file before it is entered as ``year``'s schedule (``ztc calendar add``).

    Refused with :class:`DataFileError` naming the field: anything :class:`OverrideSchema` refuses
    (bad YAML, a missing, misspelt or mistyped field, a date outside the file's year, a date both
    holiday and workday) and a file whose ``year`` is not ``year``. Returns the loaded file and the
    warnings for what the State Council's notice would not say: a statutory holiday of the year not
    listed as a holiday (or listed as a workday), a make-up working day that is not a weekend day,
    ``complete: false`` (the year stays provisional), a year the package already knows.
    """
    data = load_yaml(path, OverrideSchema(), raw)
    if data["year"] != year:
        raise DataFileError(path, {"year": [f"is {data['year']}, but the file is being entered for {year}"]})
    warnings = []
    holidays = {day for day, _ in data["holidays"]}
    workdays = {day for day, _ in data["workdays"]}
    try:
        statutory = statutory_holidays(year)
    except UnknownCalendarDate:
        statutory = {}
    missing = [f"{day.isoformat()} ({name})" for day, name in statutory.items() if day not in holidays]
    if missing:
        worked = [f"{day.isoformat()} ({name})" for day, name in statutory.items() if day in workdays]
        warnings.append(
            f"holidays does not list {len(missing)} of the {len(statutory)} statutory holidays of {year} "
            f"({STATUTORY_RULES}): {', '.join(missing)}"
            + (f"; it even lists as working days: {', '.join(worked)}" if worked else "")
            + ". Check the file against the State Council's notice."
        )
    weekday_work = sorted(day.isoformat() for day in workdays if day.weekday() < 5)
    if weekday_work:
        warnings.append(
            f"workdays lists weekdays, which are working days anyway (a make-up working "
            f"day is a Saturday or Sunday): {', '.join(weekday_work)}"
        )
    if not data["complete"]:
        warnings.append(
            f"complete: false: only the listed dates are facts; every other date of {year} "
            "stays provisional until a file with complete: true is entered"
        )
    if year in PACKAGE_YEARS:
        warnings.append(f"{PACKAGE_LABEL} already knows {year}: the dates this file lists override it")
    return data, warnings


@lru_cache(maxsize=64)
def _override(path: Path, raw: bytes) -> Any:
    """An override file's bytes, parsed and checked once: every file is read again whenever a
    calendar is made (a changed file counts at once), but the services make one per job and per
    call, and parsing the YAML was most of what such a job spent. Callers only read the result."""
    return load_yaml(path, OverrideSchema(), raw)


class WorkingCalendar:
    """Working days from ``chinesecalendar``, every ``*.yaml`` file in ``directory`` and, for a
    year with no official schedule, the provisional rule (module docstring)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
        if not self.directory.is_dir():
            raise FileNotFoundError(f"calendar override directory {self.directory} does not exist")
        # source name -> what it rests on
        self.sources = {PACKAGE: PACKAGE_LABEL, PROVISIONAL: PROVISIONAL_LABEL}
        self.files: dict[int, str] = {}  # year -> override file name
        self._listed: dict[date, tuple[bool, str | None, str]] = {}
        self._complete: set[int] = set()
        for path in sorted([*self.directory.glob("*.yaml"), *self.directory.glob("*.yml")]):
            data = _override(path, path.read_bytes())
            year = data["year"]
            if year in self.files:  # two files for one year would make the answer depend on order
                raise DataFileError(
                    path, {"year": [f"{year} is already given by {self.files[year]}; keep one file per year"]}
                )
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
        provisional = not self.officially_known(day.year)
        if day in self._listed:
            working, name, source = self._listed[day]
            return Day(day, working, _kind(day, working, True), name, source, provisional)
        if day.year in PACKAGE_YEARS:
            working = chinese_calendar.is_workday(day)
            _, name = chinese_calendar.get_holiday_detail(day)
            return Day(day, working, _kind(day, working, name is not None), name, PACKAGE)
        if day.year in self._complete:
            working = day.weekday() < 5
            return Day(day, working, _kind(day, working, False), None, self.files[day.year])
        try:
            holidays = statutory_holidays(day.year)
        except UnknownCalendarDate as exc:
            raise UnknownCalendarDate(day, self._unknown_message(day, str(exc))) from None
        name = holidays.get(day)
        working = name is None and day.weekday() < 5
        return Day(day, working, _kind(day, working, name is not None), name, PROVISIONAL, True)

    def officially_known(self, year: int) -> bool:
        """Whether ``year`` has an official schedule: the package's, or a ``complete: true`` file."""
        return year in PACKAGE_YEARS or year in self._complete

    def year_status(self, year: int) -> dict[str, object]:
        """How ``year`` is answered: ``package``, ``official`` (a complete file), ``provisional``
        (the provisional rule, under the dates an incomplete file lists) or ``unknown``."""
        file = self.files.get(year)
        if year in self._complete:
            status = "official"
        elif year in PACKAGE_YEARS:
            status = "package"
        else:
            try:
                statutory_holidays(year)
                status = PROVISIONAL
            except UnknownCalendarDate:
                status = "unknown"
        sources = (
            ([PACKAGE] if year in PACKAGE_YEARS else [])
            + ([file] if file else [])
            + ([PROVISIONAL] if status == PROVISIONAL else [])
        )
        return {
            "year": year,
            "status": status,
            "file": file,
            "complete": year in self._complete if file else None,
            "sources": {name: self.sources[name] for name in sources},
        }

    def special_days(self, year: int) -> list[Day]:
        """Every date of ``year`` that is not plain: holidays, and weekend days that are worked.
        Raises :class:`UnknownCalendarDate` for a year no source answers."""
        day, found = date(year, 1, 1), []
        while day.year == year:
            info = self.day(day)
            if info.kind in ("holiday", "makeup_workday"):
                found.append(info)
            day += timedelta(days=1)
        return found

    def _unknown_message(self, day: date, why: str) -> str:
        file = self.files.get(day.year)
        where = f"{self.directory}/{file or f'{day.year}.yaml'}"
        partial = f"; {file} is marked complete: false and does not list this date" if file else ""
        return (
            f"The working-day calendar does not know {day.isoformat()}: {PACKAGE_LABEL} covers "
            f"{PACKAGE_YEARS[0]}-{PACKAGE_YEARS[-1]}, no complete file covers {day.year}{partial}, "
            f"and {why}. Add the State Council's holiday schedule for {day.year} to {where} with "
            f"complete: true (ztc calendar add {day.year} FILE; format: bpmn/calendar/README.md)."
        )

    def is_working_day(self, value: date | datetime) -> bool:
        return self.day(value).working

    def known_until(self) -> date:
        """The last date of the unbroken run of known years: the package's, then complete overrides.

        Later dates are answered too (listed in incomplete files, or by the provisional rule), but
        provisionally.
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

    def explain(self, start: date | datetime, n: int) -> dict[str, object]:
        """A plain, JSON-ready account of ``add_working_days(start, n)`` for anyone to audit.

        ``days`` lists every date looked at after the start, counted or skipped, each with its
        kind, holiday name and deciding source; ``skipped`` and ``makeup_workdays`` pick out the
        dates that made the deadline differ from a plain count of weekdays. ``provisional`` says
        whether any of them was answered provisionally, and ``provisional_years`` which years those
        were: such an end may move when the year's official schedule is entered.
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
            "provisional": any(entry["provisional"] for entry in days),
            "provisional_years": sorted({info.date.year for info in trail if info.provisional}),
        }
