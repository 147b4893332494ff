"""The working-day calendar: Chinese holidays and make-up working days, overrides as data, the
provisional rule for a year without an official schedule, and dates no source knows reported loudly.

The 2026 facts below are chinesecalendar 1.11's data (the State Council's 2026 schedule):
Mid-Autumn Festival Fri 09-25 to Sun 09-27 off; National Day Thu 10-01 to Wed 10-07 off;
make-up working days Sun 09-20 and Sat 10-10; Thu 10-08 is an ordinary working day.
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timedelta, timezone

import pytest

import chinese_calendar

from shared.calendar import (
    DEFAULT_DIRECTORY,
    DataFileError,
    UnknownCalendarDate,
    WorkingCalendar,
    check_year_file,
    files_fingerprint,
    statutory_holidays,
)


@pytest.fixture(scope="module")
def calendar():
    """The calendar as deployed: the package plus the repository's bpmn/calendar files."""
    return WorkingCalendar()


def write(directory, name, text):
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the package's 2026 data -------------------------------------------------------------------


def test_the_mid_autumn_and_national_day_holidays_2026_are_not_working_days(calendar):
    for offset in range(3):
        assert not calendar.is_working_day(date(2026, 9, 25) + timedelta(days=offset))
    for offset in range(7):
        assert not calendar.is_working_day(date(2026, 10, 1) + timedelta(days=offset))


def test_the_day_after_national_day_2026_is_a_working_day(calendar):
    assert calendar.is_working_day(date(2026, 10, 8))
    assert calendar.day(date(2026, 10, 8)).kind == "workday"


def test_a_public_holiday_on_a_weekday_does_not_count(calendar):
    thursday = calendar.day(date(2026, 10, 1))
    assert thursday.date.weekday() == 3
    assert (thursday.working, thursday.kind, thursday.name) == (False, "holiday", "National Day")


def test_make_up_working_saturday_after_national_day_is_a_working_day(calendar):
    saturday = calendar.day(date(2026, 10, 10))
    assert (saturday.working, saturday.kind, saturday.source) == (True, "makeup_workday", "package")


def test_an_ordinary_weekend_is_not_a_working_day(calendar):
    sunday = calendar.day(date(2026, 10, 11))
    assert (sunday.working, sunday.kind, sunday.name) == (False, "weekend", None)


# --- counting working days ---------------------------------------------------------------------


def test_objection_window_of_5_working_days_from_mid_autumn_friday_skips_both_holidays(calendar):
    # Counted: 09-28, 09-29, 09-30, 10-08, 10-09.
    assert calendar.add_working_days(date(2026, 9, 25), 5) == date(2026, 10, 9)


def test_the_make_up_saturday_is_the_sixth_working_day_after_mid_autumn(calendar):
    assert calendar.add_working_days(date(2026, 9, 25), 6) == date(2026, 10, 10)


def test_a_make_up_working_sunday_counts(calendar):
    # Sat 09-19 + 1 working day: Sun 09-20 is worked in exchange for National Day.
    assert calendar.add_working_days(date(2026, 9, 19), 1) == date(2026, 9, 20)
    assert calendar.day(date(2026, 9, 20)).kind == "makeup_workday"


def test_the_event_day_itself_never_counts(calendar):
    # Mon 2026-09-28 is a working day, yet one working day from it is Tuesday.
    assert calendar.add_working_days(date(2026, 9, 28), 1) == date(2026, 9, 29)
    assert calendar.add_working_days(date(2026, 9, 28), 0) == date(2026, 9, 28)


def test_a_negative_working_day_count_is_refused(calendar):
    with pytest.raises(ValueError, match=">= 0"):
        calendar.add_working_days(date(2026, 9, 28), -1)


def test_working_days_between_counts_what_add_working_days_added(calendar):
    start = date(2026, 9, 25)
    for n in range(12):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n
    assert calendar.working_days_between(date(2026, 10, 9), start) == -5
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 7)) == 0


