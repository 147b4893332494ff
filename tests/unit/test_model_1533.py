"""The 1533 model: the five areas classifying proposals and opinion items (intake, on a real SQLite
session) and the quality checklist on three standards a proposal's grade is computed from
(evaluation), both from the proposal rulebook."""

from __future__ import annotations

import pytest
import yaml
from marshmallow import ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from services.evaluation import operations as evaluation
from services.evaluation import quality
from services.evaluation.base import Base as EvaluationBase
from services.evaluation.models import QualityGrade
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import areas, operations
from services.intake.models import Base, OpinionIssue, OpinionItem, OpinionReport, ProposalEvent
from services.intake.opinions import submit as submit_opinion
from shared.calendar import DataFileError
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.forms import FilingDecisionForm, GradeQualityForm
from shared.rulebook import RULES_DIRECTORY, load_rulebook
from tests.unit.services.evaluation.fakes import sql_ports

LI = {"user": "李明", "roles": ["member"]}
STAFF = {"user": "staff.zhao", "roles": ["staff"]}
LEADER = {"user": "leader.sun", "roles": ["leader"]}
TEXT = {
    "title": "关于加快老城区公交候车亭改造的建议",
    "situation": "候车亭遮雨面积小。",
    "analysis": "缺少统一规划。",
    "suggestions": "由交通局牵头制定改造计划。",
}
RULEBOOK = load_rulebook("proposal")
ALL_ITEMS = [item.code for standard in RULEBOOK.quality_standards() for item in standard["items"]]


@pytest.fixture
def session(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/intake.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


@pytest.fixture
def evaluation_session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/evaluation.db")
    EvaluationBase.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        yield s
    engine.dispose()


def submit(session, **extra):
    proposal = operations.submit(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"kind": "between_sessions", "publish_consent": True, **TEXT, **extra},
        LI,
        directory=lambda users: [],
    )
    session.commit()
    return proposal


# -- the five areas --------------------------------------------------------------------------------


def test_the_five_areas_are_the_rulebooks():
    assert [(a.code, a.zh) for a in RULEBOOK.areas()] == [
        ("economy", "经济"),
        ("politics", "政治"),
        ("culture", "文化"),
        ("society", "社会"),
        ("ecology", "生态文明"),
    ]


def test_a_member_may_give_the_area_at_submission_and_an_unknown_one_is_refused(session):
    assert submit(session, area="society")["area"] == "society"
    assert submit(session)["area"] is None  # optional for the member
    with pytest.raises(InvalidInput) as refused:
        submit(session, area="sports")
    assert "not an area of the rulebook" in refused.value.details["area"][0]


def test_staff_set_the_area_at_filing_and_change_it_later_recorded_in_the_history(session):
    proposal = submit(session, area="economy")
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": proposal["id"], "decision": "filed", "decided_by": "committee.he", "area": "ecology"},
        None,
    )
    assert operations.get(SqlIntakeUnitOfWork(session), proposal["number"], STAFF)["area"] == "ecology"
    changed = areas.set_area(
        SqlIntakeUnitOfWork(session), RulebookRules(), "proposal", proposal["number"], {"area": "society"}, STAFF
    )
    assert changed == {"number": proposal["number"], "area": "society", "was": "ecology"}
    history = [
        (e.action, e.data)
        for e in session.scalars(select(ProposalEvent).order_by(ProposalEvent.id))
        if e.action == "area_set"
    ]
    assert history == [
        ("area_set", {"area": "ecology", "was": "economy"}),
        ("area_set", {"area": "society", "was": "ecology"}),
    ]
    with pytest.raises(Forbidden):
        areas.set_area(
            SqlIntakeUnitOfWork(session), RulebookRules(), "proposal", proposal["number"], {"area": "culture"}, LI
        )
    with pytest.raises(InvalidInput):
        areas.set_area(
            SqlIntakeUnitOfWork(session), RulebookRules(), "proposal", proposal["number"], {"area": "sports"}, STAFF
        )
    with pytest.raises(NotFound):
        areas.set_area(
            SqlIntakeUnitOfWork(session), RulebookRules(), "opinion", "SQ-2026-9999", {"area": "culture"}, STAFF
        )
    assert (
        operations.get(SqlIntakeUnitOfWork(session), proposal["number"], STAFF)["area"] == "society"
    )  # refusals changed nothing


def test_the_filing_form_takes_only_a_rulebook_area():
    assert FilingDecisionForm().load({"decision": "filed", "area": "culture"})["area"] == "culture"
    assert FilingDecisionForm().load({"decision": "filed"})["area"] is None
    with pytest.raises(ValidationError, match="not an area"):
        FilingDecisionForm().load({"decision": "filed", "area": "sports"})


def test_the_years_figures_count_proposals_and_opinion_items_by_area(session):
    first = submit(session, area="society")
    submit(session, area="society")
    submit(session)
    operations.record_filing(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"proposal_id": first["id"], "decision": "filed", "decided_by": "c"},
        None,
    )
    item = submit_opinion(
        SqlIntakeUnitOfWork(session),
        RulebookRules(),
        {"title": "菜市场周边停车难", "situation": "s", "analysis": "a", "suggestion": "g", "area": "economy"},
        LI,
    )
    row = session.scalar(select(OpinionItem).where(OpinionItem.number == item["number"]))
    issue = OpinionIssue(
        channel="city_government", year=2026, sequence=1, number="市政府-2026-001", created_at=row.created_at
    )
    session.add(issue)
    session.flush()
    session.add(
        OpinionReport(
            item_id=row.id,
            issue_id=issue.id,
            channel="city_government",
            signed_off_by="staff.zhao",
            reported_at=row.created_at,
            adoption="adopted",
        )
    )
    session.flush()
    figures = areas.area_figures(SqlIntakeUnitOfWork(session), RulebookRules(), 2026, LEADER)
    by_code = {a["code"]: a for a in figures["areas"]}
    assert (by_code["society"]["proposals"], by_code["society"]["filed"]) == (2, 1)
    assert (by_code["economy"]["opinions"], by_code["economy"]["adopted"]) == (1, 1)
    assert figures["unclassified"]["proposals"] == 1
    assert [a["label"] for a in figures["areas"]] == ["经济", "政治", "文化", "社会", "生态文明"]
    with pytest.raises(Forbidden):
        areas.area_figures(SqlIntakeUnitOfWork(session), RulebookRules(), 2026, LI)


