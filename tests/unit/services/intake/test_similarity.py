"""The near-duplicate measure: the Jaccard index of two bigram sets, shared over all distinct."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.similarity import bigrams, jaccard, least_score, overlap_needed, score, size_range, title_grams

GRAMS = st.frozensets(st.text(alphabet="建议公交候车亭改造夜间照明", min_size=2, max_size=2), max_size=40)


@given(GRAMS, GRAMS)
def test_jaccard_is_shared_over_all_distinct_bigrams(a, b):
    expected = len(a & b) / len(a | b) if a | b else 0.0
    assert jaccard(a, b) == expected == jaccard(b, a)


def test_jaccard_of_known_sets():
    assert jaccard(frozenset({"建议", "公交", "候车"}), frozenset({"公交", "候车", "夜间", "照明"})) == 2 / 5
    assert jaccard(frozenset(), frozenset()) == 0.0
    assert jaccard(frozenset({"建议"}), frozenset()) == 0.0


# -- the bounds the search narrows its candidates by: never leaving out a pair that reaches the
# threshold (the score is rounded, so "reaches" is the rounded score's), and no looser than that.

THRESHOLDS = st.one_of(
    st.sampled_from([0.3, 0.5, 0.4995, 0.5005, 0.6, 0.9, 1.0]),
    st.floats(min_value=0.001, max_value=1.0),
)
SETS = st.frozensets(st.integers(min_value=0, max_value=60).map(str), min_size=1, max_size=50)


@given(SETS, SETS, THRESHOLDS)
def test_no_pair_reaching_the_threshold_is_outside_the_size_range_or_under_the_overlap(a, b, threshold):
    if score(a, b) >= threshold:
        least, most = size_range(len(a), threshold)
        assert least <= len(b) and (most is None or len(b) <= most)
        assert len(a & b) >= overlap_needed(len(a), threshold)
        assert jaccard(a, b) > least_score(threshold)


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=2500), THRESHOLDS.filter(lambda t: t >= 0.05))
def test_the_size_range_is_exact_for_the_rounded_score(size, threshold):
    """Its ends are reached by a pair (one set inside the other), one count further is not."""
    a = frozenset(range(size))
    least, most = size_range(size, threshold)
    assert least <= size  # a set scores 1 with itself
    assert score(a, frozenset(range(least))) >= threshold
    assert least == 0 or score(a, frozenset(range(least - 1))) < threshold
    assert overlap_needed(size, threshold) == least  # sharing a subset of that count alone
    if most is not None:
        assert score(a, frozenset(range(most))) >= threshold
        assert score(a, frozenset(range(most + 1))) < threshold


def test_a_pair_just_under_the_threshold_that_rounds_up_to_it_is_kept():
    # 1,000 of 2,001 bigrams: 0.49975 shows as 0.5 and reaches 0.5; ⌈0.5 · 2001⌉ = 1001 would miss it.
    a, b = frozenset(range(2001)), frozenset(range(1000))
    assert score(a, b) == 0.5
    assert overlap_needed(2001, 0.5) == 1000 and size_range(2001, 0.5)[0] == 1000
    assert size_range(70, 0.5) == (35, 140) and size_range(10, 0.3) == (3, 33)
    assert size_range(5, 1.5) == (6, 5)  # above 1: no count


# -- routing's measure of a title: the boilerplate cut out, every bigram one of the whole title's --

BOILERPLATE = ["关于", "的建议", "的提案", "建议", "提案"]
TITLE_PIECES = [*BOILERPLATE, "公交", "站", "候车亭", "夜", "照明", "Ａ", "a", "，", " ", "Ⅻ"]


def test_the_boilerplate_is_cut_out_and_a_cut_joins_nothing():
    assert title_grams("关于加快公交候车亭改造的建议", BOILERPLATE) == bigrams("加快公交候车亭改造")
    assert (
        title_grams("关于加快公交候车亭改造的建议", BOILERPLATE) & title_grams("关于增加幼儿园学位的建议", BOILERPLATE)
        == set()
    )
    # 交 and 站 either side of a cut make no bigram: 交站 is not the title's
    assert title_grams("公交建议站", BOILERPLATE) == {"公交"}
    assert title_grams("关于X的建议", BOILERPLATE) == {"x"} == title_grams("关于Ｘ的提案", BOILERPLATE)
    assert title_grams("关于的建议", BOILERPLATE) == frozenset()


@given(
    st.lists(st.sampled_from(TITLE_PIECES), min_size=1, max_size=12).map("".join),
    st.sampled_from([BOILERPLATE, ["公交"], []]),
)
def test_a_titles_bigrams_with_the_boilerplate_cut_are_among_its_whole_bigrams(title, ignore):
    """What the title index (every title's whole bigrams) relies on to miss no alike title."""
    grams = title_grams(title, ignore)
    if all(len(gram) == 2 for gram in grams):
        assert grams <= bigrams(title)
    else:  # no bigram left: the remaining characters, each itself
        assert all(len(gram) == 1 for gram in grams)