def test_an_aware_utc_evening_is_the_next_chinese_day(calendar):
    # 2026-09-30 17:00 UTC is 2026-10-01 01:00 in China: National Day.
    evening = datetime(2026, 9, 30, 17, 0, tzinfo=timezone.utc)
    assert calendar.day(evening).date == date(2026, 10, 1)
    assert not calendar.is_working_day(evening)


def test_a_naive_datetime_is_refused_because_its_day_is_unknown(calendar):
    with pytest.raises(TypeError, match="naive datetime"):
        calendar.is_working_day(datetime(2026, 9, 30, 17, 0))


# --- calendar months ---------------------------------------------------------------------------


def test_three_months_from_november_30_is_the_last_day_of_february(calendar):
    assert calendar.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_months_keep_the_day_when_it_exists_and_cross_years(calendar):
    assert calendar.add_months(date(2026, 3, 15), 3) == date(2026, 6, 15)
    assert calendar.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert calendar.add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)  # leap year
    assert calendar.add_months(date(2026, 3, 31), 0) == date(2026, 3, 31)


# --- the audit trail ---------------------------------------------------------------------------


def test_explain_lists_every_skipped_day_and_counted_make_up_day_with_its_source(calendar):
    account = calendar.explain(date(2026, 9, 25), 6)
    assert (account["start"], account["unit"], account["count"], account["end"]) == (
        "2026-09-25",
        "working_days",
        6,
        "2026-10-10",
    )
    skipped = [entry["date"] for entry in account["skipped"]]
    assert skipped == ["2026-09-26", "2026-09-27"] + [f"2026-10-0{d}" for d in range(1, 8)]
    names = {entry["name"] for entry in account["skipped"]}
    assert names == {"Mid-autumn Festival", "National Day"}
    assert [(e["date"], e["counted_as"]) for e in account["makeup_workdays"]] == [("2026-10-10", 6)]
    assert {entry["source"] for entry in account["days"]} == {"package"}
    assert account["sources"] == {"package": "chinesecalendar 1.11.0"}
    assert "not counted" in account["rule"]


def test_explain_counts_each_working_day_in_order(calendar):
    account = calendar.explain(date(2026, 9, 25), 5)
    counted = [(e["date"], e["counted_as"]) for e in account["days"] if e["working"]]
    assert counted == [("2026-09-28", 1), ("2026-09-29", 2), ("2026-09-30", 3), ("2026-10-08", 4), ("2026-10-09", 5)]


# --- years the package does not know: the provisional rule --------------------------------------


def test_the_repository_2027_file_is_partial_and_2027_is_provisional(calendar):
    assert calendar.files[2027] == "2027.yaml"
    assert "PARTIAL" in calendar.sources["2027.yaml"]
    assert calendar.known_until() == date(2026, 12, 31)
    assert calendar.year_status(2027)["status"] == "provisional"
    assert calendar.year_status(2026)["status"] == "package"


def test_the_2027_statutory_holidays_by_the_provisional_rule():
    holidays = statutory_holidays(2027)
    assert len(holidays) == 13
    assert holidays[date(2027, 1, 1)] == "New Year's Day"
    # Lunar New Year 2027 is Saturday 02-06: its eve and lunar 1/1-1/3 are the Spring Festival.
    assert [d for d, name in holidays.items() if name == "Spring Festival"] == [
        date(2027, 2, 5),
        date(2027, 2, 6),
        date(2027, 2, 7),
        date(2027, 2, 8),
    ]
    assert holidays[date(2027, 4, 5)] == "Tomb-sweeping Day"  # the solar term 清明
    assert [d for d, name in holidays.items() if name == "Labour Day"] == [date(2027, 5, 1), date(2027, 5, 2)]
    assert holidays[date(2027, 6, 9)] == "Dragon Boat Festival"  # lunar 5/5
    assert holidays[date(2027, 9, 15)] == "Mid-autumn Festival"  # lunar 8/15
    assert [d for d, name in holidays.items() if name == "National Day"] == [
        date(2027, 10, 1),
        date(2027, 10, 2),
        date(2027, 10, 3),
    ]


