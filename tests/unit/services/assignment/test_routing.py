"""Routing suggestions (交办建议) from the rulebook's keywords and from where proposals with similar
titles went before, each with its reason; for staff only."""

from __future__ import annotations

import pytest
import yaml
from services.assignment import operations, routing
from services.assignment.rules import RulebookRules
from services.intake.similarity import score, title_grams
from shared.config import ROOT
from shared.errors import Forbidden, InvalidInput
from shared.rulebook import load_rulebook
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork

STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
UNITS = {
    "transport": "市交通运输局",
    "education": "市教育局",
    "health": "市卫生健康委员会",
    "urban_management": "市城市管理局",
}
BUS = "关于加快老城区公交候车亭改造的建议"


@pytest.fixture(scope="module")
def rules():
    return RulebookRules().routing()


@pytest.fixture
def uow(skipping_clock):
    fake = FakeAssignmentUnitOfWork()
    operations.ensure_units(fake, UNITS)
    return fake


def past(uow, number, **how):
    operations.assign(uow, {"proposal_id": 1, "number": number, **how}, STAFF)


def titles_of(others):
    """What intake's ``similar_titles`` answers, over the titles ``others`` (``[{number, title}]``)
    by the same measure (how many are alike, and the ``nearest`` of them); and the questions asked
    of it."""
    asked = []

    def similar_titles(query):
        asked.append(query)
        answers = []
        for title in query["titles"]:
            own = title_grams(title["title"], query["ignore"])
            scored = [(o["number"], score(own, title_grams(o["title"], query["ignore"]))) for o in others]
            alike = sorted((-s, n) for n, s in scored if s >= query["threshold"] and n != title["number"])
            similar = [{"number": n, "similarity": -s} for s, n in alike[: query["nearest"]]]
            answers.append({"number": title["number"], "total": len(alike), "similar": similar})
        return answers

    similar_titles.asked = asked
    return similar_titles


def suggest(uow, rules, title, text="", others=(), principal=STAFF):
    return routing.suggest(
        uow, rules, {"number": "2026-0100", "title": title, "text": text}, principal, titles_of(others)
    )


def test_a_keyword_in_the_title_suggests_its_unit_with_the_keyword_as_reason(uow, rules):
    result = suggest(uow, rules, BUS)
    assert [(s["unit"], s["reasons"]) for s in result["suggestions"]] == [("transport", ["keyword 公交"])]
    rulebook = load_rulebook("proposal")
    assert result["routing_version"] == rulebook.rules["routing"]["version"]
    assert result["rulebook"] == {"name": "proposal", "version": rulebook.version, "hash": rulebook.content_hash}


def test_keywords_in_the_text_count_too_and_the_best_comes_first(uow, rules):
    result = suggest(uow, rules, "关于改善城市出行的建议", text="老城区停车难，公交线路少，道路拥堵。")
    first = result["suggestions"][0]
    assert first["unit"] == "transport" and first["score"] == 3
    assert set(first["reasons"]) == {"keyword 停车", "keyword 公交", "keyword 道路"}
    assert ("urban_management", ["keyword 停车"]) in [(s["unit"], s["reasons"]) for s in result["suggestions"]]


def test_past_proposals_with_similar_titles_suggest_where_they_went(uow, rules):
    past(uow, "2025-0001", mode="single", units=["education"])
    past(uow, "2025-0002", mode="lead_co", lead="education", co_units=["transport"])
    past(uow, "2025-0003", mode="single", units=["education"])
    past(uow, "2025-0004", mode="single", units=["health"])
    others = [
        {"number": "2025-0001", "title": "关于增加普惠性幼儿园学位的建议"},
        {"number": "2025-0002", "title": "关于增加普惠幼儿园学位供给的提案"},
        {"number": "2025-0003", "title": "关于增加幼儿园学位的建议"},
        {"number": "2025-0004", "title": "关于加强社区卫生服务中心建设的建议"},
    ]
    result = suggest(uow, rules, "关于增加城区普惠性幼儿园学位的建议", others=others)

    education = next(s for s in result["suggestions"] if s["unit"] == "education")
    assert "3 past proposals with similar titles went to education" in education["reasons"]
    assert {p["number"] for p in education["similar_proposals"]} == {"2025-0001", "2025-0002", "2025-0003"}
    # A co-unit did not answer the proposal, and a dissimilar title suggests nothing.
    assert {s["unit"] for s in result["suggestions"]} == {"education"}


