"""The near-duplicate search through its index (pg_trgm on PostgreSQL, FTS5 on SQLite), on a
database of each kind migrated as in production: it finds what scoring the whole year finds, and
it reads only the proposals that could reach the threshold."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import duplicate_index, operations, similarity
from services.intake.models import Proposal
from services.intake.similarity import bigrams, jaccard, match_text, score
from shared.rulebook import load_rulebook

pytestmark = pytest.mark.both_databases

RULEBOOK = load_rulebook("proposal")
MEMBERS = [{"user": f"member.{i}", "roles": ["member"]} for i in range(8)]
PLACES = ["老城区", "高新区", "滨江新区", "北部山区", "东湖街道", "西城片区", "南郊镇", "开发区"]
MATTERS = [
    ("公交候车亭改造", "增设夜间照明和实时到站信息屏", "交通局"),
    ("普惠性幼儿园学位", "督促开发商按期移交配套园并给予生均补助", "教育局"),
    ("老旧小区加装电梯", "简化审批流程并设立专项补贴资金", "住建局"),
    ("农村生活污水治理", "统筹建设污水管网和分散式处理设施", "生态环境局"),
    ("社区养老服务中心", "推行助餐助浴上门服务并培训护理人员", "民政局"),
    ("中小学课后服务", "引入体育艺术社团并保障教师课时补贴", "教育局"),
    ("停车难问题治理", "挖掘错时共享车位并建设立体停车库", "城管局"),
    ("夜间经济发展", "延长公共交通运营时间并规范摊点管理", "商务局"),
]
DETAILS = [
    "加强部门协同",
    "完善考核机制",
    "引导社会资本参与",
    "开展群众满意度调查",
    "建立长效维护机制",
    "纳入年度民生实事",
    "加大财政投入力度",
    "推广试点经验",
]


def corpus(seed=7):
    """Proposals on eight matters in eight places: distinct texts that share the usual phrases."""
    rng = random.Random(seed)
    drafts = []
    for matter, action, unit in MATTERS:
        for place in PLACES:
            extra = "；".join(rng.sample(DETAILS, 3))
            drafts.append(
                {
                    "title": f"关于推进{place}{matter}的建议",
                    "situation": f"{place}{matter}工作推进缓慢，群众反映强烈。",
                    "analysis": "职责分散，资金不足。",
                    "suggestions": f"一、由{unit}牵头{action}；二、{extra}。",
                }
            )
    return drafts


def draft(text):
    return {"kind": "between_sessions", "publish_consent": True, **text}


def submit_all(sessions, drafts):
    with sessions() as s:
        made = [
            operations.submit(
                SqlIntakeUnitOfWork(s),
                RulebookRules(),
                draft(text),
                MEMBERS[i % len(MEMBERS)],
                directory=lambda users: [],
            )
            for i, text in enumerate(drafts)
        ]
        s.commit()
    return made


def both_ways(sessions, proposal_id, monkeypatch):
    """The candidates through the index, the rows the index handed over, and those of scoring the
    whole year (the index switched off), each in a transaction rolled back after."""
    seen = []
    real = duplicate_index.candidates

    def counting(*args):
        rows = real(*args)
        seen.append(rows)
        return rows

    monkeypatch.setattr(duplicate_index, "candidates", counting)
    with sessions() as s:
        indexed = operations.find_duplicates(
            SqlIntakeUnitOfWork(s), RulebookRules(proposal=RULEBOOK), {"proposal_id": proposal_id}, None
        )["candidates"]
        s.rollback()
    monkeypatch.setattr(duplicate_index, "candidates", lambda *args: None)
    with sessions() as s:
        scanned = operations.find_duplicates(
            SqlIntakeUnitOfWork(s), RulebookRules(proposal=RULEBOOK), {"proposal_id": proposal_id}, None
        )["candidates"]
        s.rollback()
    monkeypatch.setattr(duplicate_index, "candidates", real)
    return indexed, seen[0], scanned


def test_the_index_finds_the_same_duplicates_as_scoring_the_whole_year(sessions, monkeypatch):
    drafts = corpus()
    submit_all(sessions, drafts)
    original = drafts[10]
    reworded = {
        **original,
        "title": original["title"].replace("的建议", "的提案"),
        "suggestions": original["suggestions"].replace("；二、", "；二是"),
    }
    copies = submit_all(sessions, [dict(original), reworded])
    with sessions() as s:
        year_size = s.scalar(select(func.count()).select_from(Proposal))
    for copy in copies:
        indexed, handed_over, scanned = both_ways(sessions, copy["id"], monkeypatch)
        assert handed_over is not None, "the migrated database has its duplicate index"
        assert indexed == scanned
        assert "2026-0011" in [c["number"] for c in indexed]  # the original, and the other copy
        assert len(indexed) >= 2 and indexed[0]["score"] >= indexed[-1]["score"]
        assert len(handed_over) < year_size / 2  # the index narrowed the year down
        with sessions() as s:  # scored by the stored bigrams, as the texts themselves score
            texts = dict(s.execute(select(Proposal.number, Proposal.title + "\n" + Proposal.suggestions)).all())
            mine = s.get(Proposal, copy["id"])
            own = bigrams(mine.title, mine.suggestions)
        for c in indexed:
            title, suggestions = texts[c["number"]].split("\n", 1)
            assert c["score"] == round(jaccard(own, bigrams(title, suggestions)), 3)


def test_every_proposal_of_the_corpus_gets_the_same_candidates_either_way(sessions, monkeypatch):
    made = submit_all(sessions, corpus(seed=11))
    for proposal in made[::8]:
        indexed, handed_over, scanned = both_ways(sessions, proposal["id"], monkeypatch)
        assert handed_over is not None and indexed == scanned


def test_a_changed_text_is_found_by_its_new_words(sessions, monkeypatch):
    made = submit_all(sessions, corpus()[:16])
    newcomer = submit_all(
        sessions,
        [
            {
                "title": "关于建设城市绿道网络的建议",
                "situation": "绿道断点多。",
                "analysis": "规划不统一。",
                "suggestions": "统一规划绿道网络，打通断点。",
            }
        ],
    )[0]
    assert both_ways(sessions, newcomer["id"], monkeypatch)[0] == []
    with sessions() as s:  # a proposal rewritten (resubmitted)
        row = s.get(Proposal, made[3]["id"])
        row.title, row.suggestions = "关于建设城市绿道网络的提案", "统一规划绿道网络，打通各区断点。"
        s.commit()
    indexed, handed_over, scanned = both_ways(sessions, newcomer["id"], monkeypatch)
    assert [c["number"] for c in indexed] == [made[3]["number"]] and indexed == scanned
    assert handed_over is not None and len(handed_over) == 1


def test_the_index_hands_over_no_proposal_of_another_year(sessions):
    """The year is asked inside the index (SQLite: a column of the FTS5 table; PostgreSQL: the GIN
    index's first column), not filtered from what it handed over: the same texts filed the year
    before are not among the candidates, even when nothing else restricts the year."""
    made = submit_all(sessions, corpus()[:8])
    with sessions() as s:  # the same texts, a year earlier (a proposal's year is its session's)
        for copy in made[:4]:
            s.get(Proposal, copy["id"]).year = 2025
        s.commit()
        words = match_text(
            *s.execute(select(Proposal.title, Proposal.suggestions).where(Proposal.id == made[0]["id"])).one()
        ).split()
        this_year = duplicate_index.candidates(s, words, 0.5, 2026, ())
        last_year = duplicate_index.candidates(s, words, 0.5, 2025, ())
    assert this_year is not None and last_year is not None
    earlier = {c["number"] for c in made[:4]}
    handed_over = {n for n, *_ in this_year}, {n for n, *_ in last_year}
    assert made[0]["number"] in handed_over[1] and handed_over[1] <= earlier  # itself, of 2025 now
    assert handed_over[0] and not handed_over[0] & earlier  # the same matter this year, none of 2025


def test_the_migrations_rebuild_the_index_and_count_the_bigrams_of_the_rows_there_are(intake_url, sessions):
    """Rows written, the duplicate index's migrations taken down to before the year was indexed
    and up again: the index is rebuilt with each row's year (gf_duplicate_index_year) and each
    row's bigram count is filled from its stored bigrams (gl_bigram_count); down again, the rows stay."""
    from alembic import command

    from shared.db import alembic_config

    made = submit_all(sessions, corpus()[:4])
    command.downgrade(alembic_config("intake", intake_url), "lg_cosigner_publish_name")  # before the year was indexed
    command.upgrade(alembic_config("intake", intake_url), "head")
    with sessions() as s:
        counts = s.execute(select(Proposal.bigram_count, Proposal.match_text)).all()
        assert len(counts) == 4 and all(n == len(words.split()) > 0 for n, words in counts)
        text_ = s.execute(select(Proposal.title, Proposal.suggestions).where(Proposal.id == made[2]["id"])).one()
        found = duplicate_index.candidates(s, match_text(*text_).split(), 0.9, 2026, ())
        assert made[2]["number"] in [n for n, *_ in found]  # the rows there were, indexed with their year
        assert duplicate_index.candidates(s, match_text(*text_).split(), 0.9, 2025, ()) == []
    command.downgrade(alembic_config("intake", intake_url), "lg_cosigner_publish_name")
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM proposals")).scalar() == 4  # the rows stay


# -- the size bound: the same answers on texts of many lengths --------------------------------------

PHRASES = [
    "公交候车亭",
    "夜间照明",
    "实时到站信息屏",
    "老旧小区加装电梯",
    "专项补贴资金",
    "简化审批流程",
    "社区养老服务中心",
    "助餐助浴上门服务",
    "普惠性幼儿园学位",
    "停车难问题治理",
    "错时共享车位",
    "立体停车库",
    "农村生活污水治理",
    "分散式处理设施",
    "加强部门协同",
    "完善考核机制",
]
# Texts of two to fourteen phrases: bigram counts from 8 to about 100, so that the size bound
# (similarity.size_range) leaves out some of what the index hands over.
TEXTS = st.lists(
    st.tuples(
        st.lists(st.sampled_from(PHRASES), min_size=1, max_size=3),
        st.lists(st.sampled_from(PHRASES), min_size=1, max_size=11),
    ),
    min_size=3,
    max_size=12,
)


class AtThreshold(RulebookRules):
    def __init__(self, threshold):
        super().__init__(proposal=RULEBOOK)
        self.threshold = threshold

    def duplicate_threshold(self):
        return self.threshold


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=TEXTS, threshold=st.sampled_from([0.3, 0.5, 0.6, 0.75, 0.9, 0.4995]))
def test_the_size_bound_changes_no_answer_and_drops_no_pair_reaching_the_threshold(
    sessions, monkeypatch, texts, threshold
):
    """On generated texts of many lengths (the year accumulating across examples): through the
    index with the size bound, the candidates are those of scoring the whole year; every proposal
    of the year that scores at least the threshold was handed over by the index; and what the
    bound left out could not have reached it."""
    made = submit_all(
        sessions,
        [
            {
                "title": "关于" + "".join(title) + "的建议",
                "situation": "-",
                "analysis": "-",
                "suggestions": "；".join(points),
            }
            for title, points in texts
        ],
    )
    rules = AtThreshold(threshold)
    with sessions() as s:
        year = dict(s.execute(select(Proposal.id, Proposal.title + "\n" + Proposal.suggestions)).all())
    grams = {pid: bigrams(*both.split("\n", 1)) for pid, both in year.items()}
    for proposal in made:
        own = grams[proposal["id"]]
        with sessions() as s:
            indexed = operations.find_duplicates(SqlIntakeUnitOfWork(s), rules, {"proposal_id": proposal["id"]}, None)
            s.rollback()
            handed_over = {n for n, *_ in duplicate_index.candidates(s, sorted(own), threshold, 2026, ())}
            unbounded = _without_size_bound(s, sorted(own), threshold)
            numbers = dict(s.execute(select(Proposal.id, Proposal.number)).all())
        with sessions() as s, monkeypatch.context() as patched:
            patched.setattr(duplicate_index, "candidates", lambda *args: None)  # the whole year scored
            scanned = operations.find_duplicates(SqlIntakeUnitOfWork(s), rules, {"proposal_id": proposal["id"]}, None)
            s.rollback()
        assert indexed == scanned
        reaching = {numbers[pid] for pid, theirs in grams.items() if score(own, theirs) >= threshold}
        assert reaching <= handed_over  # itself included: the index is asked without ``where`` here
        assert handed_over <= unbounded
        for pid, theirs in grams.items():
            if numbers[pid] in unbounded - handed_over:  # left out by the bound alone
                assert score(own, theirs) < threshold


