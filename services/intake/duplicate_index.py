"""Which proposals of a year could be near-duplicates of a text: asked of a database index, so
that the search reads a handful of rows however many proposals the years hold.

Both indexes are over ``Proposal.match_text`` (the bigrams of title and suggestions written out as
words, ``similarity.match_text``), and both are asked for a superset of the proposals whose
bigram Jaccard index can reach the threshold; ``registration.find_duplicates`` scores those
exactly, so it finds what scoring every proposal of the year finds. It is part of the SQL adapter:
``sql.SqlProposalRepository.duplicate_candidates`` asks it, and the domain never does:

- **PostgreSQL, pg_trgm** (GIN index ``ix_proposals_match_text_trgm`` over the year and the
  text, btree_gin for the year; the migration raises the planner's cost of ``%`` so that the
  index, not the year's btree, is chosen): each bigram word ``ab``
  gives the trigrams ``"  a"``, ``" ab"``, ``"ab "``, so two texts with bigram Jaccard ``J`` have
  trigram similarity at least ``2J/3``; ``%`` with ``pg_trgm.similarity_threshold`` at two thirds
  of the least index that shows as the threshold misses none of them (hash collisions of
  multibyte trigrams only raise it).
- **SQLite, FTS5** (table ``proposal_match`` over the text and the year, kept in step by
  triggers): a proposal sharing at least ``o`` of this text's ``|A|`` bigrams (``o`` the least
  whose ``o/|A|`` shows as the threshold) must contain one of the ``|A| − o + 1`` rarest of them
  (prefix filtering), so only those are looked up, the common ones never, and only in the proposals of the year (``year : 2026 AND (…)`` inside the
  match), so proposals of other years sharing them are never handed over.

Both are asked only for the proposals whose bigram count can reach the threshold (the size bound
of the Jaccard index, ``similarity.size_range``: ``J(A, B) <= min(|A|, |B|) / max(|A|, |B|)``,
exact for the rounded score the search compares), by ``Proposal.bigram_count``, checked on each
row the text index hands over; a row without a stored count is handed over as before. The
bounds are taken for the score as shown, rounded to three places, so a pair whose index is a
little under the threshold but shows as the threshold is not left out (``overlap_needed``,
``least_score``).

Without the index (a database migrated by ``create_all``, or PostgreSQL where pg_trgm could not
be created) :func:`candidates` answers ``None`` and the caller scores the whole year.
"""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, case, literal_column, or_, select, text

from . import similarity
from .models import Proposal

# What a candidate's score needs: its bigrams (match_text); its suggestions only where they were
# not stored (a row written without the ORM hook), to split again. Not a candidate's whole texts:
# on a year of similar texts there are thousands of candidates, and each text read costs.
COLUMNS = (
    Proposal.number,
    Proposal.title,
    case((Proposal.match_text.is_(None), Proposal.suggestions), else_=None).label("suggestions"),
    Proposal.match_text,
)

_present: dict[tuple[int, str], bool] = {}


def _has_index(session) -> bool:
    bind = session.get_bind()
    engine = bind.engine if not isinstance(bind, Engine) else bind
    key = (id(engine), str(engine.url))
    if key not in _present:
        if engine.dialect.name == "postgresql":
            found = session.execute(
                text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_proposals_match_text_trgm'")
            ).scalar()
        elif engine.dialect.name == "sqlite":
            found = session.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'proposal_match'")).scalar()
        else:
            found = None
        _present[key] = bool(found)
    return _present[key]


def _postgresql(session, words: list[str], threshold: float, year: int, where):
    # Two thirds of the least unrounded index that rounds up to the threshold (similarity.score),
    # less a little for pg_trgm's single-precision arithmetic.
    trigram = 2 * similarity.least_score(threshold) / 3 - 1e-6
    session.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"), {"t": repr(trigram)})
    return session.execute(
        select(*COLUMNS).where(Proposal.match_text.op("%")(" ".join(words)), Proposal.year == year, *where)
    )


def _sqlite(session, words: list[str], threshold: float, year: int, where):
    counts = dict(
        session.execute(
            text("SELECT term, doc FROM proposal_match_terms WHERE term IN :terms").bindparams(
                bindparam("terms", expanding=True)
            ),
            {"terms": words},
        ).all()
    )
    present = sorted((counts.get(w, 0), w) for w in words)
    needed = similarity.overlap_needed(len(words), threshold)  # bigrams a duplicate must share, at least
    rarest = [w for n, w in present[: len(words) - needed + 1] if n]
    if not rarest:
        return []
    # Words are letters and digits only; the year is an int. The year's column is matched inside
    # the index, so FTS5 intersects the doclists and no other year's proposal comes out of it.
    query = f'year : "{int(year)}" AND match_text : (' + " OR ".join(f'"{w}"' for w in rarest) + ")"
    ids = select(literal_column("rowid")).select_from(text("proposal_match")).where(text("proposal_match MATCH :q"))
    return session.execute(
        select(*COLUMNS).where(Proposal.id.in_(ids), *where),
        {"q": query},
    )


def candidates(session, words: list[str], threshold: float, year: int, where) -> list | None:
    """``(number, title, suggestions, match_text)`` of the proposals of ``year`` meeting ``where`` that may
    score at least ``threshold`` against the bigrams ``words`` (``suggestions`` only where
    ``match_text`` is NULL: :data:`COLUMNS`); None if this database has no duplicate index."""
    if not _has_index(session):
        return None
    if not words or threshold <= 0:
        return None  # everything qualifies: the whole year is the answer
    least, most = similarity.size_range(len(words), threshold)
    if least > len(words):
        return []  # the threshold is above 1: nothing can reach it
    # The size bound: no other count can reach the threshold. A row whose count was not stored
    # (written without the ORM's hook) is scored as before.
    sized = Proposal.bigram_count >= least if most is None else Proposal.bigram_count.between(least, most)
    where = (*where, or_(Proposal.bigram_count.is_(None), sized))
    dialect = session.get_bind().dialect.name
    rows = _postgresql if dialect == "postgresql" else _sqlite
    return list(rows(session, words, threshold, year, where))