def test_a_2027_holiday_the_file_does_not_list_is_answered_provisionally(calendar):
    eve = calendar.day(date(2027, 2, 5))
    assert (eve.working, eve.kind, eve.name, eve.source, eve.provisional) == (
        False,
        "holiday",
        "Spring Festival",
        "provisional",
        True,
    )
    qingming = calendar.day(date(2027, 4, 5))
    assert (qingming.working, qingming.kind, qingming.name) == (False, "holiday", "Tomb-sweeping Day")
    assert not calendar.is_working_day(date(2027, 6, 9)) and not calendar.is_working_day(date(2027, 9, 15))


def test_a_plain_2027_weekday_is_a_provisional_working_day_and_a_weekend_a_rest_day(calendar):
    monday = calendar.day(date(2027, 3, 15))
    assert (monday.working, monday.kind, monday.source, monday.provisional) == (True, "workday", "provisional", True)
    saturday = calendar.day(date(2027, 3, 13))
    assert (saturday.working, saturday.kind, saturday.name) == (False, "weekend", None)
    # No make-up working day is invented: the Saturday after the Spring Festival stays a rest day.
    assert calendar.day(date(2027, 2, 20)).kind == "weekend"


def test_a_2027_date_listed_in_the_partial_file_is_answered_by_it_but_still_provisional(calendar):
    national_day = calendar.day(date(2027, 10, 1))
    assert (national_day.working, national_day.kind, national_day.source, national_day.provisional) == (
        False,
        "holiday",
        "2027.yaml",
        True,
    )


def test_a_working_day_deadline_running_into_2027_is_counted_and_marked_provisional(calendar):
    # 2027-01-01 is a holiday (listed), Sat 01-02 and Sun 01-03 are weekend (the rule).
    assert calendar.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
    account = calendar.explain(date(2026, 12, 30), 3)
    assert (account["provisional"], account["provisional_years"]) == (True, [2027])
    assert [e["source"] for e in account["days"]] == [
        "package",
        "2027.yaml",
        "provisional",
        "provisional",
        "provisional",
        "provisional",
    ]
    assert "tyme4py" in account["sources"]["provisional"]


def test_an_account_within_known_years_is_not_provisional(calendar):
    account = calendar.explain(date(2026, 9, 25), 5)
    assert (account["provisional"], account["provisional_years"]) == (False, [])


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_provisional_rule_matches_the_official_schedule_chinesecalendar_knows(year):
    """The lunar dates and the solar term, checked against the State Council's 2025 and 2026
    schedules: every provisional holiday is an official day off of the same festival, and every
    other official weekday off of that festival is either a day taken in lieu of a make-up working
    day, or a compensatory day for a statutory day that fell on a weekend: neither is invented."""
    provisional = statutory_holidays(year)
    assert len(provisional) == 13
    official = {day: name for day, name in chinese_calendar.holidays.items() if day.year == year}
    for day, name in provisional.items():
        assert official.get(day) == name, (day, name, official.get(day))
    for festival in set(provisional.values()):
        statutory = [day for day, name in provisional.items() if name == festival]
        extra_weekdays = [
            day
            for day, name in official.items()
            if name == festival
            and day not in provisional
            and day.weekday() < 5
            and day not in chinese_calendar.in_lieu_days
        ]
        on_weekends = [day for day in statutory if day.weekday() >= 5]
        assert len(extra_weekdays) == len(on_weekends), (festival, extra_weekdays, on_weekends)


def test_mid_autumn_on_national_day_carries_both_names():
    assert statutory_holidays(2028)[date(2028, 10, 3)] == "Mid-autumn Festival / National Day"
    assert len(statutory_holidays(2028)) == 12