def test_a_reassigned_unit_does_not_count_as_where_the_proposal_went(uow, rules):
    past(uow, "2025-0001", mode="single", units=["health"])
    past(uow, "2025-0001", mode="single", units=["transport"])  # staff reassigned it
    result = suggest(
        uow,
        rules,
        "关于优化公交候车亭的建议",
        others=[{"number": "2025-0001", "title": "关于优化老城区公交候车亭的建议"}],
    )
    transport = result["suggestions"][0]
    assert transport["unit"] == "transport"
    assert transport["reasons"] == ["keyword 公交", "1 past proposal with similar titles went to transport"]
    assert "health" not in {s["unit"] for s in result["suggestions"]}


def test_only_staff_get_suggestions_and_bad_input_is_refused(uow, rules):
    with pytest.raises(Forbidden):
        suggest(uow, rules, BUS, principal={"user": "h", "roles": ["unit"], "unit": "transport"})
    with pytest.raises(InvalidInput) as refused:
        routing.suggest(uow, rules, {"number": "2026-0100"}, STAFF, titles_of([]))
    assert "title" in refused.value.details


def test_several_proposals_routed_at_once_answer_as_each_alone_in_the_order_asked(uow, rules):
    past(uow, "2025-0001", mode="single", units=["education"])
    past(uow, "2025-0002", mode="single", units=["health"])
    others = [
        {"number": "2025-0001", "title": "关于增加普惠性幼儿园学位的建议"},
        {"number": "2025-0002", "title": "关于加强社区卫生服务中心建设的建议"},
        {"number": "2026-0007", "title": BUS},
    ]
    asked = [
        {"number": "2026-0007", "title": BUS, "text": ""},
        {"number": "2026-0008", "title": "关于增加城区普惠性幼儿园学位的建议", "text": "老城区停车难。"},
        {"number": "2026-0009", "title": "关于加强社区卫生服务中心建设的提案", "text": ""},
    ]
    intake = titles_of(others)
    together = routing.suggest_many(uow, rules, {"proposals": asked}, STAFF, intake)
    assert len(intake.asked) == 1 and [t["number"] for t in intake.asked[0]["titles"]] == [p["number"] for p in asked]
    alone = [routing.suggest(uow, rules, p, STAFF, titles_of(others)) for p in asked]
    assert together == alone
    assert [r["number"] for r in together] == ["2026-0007", "2026-0008", "2026-0009"]
    assert [s["unit"] for s in together[1]["suggestions"]] == ["education", "transport", "urban_management"]
    assert together[2]["suggestions"][0]["similar_proposals"] == [{"number": "2025-0002", "similarity": 1.0}]
    assert not together[0]["suggestions"][0]["similar_proposals"]  # not similar to itself


def test_routing_at_once_is_for_staff_and_refuses_none_or_too_many(uow, rules):
    one = {"number": "2026-0100", "title": BUS, "text": ""}
    with pytest.raises(Forbidden):
        routing.suggest_many(
            uow, rules, {"proposals": [one]}, {"user": "h", "roles": ["unit"], "unit": "transport"}, titles_of([])
        )
    for proposals in ([], [one] * (routing.MAX_AT_ONCE + 1)):
        with pytest.raises(InvalidInput) as refused:
            routing.suggest_many(uow, rules, {"proposals": proposals}, STAFF, titles_of([]))
        assert "proposals" in refused.value.details