# -- the quality checklist on three standards ------------------------------------------------------


def test_the_checklist_has_three_standards_adding_up_to_its_total():
    assert [s["label"].zh for s in RULEBOOK.quality_standards()] == ["服务中心有为", "建言资政有力", "凝聚共识有效"]
    assert (
        sum(item.points for s in RULEBOOK.quality_standards() for item in s["items"])
        == RULEBOOK.quality_checklist_total()
    )


def test_the_grade_is_computed_from_the_ticked_items_with_the_rulebooks_thresholds():
    everything = quality.score_checklist(RULEBOOK, ALL_ITEMS)
    assert (everything["grade"], everything["points"]) == ("excellent", 100)
    # 100 less the 15-point items of the first two standards: 70, the good grade's minimum
    fewer = [c for c in ALL_ITEMS if c not in ("central_task", "feasible_suggestions")]
    assert (quality.score_checklist(RULEBOOK, fewer)["grade"], quality.score_checklist(RULEBOOK, fewer)["points"]) == (
        "good",
        70,
    )
    one_less = fewer[1:]  # public_concern (10) off as well
    assert quality.score_checklist(RULEBOOK, one_less)["grade"] == "ordinary"
    assert quality.score_checklist(RULEBOOK, [])["points"] == 0
    standards = quality.score_checklist(RULEBOOK, ["central_task"])["standards"]
    assert [(s["code"], s["points"], s["max"]) for s in standards] == [
        ("serves_the_centre", 15, 35),
        ("advice_effective", 0, 35),
        ("builds_consensus", 0, 30),
    ]
    with pytest.raises(InvalidInput, match="checklist"):
        quality.score_checklist(RULEBOOK, ["charisma"])


def test_the_committee_grades_on_the_checklist_and_the_checklist_is_kept_and_shown(evaluation_session):
    result = evaluation.grade_quality(
        *sql_ports(evaluation_session),
        {"number": "2026-0001", "quality_checklist": ALL_ITEMS, "graded_by": "committee.liu"},
        None,
    )
    assert result == {"grade": "excellent", "points": 100}
    row = evaluation_session.scalars(select(QualityGrade)).one()
    assert row.checklist["standards"][0]["items"][0]["met"] is True
    shown = quality.grade_of(*sql_ports(evaluation_session, RULEBOOK), "2026-0001", LEADER)
    assert (shown["grade"], shown["grade_zh"], shown["points"]) == ("excellent", "优秀提案", 100)
    # a grade sent with the checklist is not the one kept: the checklist decides
    evaluation.grade_quality(
        *sql_ports(evaluation_session),
        {"number": "2026-0001", "quality_checklist": [], "grade": "excellent", "graded_by": "committee.liu"},
        None,
    )
    assert quality.grade_of(*sql_ports(evaluation_session, RULEBOOK), "2026-0001", LEADER)["grade"] == "ordinary"
    with pytest.raises(Forbidden):
        quality.grade_of(*sql_ports(evaluation_session, RULEBOOK), "2026-0001", LI)


def test_a_grade_given_directly_still_works_with_no_checklist(evaluation_session):
    assert evaluation.grade_quality(
        *sql_ports(evaluation_session), {"number": "2026-0002", "grade": "good", "graded_by": "c"}, None
    ) == {"grade": "good", "points": None}
    assert quality.grade_of(*sql_ports(evaluation_session, RULEBOOK), "2026-0002", LEADER)["checklist"] is None
    with pytest.raises(InvalidInput):
        evaluation.grade_quality(*sql_ports(evaluation_session), {"number": "2026-0002", "graded_by": "c"}, None)


def test_the_grading_form_takes_the_checklist_or_a_grade_and_puts_the_computed_grade_in_the_task_data():
    loaded = GradeQualityForm().load({"quality_checklist": ALL_ITEMS})
    assert loaded["grade"] == "excellent"  # diagrams deployed before the checklist read it
    assert GradeQualityForm().load({"grade": "good"}) == {"grade": "good", "quality_checklist": None}
    for refused in (
        {},
        {"grade": "good", "quality_checklist": []},
        {"quality_checklist": ["charisma"]},
        {"quality_checklist": ["consensus", "consensus"]},
    ):
        with pytest.raises(ValidationError):
            GradeQualityForm().load(refused)


def _rules_with(tmp_path, change):
    data = yaml.safe_load((RULES_DIRECTORY / "proposal.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "proposal.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["quality_checklist"].update(total=99), "points add up to 100, not the total 99"),
        (
            lambda d: d["quality_checklist"]["grades"].insert(0, {"grade": "superb", "min": 95}),
            "not among quality_grades",
        ),
        (lambda d: d["quality_checklist"]["grades"].reverse(), "highest first"),
        (lambda d: d.pop("areas"), "areas"),
    ],
)
def test_a_bad_checklist_or_missing_areas_is_refused_naming_the_field(tmp_path, change, message):
    with pytest.raises(DataFileError, match=message):
        load_rulebook("proposal", _rules_with(tmp_path, change))