def test_a_complete_file_wins_over_the_provisional_rule(tmp_path):
    # Test data, not the real 2027 schedule: it does not list the Spring Festival.
    write(tmp_path, "2027.yaml", "year: 2027\nsource: test notice\ncomplete: true\nholidays: [2027-01-01]\n")
    calendar = WorkingCalendar(tmp_path)
    eve = calendar.day(date(2027, 2, 5))
    assert (eve.working, eve.source, eve.provisional) == (True, "2027.yaml", False)
    assert calendar.year_status(2027)["status"] == "official"
    assert calendar.explain(date(2026, 12, 30), 3)["provisional"] is False


def test_a_file_changed_between_two_calendars_counts_in_the_second(tmp_path):
    # A file's parse is kept for its bytes: the same bytes again are not parsed again, new ones are.
    path = write(tmp_path, "2027.yaml", "year: 2027\nsource: test notice\ncomplete: true\nholidays: [2027-01-01]\n")
    assert WorkingCalendar(tmp_path).day(date(2027, 3, 1)).working is True
    path.write_text("year: 2027\nsource: test notice\ncomplete: true\nholidays: [2027-03-01]\n", encoding="utf-8")
    again = WorkingCalendar(tmp_path)
    assert again.day(date(2027, 3, 1)).working is False
    assert again.day(date(2027, 1, 1)).working is True  # no longer listed: a Friday, and the file is complete


def test_a_partial_file_is_layered_on_the_provisional_rule(tmp_path):
    # Test data: a bridge day and a make-up working day, as a notice might set them.
    write(
        tmp_path,
        "2027.yaml",
        """\
        year: 2027
        source: test partial
        complete: false
        holidays: [{date: 2027-02-09, name: Spring Festival bridge}]
        workdays: [{date: 2027-02-20, name: Spring Festival make-up}]
        """,
    )
    calendar = WorkingCalendar(tmp_path)
    assert calendar.day(date(2027, 2, 9)).source == "2027.yaml" and not calendar.is_working_day(date(2027, 2, 9))
    assert calendar.day(date(2027, 2, 20)).kind == "makeup_workday"
    assert calendar.day(date(2027, 2, 8)).source == "provisional"  # lunar 1/3, from the rule
    assert {calendar.day(date(2027, 2, d)).provisional for d in (8, 9, 20)} == {True}
    # Counted from Thu 02-04: 02-05..02-09 off, 02-10 is the first working day.
    assert calendar.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 10)


def test_a_year_before_the_package_is_unknown_too(tmp_path):
    with pytest.raises(UnknownCalendarDate, match="2003"):
        WorkingCalendar(tmp_path).is_working_day(date(2003, 6, 2))


def test_a_year_outside_every_source_raises_loudly_and_says_which_file_to_add(tmp_path):
    # 2003: before chinesecalendar (2004-), no file, and before the holiday rules the
    # provisional rule follows (in force from 2025).
    with pytest.raises(UnknownCalendarDate) as caught:
        WorkingCalendar(tmp_path).is_working_day(date(2003, 1, 6))
    message = str(caught.value)
    assert caught.value.year == 2003 and isinstance(caught.value, ValueError)
    assert f"{tmp_path}/2003.yaml" in message and "complete: true" in message
    assert "in force from 2025" in message


def test_a_year_beyond_the_lunar_library_raises_naming_it():
    with pytest.raises(UnknownCalendarDate, match="tyme4py") as caught:
        statutory_holidays(10000)
    assert caught.value.year == 10000 and caught.value.day is None


def test_a_complete_override_makes_its_year_known_and_extends_known_until(tmp_path):
    # Test data, not the real 2027 schedule.
    write(
        tmp_path,
        "2027.yaml",
        """\
        year: 2027
        source: test notice
        complete: true
        holidays: [2027-01-01, {date: 2027-02-08, name: Spring Festival}]
        workdays: [{date: 2027-02-20, name: Spring Festival make-up}]
        """,
    )
    calendar = WorkingCalendar(tmp_path)
    assert calendar.known_until() == date(2027, 12, 31)
    assert calendar.day(date(2027, 1, 4)).working  # unlisted Monday: the weekday rule
    assert calendar.day(date(2027, 1, 4)).source == "2027.yaml"
    assert not calendar.is_working_day(date(2027, 1, 9))  # unlisted Saturday
    assert calendar.day(date(2027, 2, 20)).kind == "makeup_workday"
    account = calendar.explain(date(2027, 2, 5), 1)
    assert account["end"] == "2027-02-09"
    assert account["sources"] == {"2027.yaml": "test notice"}
    assert calendar.day(date(2028, 1, 3)).provisional  # 2028 has no schedule: provisional