def test_every_unit_the_rulebook_routes_to_is_in_the_seeded_directory():
    seeded = set(yaml.safe_load((ROOT / "deploy" / "seed" / "units.yaml").read_text())["units"])
    routed = {unit for item in RulebookRules().routing()["keywords"] for unit in item["units"]}
    assert routed <= seeded, routed - seeded


def test_a_routing_section_that_does_not_fit_is_refused_naming_the_field(tmp_path):
    text = (ROOT / "bpmn" / "rules" / "proposal.yaml").read_text().replace("threshold: 0.3", "threshold: 2")
    (tmp_path / "proposal.yaml").write_text(text)
    with pytest.raises(ValueError, match="threshold"):
        routing.routing_rules(load_rulebook("proposal", tmp_path / "proposal.yaml"))


def test_a_unit_names_its_ten_most_similar_past_proposals_and_counts_them_all(uow, rules):
    others = []
    for i in range(1, 16):
        number = f"2025-{i:04d}"
        past(uow, number, mode="single", units=["education"])
        # 1..15 extra characters: the longer the title, the less alike it is
        others.append({"number": number, "title": "关于增加幼儿园学位" + "和托育服务供给体系建设"[:i] + "的建议"})
    result = suggest(uow, rules, "关于增加幼儿园学位的建议", others=others)
    education = next(s for s in result["suggestions"] if s["unit"] == "education")
    alike = titles_of(others)(
        {
            "titles": [{"number": "2026-0100", "title": "关于增加幼儿园学位的建议"}],
            "ignore": rules["similar_titles"]["ignore"],
            "threshold": rules["similar_titles"]["threshold"],
            "nearest": rules["similar_titles"]["nearest"],
        }
    )[0]["similar"]
    assert result["similar_total"] == result["similar_counted"] == len(alike)
    assert 10 < len(alike) == education["similar_count"] == education["score"] - len(education["keywords"])
    assert education["similar_proposals"] == alike[: routing.SIMILAR_NAMED]
    assert f"{len(alike)} past proposals with similar titles went to education" in education["reasons"]


def test_with_more_alike_than_nearest_only_the_most_similar_are_counted_and_the_reason_says_of_how_many(uow, rules):
    rules = {**rules, "similar_titles": {**rules["similar_titles"], "nearest": 5}}
    others = []
    for i in range(1, 9):  # 1..8 extra characters: the longer the title, the less alike it is
        number = f"2025-{i:04d}"
        # The four nearest went to education, the four farther to health.
        past(uow, number, mode="single", units=["education" if i <= 4 else "health"])
        others.append({"number": number, "title": "关于增加幼儿园学位" + "和托育服务供给体系"[:i] + "的建议"})
    intake = titles_of(others)
    result = routing.suggest(uow, rules, {"number": "2026-0100", "title": "关于增加幼儿园学位的建议"}, STAFF, intake)
    assert intake.asked[0]["nearest"] == 5
    assert (result["similar_total"], result["similar_counted"]) == (8, 5)
    by_unit = {s["unit"]: s for s in result["suggestions"]}
    assert by_unit["education"]["similar_count"] == 4 and by_unit["health"]["similar_count"] == 1
    assert [s["unit"] for s in result["suggestions"]] == ["education", "health"]
    assert "4 of the 5 most similar past proposals went to education" in by_unit["education"]["reasons"]
    assert by_unit["health"]["reasons"] == ["1 of the 5 most similar past proposals went to health"]
    assert [p["number"] for p in by_unit["health"]["similar_proposals"]] == ["2025-0005"]  # the nearest of health's


def test_a_nearest_the_contract_refuses_is_refused_in_the_rulebook(tmp_path):
    text = (ROOT / "bpmn" / "rules" / "proposal.yaml").read_text().replace("nearest: 50", "nearest: 501")
    (tmp_path / "proposal.yaml").write_text(text)
    with pytest.raises(ValueError, match="nearest"):
        routing.routing_rules(load_rulebook("proposal", tmp_path / "proposal.yaml"))
