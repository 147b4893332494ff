"""Near-duplicate proposals, by a measure anyone can redo by hand.

Each text is reduced to its letters and digits (Chinese characters included, punctuation and white
space dropped, case folded); its *bigrams* are the pairs of neighbouring characters. Two proposals
are compared by the Jaccard index of their bigram sets: shared bigrams / all distinct bigrams.
Character bigrams need no word segmentation, so Chinese and mixed text work alike.

The search does not score every proposal of the year: ``duplicate_index`` asks a database index
for the proposals that *could* reach the threshold (PostgreSQL ``pg_trgm``, SQLite FTS5, both over
``Proposal.match_text``, the bigrams written out as words) and only those are scored here.
"""

from __future__ import annotations

import unicodedata

# At or above the proposal rulebook's ``duplicates.threshold`` two proposals are shown to the
# pre-reviewer as possible duplicates.


def _characters(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in text if ch.isalnum())


def bigrams(*texts: str) -> frozenset[str]:
    """The character bigrams of each text (never across two texts); a one-character text is itself."""
    grams = set()
    for text in texts:
        chars = _characters(text)
        grams.update(chars[i : i + 2] for i in range(len(chars) - 1))
        if len(chars) == 1:
            grams.add(chars)
    return frozenset(grams)


def match_text(title: str, suggestions: str) -> str:
    """The bigrams of a proposal's title and suggestions as space-separated words, sorted: what the
    duplicate index holds (``Proposal.match_text``). Each word is one bigram, so the index's own
    measure (pg_trgm's trigrams of the words, FTS5's tokens) is taken over the same bigrams."""
    return " ".join(sorted(bigrams(title, suggestions)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    # |A ∪ B| = |A| + |B| − |A ∩ B|: the same ratio without building the union (thousands of
    # candidates are scored per search on a year of similar texts).
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0
