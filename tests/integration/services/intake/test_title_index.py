"""Similar titles through the title index (``proposal_title_grams``), on a database of each kind
migrated as in production: the routing measure's answers are those of comparing a title with every
title there is, while the index hands over only the proposals sharing enough bigrams."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from services.intake import operations
from services.intake.models import Proposal, ProposalTitleGram
from services.intake.rules import RulebookRules
from services.intake.similarity import bigrams, score, title_grams
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from shared.contracts.rpc.proposals import MAX_NEAREST, NEAREST
from shared.errors import Forbidden, InvalidInput
from shared.rulebook import load_rulebook

pytestmark = pytest.mark.both_databases

ROUTING = load_rulebook("proposal").rules["routing"]["similar_titles"]
IGNORE = ROUTING["ignore"]
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
MEMBER = {"user": "member.li", "roles": ["member"]}
PLACES = ["老城区", "高新区", "滨江新区", "北部山区", "东湖街道", "西城片区"]
MATTERS = [
    "公交候车亭改造",
    "普惠性幼儿园学位",
    "老旧小区加装电梯",
    "农村生活污水治理",
    "社区养老服务中心",
    "停车难问题治理",
]
VERBS = ["推进", "加快", "优化"]


def draft(title):
    return {
        "kind": "between_sessions",
        "publish_consent": True,
        "title": title,
        "situation": "群众反映强烈。",
        "analysis": "职责分散。",
        "suggestions": "加强部门协同。",
    }


def submit_all(sessions, titles):
    with sessions() as s:
        made = [
            operations.submit(SqlIntakeUnitOfWork(s), RulebookRules(), draft(title), MEMBER, directory=lambda users: [])
            for title in titles
        ]
        s.commit()
    return made


def corpus():
    return [f"关于{verb}{place}{matter}的建议" for matter in MATTERS for place in PLACES for verb in VERBS[:2]]


def asked(sessions, titles, ignore=IGNORE, threshold=ROUTING["threshold"], principal=STAFF, nearest=None):
    query = {"titles": titles, "ignore": ignore, "threshold": threshold}
    if nearest is not None:
        query["nearest"] = nearest
    with sessions() as s:
        return operations.similar_titles(SqlIntakeUnitOfWork(s), query, principal)


def every_title_compared(sessions, titles, ignore=IGNORE, threshold=ROUTING["threshold"], nearest=NEAREST):
    """What comparing each asked title with every title there is finds (the answer to match): how
    many are alike, and the ``nearest`` of them (the contract's default unless the question says)."""
    with sessions() as s:
        every = s.execute(select(Proposal.number, Proposal.title)).all()
    answers = []
    for title in titles:
        own = title_grams(title["title"], ignore)
        scored = [(number, score(own, title_grams(theirs, ignore))) for number, theirs in every]
        alike = sorted((-s, n) for n, s in scored if s >= threshold and n != title["number"])
        similar = [{"number": n, "similarity": -s} for s, n in alike[:nearest]]
        answers.append({"number": title["number"], "total": len(alike), "similar": similar})
    return answers


def handed_over(sessions, title, ignore=IGNORE, threshold=ROUTING["threshold"]):
    from services.intake.similarity import overlap_needed

    own = title_grams(title, ignore)
    with sessions() as s:
        return SqlIntakeUnitOfWork(s).proposals.title_candidates(sorted(own), overlap_needed(len(own), threshold))


def test_the_index_finds_what_comparing_every_title_finds_and_reads_fewer(sessions):
    made = submit_all(sessions, corpus())
    titles = [{"number": p["number"], "title": p["title"]} for p in made[::7]]
    titles.append({"number": "2026-9999", "title": "关于加快滨江新区公交候车亭改造和夜间照明的提案"})  # not filed yet
    for threshold in (ROUTING["threshold"], 0.5, 0.8):
        found = asked(sessions, titles, threshold=threshold, nearest=MAX_NEAREST)
        assert found == every_title_compared(sessions, titles, threshold=threshold, nearest=MAX_NEAREST)
    found = asked(sessions, titles)
    assert found == every_title_compared(sessions, titles)
    assert all(a["number"] != t["number"] for t, answer in zip(titles, found, strict=True) for a in answer["similar"])
    assert sum(len(answer["similar"]) for answer in found) > len(titles)  # the corpus has alike titles
    assert len(handed_over(sessions, titles[0]["title"])) < len(made) / 2  # the index narrowed them down


def test_a_changed_title_is_found_by_its_new_bigrams_and_not_by_its_old(sessions):
    made = submit_all(sessions, corpus()[:12])
    greenway = {"number": "2026-9999", "title": "关于建设城市绿道网络的建议"}
    assert asked(sessions, [greenway])[0]["similar"] == []
    with sessions() as s:  # a proposal rewritten (resubmitted)
        s.get(Proposal, made[3]["id"]).title = "关于建设城市绿道网络的提案"
        s.commit()
    assert asked(sessions, [greenway])[0]["similar"] == [{"number": made[3]["number"], "similarity": 1.0}]
    old = {"number": "2026-9998", "title": made[3]["title"]}
    assert made[3]["number"] not in [a["number"] for a in asked(sessions, [old])[0]["similar"]]
    with sessions() as s:
        rows = s.scalars(select(ProposalTitleGram.gram).where(ProposalTitleGram.proposal_id == made[3]["id"]))
        assert set(rows) == bigrams("关于建设城市绿道网络的提案")


def test_a_title_of_boilerplate_and_one_character_is_compared_with_every_title(sessions):
    made = submit_all(sessions, ["关于X的建议", "关于x的提案", "关于Y的建议", *corpus()[:6]])
    found = asked(sessions, [{"number": "2026-9999", "title": "关于Ｘ的建议"}])  # NFKC: Ｘ is X
    assert [a["number"] for a in found[0]["similar"]] == [made[0]["number"], made[1]["number"]]


def test_boilerplate_in_the_middle_of_a_title_joins_nothing(sessions):
    made = submit_all(sessions, ["公交建议站点", "关于交站点的建议", "公交站点"])
    question = [{"number": p["number"], "title": p["title"]} for p in made]
    found = asked(sessions, question)
    assert found == every_title_compared(sessions, question)
    # 交站 is no bigram of 公交建议站点: the cut left 公交 and 站点, one of 交站点's two
    assert found[1]["similar"] == [
        {"number": made[2]["number"], "similarity": 0.667},
        {"number": made[0]["number"], "similarity": 0.333},
    ]


def test_a_title_with_more_alike_than_asked_names_the_nearest_and_counts_them_all(sessions):
    made = submit_all(sessions, corpus())
    titles = [{"number": p["number"], "title": p["title"]} for p in made[::9]]
    every = asked(sessions, titles, nearest=MAX_NEAREST)
    three = asked(sessions, titles, nearest=3)
    assert max(answer["total"] for answer in every) > 3  # some title has more alike than three
    for whole, nearest in zip(every, three, strict=True):
        assert nearest["total"] == whole["total"] == len(whole["similar"])
        assert nearest["similar"] == whole["similar"][:3]  # the most similar, ties by number


def test_similar_titles_are_for_staff_and_bad_questions_are_refused(sessions):
    submit_all(sessions, corpus()[:3])
    with pytest.raises(Forbidden):
        asked(sessions, [{"number": "2026-0001", "title": "关于加快老城区公交候车亭改造的建议"}], principal=MEMBER)
    for query, field in (
        ({"titles": [], "threshold": 0.3}, "titles"),
        ({"titles": [{"number": "2026-0001", "title": "x"}] * 101, "threshold": 0.3}, "titles"),
        ({"titles": [{"number": "2026-0001"}], "threshold": 0.3}, "titles"),
        ({"titles": [{"number": "2026-0001", "title": "x"}], "threshold": 0}, "threshold"),
        ({"titles": [{"number": "2026-0001", "title": "x"}], "threshold": 0.3, "ignore": ["的"] * 101}, "ignore"),
        ({"titles": [{"number": "2026-0001", "title": "x"}], "threshold": 0.3, "ignore": ["的" * 51]}, "ignore"),
        ({"titles": [{"number": "2026-0001", "title": "x"}], "threshold": 0.3, "nearest": 0}, "nearest"),
        ({"titles": [{"number": "2026-0001", "title": "x"}], "threshold": 0.3, "nearest": MAX_NEAREST + 1}, "nearest"),
        ({"titles": [{"number": "2026-0001", "title": "x"}], "threshold": 0.3, "nearest": "all"}, "nearest"),
    ):
        with sessions() as s, pytest.raises(InvalidInput) as refused:
            operations.similar_titles(SqlIntakeUnitOfWork(s), query, STAFF)
        assert field in refused.value.details


def test_the_migration_indexes_the_titles_there_are(intake_url, sessions):
    from alembic import command

    from shared.db import alembic_config

    made = submit_all(sessions, corpus()[:5])
    command.downgrade(alembic_config("intake", intake_url), "gq_answer_on_proposal")
    command.upgrade(alembic_config("intake", intake_url), "head")
    with sessions() as s:
        rows = s.execute(select(ProposalTitleGram.proposal_id, ProposalTitleGram.gram)).all()
        assert {(pid, gram) for pid, gram in rows} == {(p["id"], g) for p in made for g in bigrams(p["title"])}
    command.downgrade(alembic_config("intake", intake_url), "gq_answer_on_proposal")
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM proposals")).scalar() == 5  # the rows stay
        assert s.scalar(select(func.count()).select_from(Proposal)) == 5


# -- any titles, any boilerplate: the index never misses one --------------------------------------

PIECES = ["关于", "的建议", "建议", "提案", "公交", "候车亭", "夜间", "照明", "老城区", "电梯", "Ａ", "a", "，", " "]
TITLES = st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join), min_size=2, max_size=10)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(titles=TITLES, threshold=st.sampled_from([0.3, 0.5, 0.75, 1.0]), ignore=st.sampled_from([IGNORE, ["公交"], []]))
def test_any_titles_are_answered_as_comparing_every_title_answers(sessions, titles, threshold, ignore):
    """The examples' proposals pile up in one database: each is compared with all of them."""
    titles = [t for t in titles if t.strip()] or ["公交"]
    made = submit_all(sessions, titles)
    question = [{"number": p["number"], "title": p["title"]} for p in made]
    found = asked(sessions, question, ignore=ignore, threshold=threshold)
    assert found == every_title_compared(sessions, question, ignore=ignore, threshold=threshold)
