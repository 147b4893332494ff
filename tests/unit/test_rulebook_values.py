"""Rule values read from the proposal rulebook, not from code: the format limits of a proposal,
the duplicate threshold, the handling checklist's shares and the quality grades. Each test changes
the value in a copy of the rulebook and sees the behaviour change; a bad value is refused naming
its field."""

from __future__ import annotations

from fractions import Fraction

import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

import shared.rulebook as rulebook_module
from services.evaluation import checklist, operations as evaluation
from services.evaluation.models import Base as EvaluationBase
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import operations as intake
from services.intake.models import Base as IntakeBase
from shared.calendar import DataFileError
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import InvalidInput
from shared.forms import GradeQualityForm
from shared.rulebook import RULES_DIRECTORY, load_rulebook
from tests.unit.services.evaluation.fakes import sql_ports

PROPOSAL_FILE = RULES_DIRECTORY / "proposal.yaml"
LI = {"user": "member.li", "roles": ["member"]}
WANG = {"user": "member.wang", "roles": ["member"]}
TEXT = {
    "kind": "between_sessions",
    "publish_consent": True,
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "老城区现有公交候车亭多建于十年前。",
    "analysis": "缺少统一规划。",
    "suggestions": "由交通局牵头制定老城区公交候车亭改造计划，增设夜间照明。",
}
NEAR = {
    **TEXT,
    "title": "关于老城区公交候车亭改造的提案",
    "suggestions": "交通局牵头制定公交候车亭改造计划，落实维护资金和夜间照明。",
}
EXEMPLARY = {
    "signed_on_time": True,
    "face_to_face": True,
    "replied_on_time": True,
    "extensions": 0,
    "rehandling_rounds": 0,
    "category": "A",
    "satisfaction": ["satisfied"],
}


@pytest.fixture
def rules(tmp_path, monkeypatch):
    """``rules(change)`` writes a changed copy of the proposal rulebook and makes it the one loaded."""

    def change(edit):
        data = yaml.safe_load(PROPOSAL_FILE.read_text(encoding="utf-8"))
        edit(data)
        path = tmp_path / "rules" / "proposal.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        monkeypatch.setattr(rulebook_module, "RULES_DIRECTORY", path.parent)
        return path

    return change


