"""Every unit of a proposal scored in one ``evaluation.score_handling`` job, each on its own facts:
the units of 分办 on the handling checklist, a co-unit (协办) on the co-unit checklist; and the
units' assessment (目标考核) counting each of them."""

from __future__ import annotations

import base64
import csv
import io

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from services.evaluation import assessment, operations
from services.evaluation.models import Base, HandlingScore
from services.evaluation.ratings import open_round, rate
from shared.errors import InvalidInput
from .fakes import sql_ports

NUMBER = "2027-0001"
STAFF = {"user": "staff.wang", "roles": ["staff"]}
LI = {"user": "member.li", "roles": ["member"]}


@pytest.fixture
def session(tmp_path, skipping_clock):
    engine = create_engine(f"sqlite:///{tmp_path}/evaluation.db")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        yield s
    engine.dispose()


def answering(**changed):
    facts = {
        "signed_on_time": True,
        "face_to_face": True,
        "replied_on_time": True,
        "extensions": 0,
        "rehandling_rounds": 0,
        "category": "A",
        "satisfaction": ["satisfied"],
    }
    return {**facts, **changed}


# 分办 to transport and health; education helped (协办) in the other proposal's handling.
SPLIT = {
    "number": NUMBER,
    "units": [
        {"unit": "transport", "role": "answering", "facts": answering()},
        {
            "unit": "health",
            "role": "answering",
            "facts": answering(
                signed_on_time=False, face_to_face=False, replied_on_time=False, extensions=1, category="C"
            ),
        },
        {"unit": "education", "role": "co", "facts": {"signed_on_time": True, "input": "late"}},
    ],
}


def scores(session, number=NUMBER):
    rows = session.scalars(select(HandlingScore).where(HandlingScore.number == number).order_by(HandlingScore.id))
    return {row.unit: (row.role, row.total) for row in rows}


def by_item(scored):
    return {i["item"]: (i["points"], i["max"]) for i in scored["items"]}


def test_every_unit_is_scored_in_one_job_on_its_own_facts(session):
    result = operations.score_handling(*sql_ports(session), SPLIT, None)
    transport, health, education = result["units"]
    assert [(u["unit"], u["role"]) for u in result["units"]] == [
        ("transport", "answering"),
        ("health", "answering"),
        ("education", "co"),
    ]
    assert (transport["total"], transport["max"]) == (120, 120)
    # health: signed late 10, procedure 20, no meeting 0, replied late 0, C and satisfied (1/2 + 1) / 2 of 40 = 30
    assert by_item(health) == {
        "organisation": (10, 20),
        "procedure": (20, 20),
        "face_to_face": (0, 20),
        "timeliness": (0, 20),
        "result": (30, 40),
    }
    assert health["total"] == 60
    # the co-unit on its own checklist: signed on time 20, input late 1/2 of 20
    assert by_item(education) == {"signing": (20, 20), "input": (10, 20)}
    assert (education["total"], education["max"]) == (30, 40)
    assert "after the deadline" in education["items"][1]["why"]
    assert scores(session) == {"transport": ("answering", 120), "health": ("answering", 60), "education": ("co", 30)}
    assert result["rulebook_version"] == "2027.10"


@pytest.mark.parametrize(
    "facts, points",
    [
        ({"signed_on_time": True, "input": "on_time"}, 40),
        ({"signed_on_time": False, "input": "on_time"}, 30),
        ({"signed_on_time": True, "input": "not_sent"}, 20),
    ],
    ids=["on_time", "signed_late", "no_input"],
)
def test_a_co_unit_is_scored_on_its_signing_and_the_timeliness_of_its_input(session, facts, points):
    params = {"number": NUMBER, "units": [{"unit": "education", "role": "co", "facts": facts}]}
    [scored] = operations.score_handling(*sql_ports(session), params, None)["units"]
    assert scored["total"] == points


