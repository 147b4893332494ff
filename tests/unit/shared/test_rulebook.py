"""The proposal rulebook as data, and deadlines that say which rule and rulebook set them."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import pytest
import yaml

from shared.calendar import DataFileError, UnknownCalendarDate, WorkingCalendar
from shared.rulebook import RULES_DIRECTORY, Duration, deadline, load_rulebook

PROPOSAL_FILE = RULES_DIRECTORY / "proposal.yaml"


@pytest.fixture(scope="module")
def rulebook():
    return load_rulebook("proposal")


@pytest.fixture(scope="module")
def calendar():
    return WorkingCalendar()


@pytest.fixture
def edited(tmp_path):
    """Write a changed copy of the proposal rulebook; returns the path of the copy."""

    def edit(change):
        data = yaml.safe_load(PROPOSAL_FILE.read_text(encoding="utf-8"))
        change(data)
        path = tmp_path / "proposal.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return edit


# --- the rulebook as shipped -------------------------------------------------------------------


def test_the_proposal_rulebook_is_versioned_and_hashed_from_its_bytes(rulebook):
    assert rulebook.name == "proposal"
    assert rulebook.version == "2027.10"
    expected = hashlib.sha256(PROPOSAL_FILE.read_bytes()).hexdigest()
    assert rulebook.content_hash == f"sha256:{expected}"


def test_the_proposal_deadlines_are_the_domain_defaults(rulebook):
    assert rulebook.duration("cosign_window") == Duration(3, "days")
    assert rulebook.duration("objection_window") == Duration(5, "working_days")
    assert rulebook.duration("sign_for_limit") == Duration(3, "working_days")
    assert rulebook.duration("co_unit_input") == Duration(1, "months")
    assert rulebook.duration("reply_deadline") == Duration(3, "months")
    assert rulebook.duration("max_extension") == Duration(6, "months")
    assert rulebook.duration("rehandling_reply") == Duration(1, "months")


def test_reminders_come_15_and_5_days_before_a_deadline(rulebook):
    assert rulebook.reminder_lead_times() == [Duration(15, "days"), Duration(5, "days")]


def test_reply_categories_a_b_c_are_enabled_and_d_is_off_by_default(rulebook):
    assert [c.code for c in rulebook.reply_categories()] == ["A", "B", "C"]
    every = rulebook.reply_categories(include_disabled=True)
    assert [c.code for c in every] == ["A", "B", "C", "D"]
    assert rulebook.reply_category("A").zh == "已解决或采纳"
    assert rulebook.reply_category("C").zh == "留作参考"
    with pytest.raises(KeyError, match="'D' is disabled"):
        rulebook.reply_category("D")


def test_there_are_ten_not_filed_reasons_each_in_chinese_and_english(rulebook):
    reasons = rulebook.reasons()
    assert len({reason.code for reason in reasons}) == 10
    assert all(reason.zh and reason.en for reason in reasons)
    assert rulebook.reason("no_concrete_suggestion").zh == "没有具体建议的"
    assert rulebook.reason("state_secrets").en == "Involves state secrets"


def test_an_unknown_reason_code_raises_key_error_naming_it_and_the_known_codes(rulebook):
    with pytest.raises(KeyError) as caught:
        rulebook.reason("too_long")
    message = str(caught.value)
    assert message.startswith("rulebook proposal 2027.10 has no not-filed reason 'too_long'")
    assert "state_secrets" in message


def test_an_unknown_duration_rule_raises_key_error(rulebook):
    with pytest.raises(KeyError, match="no duration rule 'reply_window'.*reply_deadline"):
        rulebook.duration("reply_window")


def test_satisfaction_has_three_levels_and_two_scores(rulebook):
    assert [(l.code, l.zh) for l in rulebook.satisfaction_levels()] == [
        ("satisfied", "满意"),
        ("basically_satisfied", "基本满意"),
        ("unsatisfied", "不满意"),
    ]
    assert [s.code for s in rulebook.satisfaction_scores()] == ["handling", "result"]


def test_key_proposals_are_guided_at_5_to_10_percent_of_filed_ones(rulebook):
    assert rulebook.key_proposal_share() == (0.05, 0.10)


def test_the_handling_checklist_sums_to_120_points(rulebook):
    items = rulebook.handling_checklist()
    assert [item.code for item in items] == ["organisation", "procedure", "face_to_face", "timeliness", "result"]
    assert rulebook.handling_checklist_total() == 120
    assert sum(item.points for item in items) == 120


# --- deadlines with provenance -----------------------------------------------------------------


def test_the_reply_deadline_is_three_calendar_months_clamped_at_month_end(rulebook, calendar):
    due = deadline(rulebook, "reply_deadline", date(2026, 11, 30), calendar)
    assert due.due == date(2027, 2, 28)
    assert due.explanation is None  # no calendar data was needed, even for 2027


def test_a_deadline_records_the_rule_and_the_rulebook_version_and_hash(rulebook, calendar):
    due = deadline(rulebook, "reply_deadline", date(2026, 11, 30), calendar)
    assert (due.rule, due.rulebook, due.rulebook_version, due.rulebook_hash) == (
        "reply_deadline",
        "proposal",
        "2027.10",
        rulebook.content_hash,
    )
    assert (due.start, due.amount, due.unit) == (date(2026, 11, 30), 3, "months")
    record = due.as_dict()
    assert record["rulebook_hash"].startswith("sha256:")
    assert (record["start"], record["due"], record["ends_at"]) == (
        "2026-11-30",
        "2027-02-28",
        "2027-03-01T00:00:00+08:00",
    )


def test_the_objection_window_counts_working_days_and_carries_the_calendar_account(rulebook, calendar):
    due = deadline(rulebook, "objection_window", date(2026, 9, 25), calendar)
    assert due.due == date(2026, 10, 9)
    assert due.explanation["end"] == "2026-10-09"
    assert len(due.explanation["skipped"]) == 9  # 09-26, 09-27 and 10-01..10-07


def test_the_cosign_window_counts_calendar_days_through_a_holiday(rulebook, calendar):
    due = deadline(rulebook, "cosign_window", date(2026, 9, 30), calendar)
    assert due.due == date(2026, 10, 3)
    assert due.explanation is None


def test_a_deadline_from_a_utc_timestamp_starts_on_the_chinese_date(rulebook, calendar):
    # 2026-09-30 17:00 UTC is already National Day in China.
    utc_evening = datetime(2026, 9, 30, 17, tzinfo=timezone.utc)
    due = deadline(rulebook, "cosign_window", utc_evening, calendar)
    assert due.start == date(2026, 10, 1)
    assert due.due == date(2026, 10, 4)


def test_a_working_day_rule_into_a_year_without_a_schedule_is_counted_provisionally(rulebook, calendar):
    due = deadline(rulebook, "sign_for_limit", date(2026, 12, 30), calendar)
    assert due.due == date(2027, 1, 5)  # 12-31, then 01-01 holiday, the weekend, 01-04, 01-05
    assert due.explanation["provisional"] and due.explanation["provisional_years"] == [2027]


def test_a_working_day_rule_into_a_year_no_source_knows_raises(rulebook, tmp_path):
    with pytest.raises(UnknownCalendarDate, match="2002-12-31"):
        deadline(rulebook, "sign_for_limit", date(2002, 12, 30), WorkingCalendar(tmp_path))


def test_a_changed_file_gets_a_different_hash(edited):
    path = edited(lambda data: data["durations"]["reply_deadline"].update(amount=2))
    changed = load_rulebook("proposal", path)
    assert changed.duration("reply_deadline") == Duration(2, "months")
    assert changed.content_hash != load_rulebook("proposal").content_hash


# --- bad rulebooks -----------------------------------------------------------------------------


def test_a_checklist_that_does_not_add_up_is_refused_naming_file_and_field(edited):
    path = edited(lambda data: data["handling_checklist"]["items"][0].update(points=25))
    with pytest.raises(DataFileError) as caught:
        load_rulebook("proposal", path)
    assert str(path) in str(caught.value)
    assert caught.value.errors == {"handling_checklist.items": ["points add up to 125, not the total 120"]}


def test_an_unknown_duration_unit_is_refused_naming_the_rule(edited):
    path = edited(lambda data: data["durations"]["reply_deadline"].update(unit="weeks"))
    with pytest.raises(DataFileError, match=r"durations\.reply_deadline\.unit: Must be one of"):
        load_rulebook("proposal", path)


def test_a_version_written_as_a_number_is_refused(edited):
    path = edited(lambda data: data.update(version=2027.1))
    with pytest.raises(DataFileError, match="version: Not a valid string"):
        load_rulebook("proposal", path)


def test_a_proposal_rulebook_missing_a_rule_the_diagram_needs_is_refused(edited):
    path = edited(lambda data: data["durations"].pop("max_extension"))
    with pytest.raises(DataFileError, match="durations: missing rules: max_extension"):
        load_rulebook("proposal", path)


def test_a_duplicate_reason_code_is_refused(edited):
    path = edited(lambda data: data["not_filed_reasons"][1].update(code="state_secrets"))
    with pytest.raises(DataFileError, match="not_filed_reasons: duplicate codes: state_secrets"):
        load_rulebook("proposal", path)


def test_a_file_loaded_under_another_rulebook_name_is_refused(edited):
    path = edited(lambda data: None)
    with pytest.raises(DataFileError, match="rulebook: is 'proposal'"):
        load_rulebook("opinion", path)


def test_another_rulebook_needs_only_a_version_and_durations(tmp_path):
    path = tmp_path / "opinion.yaml"
    path.write_text(
        yaml.safe_dump(
            {"rulebook": "opinion", "version": "1", "durations": {"edit": {"amount": 2, "unit": "working_days"}}}
        )
    )
    opinion = load_rulebook("opinion", path)
    assert opinion.duration("edit") == Duration(2, "working_days")
    with pytest.raises(KeyError, match="no section 'not_filed_reasons'"):
        opinion.reason("state_secrets")


def test_the_shipped_rulebook_round_trips_through_the_edit_helper(edited, rulebook):
    # Guards the helper above: an unchanged copy loads to the same rules.
    assert load_rulebook("proposal", edited(lambda data: None)).rules == rulebook.rules


def test_a_rule_may_have_reminder_lead_times_of_its_own():
    rulebook = load_rulebook("proposal")
    assert rulebook.reminder_lead_times("sign_for_limit") == [Duration(1, "working_days")]
    assert rulebook.reminder_lead_times("reply_deadline") == rulebook.reminder_lead_times()


def test_the_contact_kinds_say_which_counts_as_meeting_face_to_face(rulebook):
    kinds = {kind.code: kind.face_to_face for kind in rulebook.contact_kinds()}
    assert kinds == {"face_to_face": True, "phone": False, "letter": False, "online": False}


def test_a_proposal_rulebook_without_contact_kinds_or_with_a_bad_flag_is_refused(edited):
    with pytest.raises(DataFileError, match="contact_kinds: Missing data for required field"):
        load_rulebook("proposal", edited(lambda data: data.pop("contact_kinds")))
    with pytest.raises(DataFileError, match=r"contact_kinds\[1\]\.face_to_face: Not a valid boolean"):
        load_rulebook("proposal", edited(lambda data: data["contact_kinds"][1].update(face_to_face="maybe")))