@pytest.fixture
def intake_session(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/intake.db"
    IntakeBase.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


@pytest.fixture
def evaluation_session(tmp_path, skipping_clock):
    engine = create_engine(f"sqlite:///{tmp_path}/evaluation.db")
    EvaluationBase.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        yield s
    engine.dispose()


def submit(session, principal=LI, **overrides):
    return intake.submit(
        SqlIntakeUnitOfWork(session), RulebookRules(), {**TEXT, **overrides}, principal, directory=lambda users: []
    )


# -- format (一事一案) ---------------------------------------------------------------------------


def test_the_title_limit_is_the_rulebooks(intake_session, rules):
    submit(intake_session, title="候" * 40)
    rules(lambda data: data["format"].update(max_title=30))
    with pytest.raises(InvalidInput) as refused:
        submit(intake_session, title="候" * 31)
    assert "at most 30" in refused.value.details["title"][0]


def test_the_length_of_one_matter_is_the_rulebooks(intake_session, rules):
    submit(intake_session, situation="情" * 1000)
    rules(lambda data: data["format"].update(max_total=500))
    with pytest.raises(InvalidInput) as refused:
        submit(intake_session, situation="情" * 1000)
    assert "at most 500" in refused.value.details["_schema"][0]


def test_a_title_limit_beyond_what_the_table_holds_is_refused_naming_the_field(rules):
    path = rules(lambda data: data["format"].update(max_title=500))
    with pytest.raises(DataFileError, match=r"format\.max_title"):
        load_rulebook("proposal", path)


# -- duplicates (并案) ---------------------------------------------------------------------------


def test_the_duplicate_threshold_is_the_rulebooks(intake_session, rules):
    submit(intake_session)
    near = submit(intake_session, WANG, **NEAR)
    found = intake.find_duplicates(
        SqlIntakeUnitOfWork(intake_session), RulebookRules(), {"proposal_id": near["id"]}, None
    )["candidates"]
    assert len(found) == 1 and found[0]["score"] < 0.9
    rules(lambda data: data["duplicates"].update(threshold=0.9))
    assert (
        intake.find_duplicates(SqlIntakeUnitOfWork(intake_session), RulebookRules(), {"proposal_id": near["id"]}, None)[
            "candidates"
        ]
        == []
    )


def test_a_duplicate_threshold_outside_0_to_1_is_refused_naming_the_field(rules):
    path = rules(lambda data: data["duplicates"].update(threshold=1.5))
    with pytest.raises(DataFileError, match=r"duplicates\.threshold"):
        load_rulebook("proposal", path)


# -- the checklist's shares ----------------------------------------------------------------------


def by_item(scored):
    return {item["item"]: item for item in scored["items"]}


def test_the_checklist_shares_are_the_rulebooks(rules):
    facts = {
        **EXEMPLARY,
        "signed_on_time": False,
        "rehandling_rounds": 1,
        "extensions": 1,
        "category": "B",
        "satisfaction": ["basically_satisfied"],
    }
    shipped = by_item(checklist.score(facts, load_rulebook("proposal")))
    assert [shipped[i]["points"] for i in ("organisation", "procedure", "timeliness", "result")] == [
        10,
        15,
        15,
        25,
    ]  # 1/2, 3/4, 3/4, (3/4 + 1/2) / 2

    def change(data):
        shares = data["handling_checklist"]["rules"]
        shares["organisation"]["late_signing"] = "1/4"
        shares["procedure"]["per_rehandling"] = 0.5
        shares["timeliness"].update(per_extension="1/2", on_time_floor="1/4")
        shares["result"]["categories"]["B"] = "1/2"
        shares["result"]["levels"]["basically_satisfied"] = 0

    changed = by_item(checklist.score(facts, load_rulebook("proposal", rules(change))))
    assert [changed[i]["points"] for i in ("organisation", "procedure", "timeliness", "result")] == [5, 10, 10, 10]
    assert "basically satisfied 0" in changed["result"]["why"]


def test_a_late_reply_and_no_face_to_face_meeting_earn_the_rulebooks_shares(rules):
    facts = {**EXEMPLARY, "face_to_face": False, "replied_on_time": False}
    shipped = by_item(checklist.score(facts, load_rulebook("proposal")))
    assert (shipped["face_to_face"]["points"], shipped["timeliness"]["points"]) == (0, 0)
    assert shipped["timeliness"]["why"] == "replied after the deadline: no points"

    def change(data):
        shares = data["handling_checklist"]["rules"]
        shares["face_to_face"]["no_meeting"] = "1/4"
        shares["timeliness"]["late_reply"] = "1/2"

    changed = by_item(checklist.score(facts, load_rulebook("proposal", rules(change))))
    assert (changed["face_to_face"]["points"], changed["timeliness"]["points"]) == (5, 10)
    assert changed["face_to_face"]["why"] == "no face-to-face meeting with the proposer: 1/4 of the points"
    path = rules(lambda data: data["handling_checklist"]["rules"]["timeliness"].pop("late_reply"))
    with pytest.raises(DataFileError, match=r"handling_checklist\.rules\.timeliness\.late_reply"):
        load_rulebook("proposal", path)


def test_a_checklist_share_that_is_not_a_share_is_refused_naming_the_field(rules):
    path = rules(lambda data: data["handling_checklist"]["rules"]["organisation"].update(late_signing="3/2"))
    with pytest.raises(DataFileError, match=r"handling_checklist\.rules\.organisation\.late_signing"):
        load_rulebook("proposal", path)


def test_a_reply_category_without_a_share_is_refused_naming_the_field(rules):
    path = rules(lambda data: data["handling_checklist"]["rules"]["result"]["categories"].pop("D"))
    with pytest.raises(DataFileError, match=r"handling_checklist\.rules\.result\.categories: .*D"):
        load_rulebook("proposal", path)


def test_shares_load_as_exact_fractions():
    shares = load_rulebook("proposal").handling_checklist_rules()
    assert shares["timeliness"]["per_extension"] == Fraction(1, 4)


# -- quality grades ------------------------------------------------------------------------------


def test_the_quality_grades_are_the_rulebooks(evaluation_session, rules):
    assert (
        evaluation.grade_quality(
            *sql_ports(evaluation_session), {"number": "2027-0001", "grade": "good", "graded_by": "committee"}, None
        )["grade"]
        == "good"
    )
    rules(
        lambda data: (
            data.update(
                quality_grades=[
                    {"code": "excellent", "zh": "优秀提案", "en": "Excellent"},
                    {"code": "commended", "zh": "表扬提案", "en": "Commended"},
                ]
            )
            or data["quality_checklist"].update(
                grades=[{"grade": "excellent", "min": 85}, {"grade": "commended", "min": 0}]
            )
        )
    )
    with pytest.raises(InvalidInput) as refused:
        evaluation.grade_quality(
            *sql_ports(evaluation_session), {"number": "2027-0001", "grade": "good", "graded_by": "committee"}, None
        )
    assert "commended" in refused.value.details["grade"][0]
    assert (
        evaluation.grade_quality(
            *sql_ports(evaluation_session),
            {"number": "2027-0001", "grade": "commended", "graded_by": "committee"},
            None,
        )["grade"]
        == "commended"
    )
    assert GradeQualityForm().validate({"grade": "good"}) == {
        "grade": ["not a quality grade of the rulebook; one of: excellent, commended"]
    }
    assert GradeQualityForm().validate({"grade": "commended"}) == {}


def test_quality_grades_without_excellent_are_refused_naming_the_field(rules):
    path = rules(lambda data: data.update(quality_grades=[{"code": "good", "zh": "良好", "en": "Good"}]))
    with pytest.raises(DataFileError, match="quality_grades: a grade 'excellent'"):
        load_rulebook("proposal", path)