def test_a_redelivered_job_scores_each_unit_once_and_scoring_again_replaces_the_proposals_scores(session):
    first = operations.score_handling(*sql_ports(session), SPLIT, None)
    assert operations.score_handling(*sql_ports(session), SPLIT, None) == first
    assert len(session.scalars(select(HandlingScore)).all()) == 3
    again = {"number": NUMBER, "units": [{"unit": "transport", "facts": answering(face_to_face=False)}]}
    operations.score_handling(*sql_ports(session), again, None)
    assert scores(session) == {"transport": ("answering", 100)}  # the others are no longer its units


def test_one_units_bad_facts_refuse_the_whole_job_naming_the_unit(session):
    bad = {**SPLIT, "units": [*SPLIT["units"][:2], {"unit": "education", "role": "co", "facts": {"input": "soon"}}]}
    with pytest.raises(InvalidInput) as refused:
        operations.score_handling(*sql_ports(session), bad, None)
    assert set(refused.value.details["units"]["2"]["facts"]) == {"input", "signed_on_time"}
    assert session.scalars(select(HandlingScore)).all() == []


def test_a_unit_listed_twice_or_no_units_are_refused(session):
    twice = {**SPLIT, "units": [SPLIT["units"][0], SPLIT["units"][0]]}
    with pytest.raises(InvalidInput, match="not valid"):
        operations.score_handling(*sql_ports(session), twice, None)
    with pytest.raises(InvalidInput):
        operations.score_handling(*sql_ports(session), {"number": NUMBER}, None)


def test_the_one_unit_form_of_diagrams_deployed_before_is_still_scored(session):
    # an instance stays on the diagram version it started with, which sent unit with facts
    result = operations.score_handling(
        *sql_ports(session), {"number": NUMBER, "unit": "transport", "facts": answering()}, None
    )
    assert [(u["unit"], u["role"], u["total"]) for u in result["units"]] == [("transport", "answering", 120)]


def test_the_assessment_counts_every_scored_unit_and_a_co_unit_with_its_own_figures(session):
    operations.score_handling(*sql_ports(session), SPLIT, None)
    open_round(*sql_ports(session), {"number": NUMBER, "proposers": ["member.li"]})
    rate(*sql_ports(session), NUMBER, "satisfied", "basically_satisfied", None, LI)

    table = assessment.ranking(*sql_ports(session), 2027, STAFF)
    units = {u["unit"]: u for u in table["units"]}
    assert set(units) == {"transport", "health", "education"}
    education = units["education"]
    assert (education["proposals_handled"], education["average_handling_score"]) == (0, None)
    assert (education["proposals_assisted"], education["average_co_unit_score"]) == (1, 30)
    assert (education["on_time_rate"], education["face_to_face_rate"]) == (0, None)
    assert education["satisfaction"]["ratings"] == 0  # the ratings are of the lead units' replies
    # 0.6 x 30/40 + 0.2 x 0, unrated: / 0.8
    assert education["score"] == 56.3
    health = units["health"]
    assert (health["proposals_handled"], health["average_handling_score"], health["proposals_assisted"]) == (1, 60, 0)
    assert (health["on_time_rate"], health["face_to_face_rate"], health["satisfaction"]["ratings"]) == (0, 0, 1)
    # 0.6 x 60/120 + 0.2 x 0 + 0.2 x (1 + 1/2) / 2
    assert health["score"] == 45
    assert units["transport"]["score"] == 95  # 0.6 + 0.2 + 0.2 x 3/4
    assert [(u["rank"], u["unit"]) for u in table["units"]] == [(1, "transport"), (2, "education"), (3, "health")]

    exported = assessment.export(*sql_ports(session), 2027, "csv", STAFF)
    rows = list(csv.reader(io.StringIO(base64.b64decode(exported["content_base64"]).decode("utf-8-sig"))))
    assert rows[0][4:6] == ["协办件数 As co-unit", "协办评分 Co-unit score"]
    assert rows[2] == ["2", "education", "0", "", "1", "30.0", "0.0", "0", "", "", "0", "56.3"]
    assert rows[3][:6] == ["3", "health", "1", "60.0", "0", ""]
