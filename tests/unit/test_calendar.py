"""The working-day calendar: Chinese holidays and make-up working days, overrides as data,
and unknown dates reported loudly.

The 2026 facts below are chinesecalendar 1.11's data (the State Council's 2026 schedule):
Mid-Autumn Festival Fri 09-25 to Sun 09-27 off; National Day Thu 10-01 to Wed 10-07 off;
make-up working days Sun 09-20 and Sat 10-10; Thu 10-08 is an ordinary working day.
"""
from __future__ import annotations

import textwrap
from datetime import date, datetime, timedelta, timezone

import pytest

from shared.calendar import (DEFAULT_DIRECTORY, DataFileError, UnknownCalendarDate,
                             WorkingCalendar)


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
        "2026-09-25", "working_days", 6, "2026-10-10")
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
    assert counted == [("2026-09-28", 1), ("2026-09-29", 2), ("2026-09-30", 3),
                       ("2026-10-08", 4), ("2026-10-09", 5)]


# --- years the package does not know ------------------------------------------------------------

def test_the_repository_2027_file_is_provisional_and_incomplete(calendar):
    assert calendar.files[2027] == "2027.yaml"
    assert "PROVISIONAL" in calendar.sources["2027.yaml"]
    assert calendar.known_until() == date(2026, 12, 31)


def test_a_2027_date_the_provisional_file_does_not_list_raises_naming_2027(calendar):
    with pytest.raises(UnknownCalendarDate) as caught:
        calendar.is_working_day(date(2027, 3, 15))
    message = str(caught.value)
    assert caught.value.year == 2027
    assert "2027-03-15" in message
    assert str(DEFAULT_DIRECTORY / "2027.yaml") in message
    assert "complete: false" in message
    assert isinstance(caught.value, ValueError)


def test_a_2027_date_listed_in_the_provisional_file_is_answered(calendar):
    national_day = calendar.day(date(2027, 10, 1))
    assert (national_day.working, national_day.kind, national_day.source) == (
        False, "holiday", "2027.yaml")


def test_a_working_day_deadline_running_into_an_unknown_year_raises_instead_of_guessing(calendar):
    # 2027-01-01 is listed (a holiday); Saturday 2027-01-02 is not.
    with pytest.raises(UnknownCalendarDate, match="2027-01-02"):
        calendar.add_working_days(date(2026, 12, 30), 3)


def test_a_year_before_the_package_is_unknown_too(tmp_path):
    with pytest.raises(UnknownCalendarDate, match="2003"):
        WorkingCalendar(tmp_path).is_working_day(date(2003, 6, 2))


def test_without_any_file_2027_is_unknown_and_the_message_says_which_file_to_add(tmp_path):
    with pytest.raises(UnknownCalendarDate) as caught:
        WorkingCalendar(tmp_path).is_working_day(date(2027, 1, 1))
    assert f"{tmp_path}/2027.yaml" in str(caught.value)
    assert "complete: true" in str(caught.value)


def test_a_complete_override_makes_its_year_known_and_extends_known_until(tmp_path):
    # Test data, not the real 2027 schedule.
    write(tmp_path, "2027.yaml", """\
        year: 2027
        source: test notice
        complete: true
        holidays: [2027-01-01, {date: 2027-02-08, name: Spring Festival}]
        workdays: [{date: 2027-02-20, name: Spring Festival make-up}]
        """)
    calendar = WorkingCalendar(tmp_path)
    assert calendar.known_until() == date(2027, 12, 31)
    assert calendar.day(date(2027, 1, 4)).working  # unlisted Monday: the weekday rule
    assert calendar.day(date(2027, 1, 4)).source == "2027.yaml"
    assert not calendar.is_working_day(date(2027, 1, 9))  # unlisted Saturday
    assert calendar.day(date(2027, 2, 20)).kind == "makeup_workday"
    account = calendar.explain(date(2027, 2, 5), 1)
    assert account["end"] == "2027-02-09"
    assert account["sources"] == {"2027.yaml": "test notice"}
    with pytest.raises(UnknownCalendarDate, match="2028"):
        calendar.is_working_day(date(2028, 1, 3))


def test_a_listed_date_corrects_the_package(tmp_path):
    write(tmp_path, "2026.yaml", """\
        year: 2026
        source: test correction
        complete: false
        holidays: [{date: 2026-10-09, name: extra day off}]
        """)
    calendar = WorkingCalendar(tmp_path)
    assert not calendar.is_working_day(date(2026, 10, 9))
    assert calendar.day(date(2026, 10, 9)).source == "2026.yaml"
    assert calendar.day(date(2026, 10, 8)).source == "package"
    assert calendar.add_working_days(date(2026, 9, 25), 5) == date(2026, 10, 10)


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
    write(tmp_path, "2027.yaml", """\
        year: 2027
        source: x
        complete: false
        holidays: [2027-01-01, 2027-13-01, 2027-10-01 09:00:00]
        """)
    with pytest.raises(DataFileError) as caught:
        WorkingCalendar(tmp_path)
    assert set(caught.value.errors) == {"holidays[1]", "holidays[2]"}


def test_a_date_outside_the_file_year_is_refused(tmp_path):
    write(tmp_path, "2027.yaml", "year: 2027\nsource: x\ncomplete: false\nworkdays: [2026-10-10]\n")
    with pytest.raises(DataFileError, match="workdays: dates outside year 2027: 2026-10-10"):
        WorkingCalendar(tmp_path)


def test_a_date_both_holiday_and_workday_is_refused(tmp_path):
    write(tmp_path, "2027.yaml", """\
        year: 2027
        source: x
        complete: false
        holidays: [2027-01-01]
        workdays: [2027-01-01]
        """)
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