def test_a_listed_date_corrects_the_package(tmp_path):
    write(
        tmp_path,
        "2026.yaml",
        """\
        year: 2026
        source: test correction
        complete: false
        holidays: [{date: 2026-10-09, name: extra day off}]
        """,
    )
    calendar = WorkingCalendar(tmp_path)
    assert not calendar.is_working_day(date(2026, 10, 9))
    assert calendar.day(date(2026, 10, 9)).source == "2026.yaml"
    assert not calendar.day(date(2026, 10, 9)).provisional  # the package knows the year
    assert calendar.day(date(2026, 10, 8)).source == "package"
    assert calendar.add_working_days(date(2026, 9, 25), 5) == date(2026, 10, 10)


def test_special_days_lists_holidays_and_make_up_days_of_a_year(calendar):
    days = calendar.special_days(2027)
    assert [d.date for d in days if d.name == "Spring Festival"] == [date(2027, 2, d) for d in (5, 6, 7, 8)]
    assert all(d.provisional for d in days) and len(days) == 13


def test_the_files_fingerprint_changes_when_a_yearly_file_is_written(tmp_path):
    before = files_fingerprint(tmp_path)
    write(tmp_path, "2027.yaml", "year: 2027\nsource: x\ncomplete: false\n")
    after = files_fingerprint(tmp_path)
    assert before == () and [name for name, *_ in after] == ["2027.yaml"]
    write(tmp_path, "2027.yaml", "year: 2027\nsource: the notice\ncomplete: true\n")
    assert files_fingerprint(tmp_path) != after


# --- checking a yearly file before it is entered (ztc calendar add) ------------------------------

STAND_IN_2027 = """\
    year: 2027
    source: test stand-in
    complete: true
    holidays: [2027-01-01, 2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-04-05,
               2027-05-01, 2027-05-02, 2027-05-03, 2027-06-09, 2027-09-15, 2027-10-01, 2027-10-02,
               2027-10-03, 2027-10-04]
    workdays: [2027-02-20]
    """


def test_a_file_covering_the_statutory_holidays_passes_without_warnings(tmp_path):
    data, warnings = check_year_file(write(tmp_path, "in.yaml", STAND_IN_2027), 2027)
    assert data["complete"] and warnings == []


def test_a_file_for_another_year_is_refused(tmp_path):
    with pytest.raises(DataFileError, match="is 2027, but the file is being entered for 2028"):
        check_year_file(write(tmp_path, "in.yaml", STAND_IN_2027), 2028)


def test_a_file_missing_statutory_holidays_is_warned_about_naming_them(tmp_path):
    path = write(
        tmp_path,
        "in.yaml",
        """\
        year: 2027
        source: test
        complete: true
        holidays: [2027-01-01, 2027-10-01, 2027-10-02, 2027-10-03]
        workdays: [2027-02-05, 2027-03-03]
        """,
    )
    _, warnings = check_year_file(path, 2027)
    assert len(warnings) == 2
    assert "does not list 9 of the 13 statutory holidays of 2027" in warnings[0]
    assert "2027-02-05 (Spring Festival)" in warnings[0] and "lists as working days: 2027-02-05" in warnings[0]
    assert "2027-03-03" in warnings[1]


def test_a_partial_file_is_warned_that_the_year_stays_provisional(tmp_path):
    _, warnings = check_year_file(DEFAULT_DIRECTORY / "2027.yaml", 2027)
    assert any("complete: false" in w for w in warnings)


