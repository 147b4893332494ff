"""What any exact index-based near-duplicate search must read on ``bench/growth.py``'s texts.

The near-duplicate search (``services/intake/duplicate_index.py``) finds every proposal of the
year whose bigram Jaccard index with a new one reaches the rulebook's threshold, exactly. An index
can skip a proposal only if it shares too few bigrams: to reach the threshold ``t`` a proposal must
share at least ``o`` of the new text's ``a`` bigrams (``similarity.overlap_needed``), so it shares
at least ``k`` of *any* ``a - o + k`` of them (pigeonhole). The cheapest exact filter therefore
reads the postings (which proposals hold a bigram) of the new text's ``a - o + k`` rarest bigrams
and hands over those found at least ``k`` times. This script computes, in memory and with no
database, for texts drawn as ``bench/growth.py`` draws them and years of several sizes:

- the postings that filter must read (for ``k`` = 1, as the SQLite index does, and larger ``k``);
- the candidates it hands over, which are then scored;
- how many proposals really reach the threshold (the answer).

It shows whether a search can be flat on that corpus at all: if the postings of even the rarest
half of a text's bigrams grow with the year, no exact index avoids reading them.

    .venv/bin/python bench/neardup_bound.py                       # years of 100, 1,000 and 10,000
    .venv/bin/python bench/neardup_bound.py --sizes 800 20000 --probes 20
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.growth import proposal_text  # noqa: E402
from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from services.intake.similarity import bigrams, overlap_needed, score  # noqa: E402
from shared.rulebook import load_rulebook  # noqa: E402

KS = (1, 2, 4, 8)


def measure(size: int, probes: int, threshold: float, seed: int) -> dict:
    rng = random.Random(seed)
    year = [bigrams(t["title"], t["suggestions"]) for t, _ in (proposal_text(rng) for _ in range(size))]
    postings: dict[str, list[int]] = collections.defaultdict(list)
    for i, grams in enumerate(year):
        for g in grams:
            postings[g].append(i)
    rows = collections.defaultdict(list)
    for _ in range(probes):
        text_, _ = proposal_text(rng)
        own = bigrams(text_["title"], text_["suggestions"])
        a, o = len(own), overlap_needed(len(own), threshold)
        rarest = sorted(own, key=lambda g: (len(postings.get(g, ())), g))
        rows["answer"].append(sum(1 for other in year if score(own, other) >= threshold))
        rows["rarest bigram's postings"].append(len(postings.get(rarest[0], ())))
        for k in KS:
            prefix = rarest[: a - o + k]
            hits = collections.Counter(i for g in prefix for i in postings.get(g, ()))
            rows[f"k={k}: postings read"].append(sum(len(postings.get(g, ())) for g in prefix))
            rows[f"k={k}: candidates"].append(sum(1 for n in hits.values() if n >= k))
    return {name: statistics.median(values) for name, values in rows.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000], help="proposals in the year")
    parser.add_argument("--probes", type=int, default=10, help="new texts searched per size (medians shown)")
    parser.add_argument("--threshold", type=float, default=None, help="default: the proposal rulebook's")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.sizes) or args.probes < 1:
        parser.error("--sizes and --probes must be at least 1")
    threshold = args.threshold
    if threshold is None:
        threshold = load_rulebook("proposal").duplicate_threshold()
    results = {n: measure(n, args.probes, threshold, args.seed) for n in args.sizes}
    names = list(next(iter(results.values())))
    print(f"threshold {threshold}; medians of {args.probes} new texts; growth.py's generated texts")
    print(f"{'proposals in the year':34s}" + "".join(f"{n:>10,}" for n in args.sizes))
    for name in names:
        print(f"{name:34s}" + "".join(f"{results[n][name]:>10,.0f}" for n in args.sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