def _without_size_bound(s, words, threshold):
    """What the index hands over with the size bound switched off (every count allowed)."""
    real = similarity.size_range
    try:
        similarity.size_range = lambda size, t: (0, None)
        return {n for n, *_ in duplicate_index.candidates(s, words, threshold, 2026, ())}
    finally:
        similarity.size_range = real


def test_the_index_hands_over_no_proposal_whose_size_cannot_reach_the_threshold(sessions):
    """A text of 3 bigrams and one of 60 holding them: the Jaccard index is at most 3/60, so at
    0.5 the long one is not handed over for the short one, nor the short one for the long one."""
    short, long_ = submit_all(
        sessions,
        [
            {"title": "公交站台", "situation": "-", "analysis": "-", "suggestions": "-"},
            {"title": "公交站台", "situation": "-", "analysis": "-", "suggestions": "；".join(PHRASES[:9])},
        ],
    )
    with sessions() as s:
        rows = dict(s.execute(select(Proposal.number, Proposal.match_text)).all())
        for mine, other in ((short, long_), (long_, short)):
            words = rows[mine["number"]].split()
            assert {n for n, *_ in _rows(duplicate_index.candidates(s, words, 0.05, 2026, ()))} == {
                mine["number"],
                other["number"],
            }
            assert {n for n, *_ in duplicate_index.candidates(s, words, 0.5, 2026, ())} == {mine["number"]}


def _rows(found):
    assert found is not None
    return found