@pytest.mark.parametrize(
    "text, field",
    [
        ("year: 2027\nsource: x\ncomplete: true\nholidays: [2026-12-31]\n", "holidays"),
        ("year: 2027\nsource: x\ncomplete: true\nholidays: [2027-01-01]\nworkdays: [2027-01-01]\n", "workdays"),
        ("year: 2027\ncomplete: true\n", "source"),
        ("year: 2027\nsource: x\ncomplete: true\nholidays: [2027-02-30]\n", "holidays[0]"),
    ],
    ids=["outside_the_year", "both", "missing_source", "no_such_date"],
)
def test_a_bad_file_is_refused_naming_the_field(tmp_path, text, field):
    with pytest.raises(DataFileError) as caught:
        check_year_file(write(tmp_path, "in.yaml", text), 2027)
    assert field in caught.value.errors


# --- bad override files ------------------------------------------------------------------------


def test_a_missing_year_is_refused_naming_the_file_and_the_field(tmp_path):
    path = write(tmp_path, "2027.yaml", "source: x\ncomplete: false\n")
    with pytest.raises(DataFileError) as caught:
        WorkingCalendar(tmp_path)
    assert str(path) in str(caught.value)
    assert caught.value.errors == {"year": ["Missing data for required field."]}


def test_a_year_of_the_wrong_type_is_refused_naming_the_field(tmp_path):
    write(tmp_path, "2027.yaml", "year: twenty-seven\nsource: x\ncomplete: false\n")
    with pytest.raises(DataFileError, match=r"2027\.yaml: year: Not a valid integer"):
        WorkingCalendar(tmp_path)


def test_a_bad_holiday_entry_is_refused_naming_its_position(tmp_path):
    write(
        tmp_path,
        "2027.yaml",
        """\
        year: 2027
        source: x
        complete: false
        holidays: [2027-01-01, 2027-13-01, 2027-10-01 09:00:00]
        """,
    )
    with pytest.raises(DataFileError) as caught:
        WorkingCalendar(tmp_path)
    assert set(caught.value.errors) == {"holidays[1]", "holidays[2]"}


def test_a_date_outside_the_file_year_is_refused(tmp_path):
    write(tmp_path, "2027.yaml", "year: 2027\nsource: x\ncomplete: false\nworkdays: [2026-10-10]\n")
    with pytest.raises(DataFileError, match="workdays: dates outside year 2027: 2026-10-10"):
        WorkingCalendar(tmp_path)


def test_a_date_both_holiday_and_workday_is_refused(tmp_path):
    write(
        tmp_path,
        "2027.yaml",
        """\
        year: 2027
        source: x
        complete: false
        holidays: [2027-01-01]
        workdays: [2027-01-01]
        """,
    )
    with pytest.raises(DataFileError, match="both holiday and workday: 2027-01-01"):
        WorkingCalendar(tmp_path)


def test_a_misspelt_field_is_refused_not_ignored(tmp_path):
    write(tmp_path, "2027.yaml", "year: 2027\nsource: x\ncomplete: true\nholiday: [2027-01-01]\n")
    with pytest.raises(DataFileError, match="holiday: Unknown field"):
        WorkingCalendar(tmp_path)


def test_complete_must_be_stated(tmp_path):
    write(tmp_path, "2027.yaml", "year: 2027\nsource: x\n")
    with pytest.raises(DataFileError, match="complete: Missing data"):
        WorkingCalendar(tmp_path)


def test_broken_yaml_is_refused_naming_the_file(tmp_path):
    path = write(tmp_path, "2027.yaml", "year: [2027\n")
    with pytest.raises(DataFileError, match="not valid UTF-8 YAML") as caught:
        WorkingCalendar(tmp_path)
    assert caught.value.path == path


def test_two_files_for_one_year_are_refused(tmp_path):
    write(tmp_path, "2027.yaml", "year: 2027\nsource: a\ncomplete: false\n")
    write(tmp_path, "2027-b.yaml", "year: 2027\nsource: b\ncomplete: false\n")
    with pytest.raises(DataFileError, match="already given by"):
        WorkingCalendar(tmp_path)


def test_a_missing_override_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        WorkingCalendar(tmp_path / "nowhere")
