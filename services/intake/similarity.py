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
from collections.abc import Callable

# At or above the proposal rulebook's ``duplicates.threshold`` two proposals are shown to the
# pre-reviewer as possible duplicates; the score compared is the Jaccard index rounded to
# SCORE_PLACES decimals (:func:`score`), so a pair a little under the threshold may round up to it.
SCORE_PLACES = 3


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


def title_grams(title: str, ignore=()) -> frozenset[str]:
    """Routing's measure of a title (the routing rulebook's ``similar_titles``): its bigrams with
    the boilerplate every title shares (``ignore``: 关于, 的建议…) cut out. A cut separates: the
    characters either side of it do not make a bigram, so every bigram here is one of the whole
    title's (:func:`bigrams` of the title), which the title index (``proposal_title_grams``) holds.
    A title left with no bigram is its remaining characters, each itself."""
    text = unicodedata.normalize("NFKC", title or "").casefold()
    for word in ignore:
        if cut := unicodedata.normalize("NFKC", word).casefold():
            text = text.replace(cut, "\x00")
    pieces = ["".join(ch for ch in piece if ch.isalnum()) for piece in text.split("\x00")]
    grams = frozenset(piece[i : i + 2] for piece in pieces for i in range(len(piece) - 1))
    return grams or frozenset("".join(pieces))


def match_text(title: str, suggestions: str) -> str:
    """The bigrams of a proposal's title and suggestions as space-separated words, sorted: what the
    duplicate index holds (``Proposal.match_text``). Each word is one bigram, so the index's own
    measure (pg_trgm's trigrams of the words, FTS5's tokens) is taken over the same bigrams."""
    return as_words(bigrams(title, suggestions))


def as_words(grams: frozenset[str]) -> str:
    """Bigrams as :func:`match_text` writes them."""
    return " ".join(sorted(grams))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    # |A ∪ B| = |A| + |B| − |A ∩ B|: the same ratio without building the union (thousands of
    # candidates are scored per search on a year of similar texts).
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


def score(a: frozenset[str], b: frozenset[str]) -> float:
    """What the search shows and compares with the threshold: the Jaccard index, rounded."""
    return round(jaccard(a, b), SCORE_PLACES)


def _ratio_reaches(part: int, whole: int, threshold: float) -> bool:
    return round(part / whole, SCORE_PLACES) >= threshold


def _first(low: int, high: int, ok: Callable[[int], bool]) -> int:
    """The least n in [low, high] with ok(n), ok being monotone (False…True); high + 1 if none."""
    while low <= high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid - 1
        else:
            low = mid + 1
    return low


def overlap_needed(size: int, threshold: float) -> int:
    """The fewest of a text's ``size`` bigrams another must share to score ``threshold`` with it
    (``size + 1`` if none can). Sharing ``o`` of them, ``|A ∪ B| >= size``, so ``J <= o/size``, and
    rounding keeps the order: the score is at most ``round(o/size)``. The least ``o`` whose rounded
    ratio reaches the threshold is the bound, exact for the rounding :func:`score` does."""
    return _first(0, size, lambda o: _ratio_reaches(o, size, threshold))


def size_range(size: int, threshold: float) -> tuple[int, int | None]:
    """The bigram counts ``(least, most)`` another text may have and score ``threshold`` with a text
    of ``size`` bigrams (``most`` None: no upper bound). Since ``|A ∩ B| <= min(|A|, |B|)`` and
    ``|A ∪ B| >= max(|A|, |B|)``, ``J <= min/max``; rounding keeps the order, so the counts are those
    whose rounded ``min/max`` reaches the threshold (the Jaccard size bound ``t·|A| <= |B| <= |A|/t``,
    exact for the rounding :func:`score` does). ``size`` is at least 1."""
    least = overlap_needed(size, threshold)  # the same bound: a smaller text shares at most its count
    if least > size:
        return size + 1, size  # none: the threshold is above 1
    slack = threshold - 10.0**-SCORE_PLACES  # below the least unrounded ratio that rounds up to it
    if slack <= 0:
        return least, None
    ceiling = int(size / slack) + 2  # round(size/ceiling) < threshold: past the last one
    # Counts from ``size`` up: reaching is True then False; the first False, less one, is the most.
    most = _first(size, ceiling, lambda b: not _ratio_reaches(size, b, threshold)) - 1
    return least, most


def least_score(threshold: float) -> float:
    """A Jaccard index below every one that :func:`score` rounds to ``threshold`` or more."""
    return threshold - 0.5 * 10.0**-SCORE_PLACES - 1e-9
