"""The near-duplicate measure: the Jaccard index of two bigram sets, shared over all distinct."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.intake.similarity import jaccard

GRAMS = st.frozensets(st.text(alphabet="建议公交候车亭改造夜间照明", min_size=2, max_size=2), max_size=40)


@given(GRAMS, GRAMS)
def test_jaccard_is_shared_over_all_distinct_bigrams(a, b):
    expected = len(a & b) / len(a | b) if a | b else 0.0
    assert jaccard(a, b) == expected == jaccard(b, a)


def test_jaccard_of_known_sets():
    assert jaccard(frozenset({"建议", "公交", "候车"}), frozenset({"公交", "候车", "夜间", "照明"})) == 2 / 5
    assert jaccard(frozenset(), frozenset()) == 0.0
    assert jaccard(frozenset({"建议"}), frozenset()) == 0.0
