"""the near-duplicate search from an index: proposals.match_text (the bigrams of title and
suggestions, services/intake/similarity.py), filled for existing rows; on PostgreSQL a GIN index
over (year, match_text) with pg_trgm's operator class (btree_gin for the year: the search asks for
one year, and a separate year index would tempt the planner to score the whole year), on SQLite an
FTS5 table kept in step with it by triggers.

PostgreSQL: ``CREATE EXTENSION`` needs a role that may create it (a superuser, or the database's
owner on PostgreSQL 13+: pg_trgm and btree_gin are trusted extensions). Without btree_gin the index
is over match_text alone. Without pg_trgm the migration says so and goes on without the index: the
search then scores every proposal of the year, as before, until an administrator runs
``CREATE EXTENSION pg_trgm`` (and ``btree_gin``) in the database and intake is migrated again
from 0006 (``alembic downgrade 0006``, then ``upgrade head``).

Revision ID: 0009_duplicate_index
Revises: 0008_followup_publication
Create Date: 2026-11-30 00:20:00
"""
import logging

from alembic import op
import sqlalchemy as sa

from services.intake.similarity import match_text


revision = '0009_duplicate_index'
down_revision = '0008_followup_publication'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

FTS_TRIGGERS = {
    # External-content FTS5 (https://sqlite.org/fts5.html#external_content_tables): the triggers
    # keep the index in step with proposals.match_text, whoever writes the row.
    'proposal_match_ai': "AFTER INSERT ON proposals BEGIN "
                         "INSERT INTO proposal_match(rowid, match_text) VALUES (new.id, new.match_text); END",
    'proposal_match_ad': "AFTER DELETE ON proposals BEGIN "
                         "INSERT INTO proposal_match(proposal_match, rowid, match_text) "
                         "VALUES ('delete', old.id, old.match_text); END",
    'proposal_match_au': "AFTER UPDATE OF match_text ON proposals BEGIN "
                         "INSERT INTO proposal_match(proposal_match, rowid, match_text) "
                         "VALUES ('delete', old.id, old.match_text); "
                         "INSERT INTO proposal_match(rowid, match_text) VALUES (new.id, new.match_text); END",
}


def _fill(bind) -> None:
    proposals = sa.table('proposals', sa.column('id', sa.Integer), sa.column('title', sa.String),
                         sa.column('suggestions', sa.Text), sa.column('match_text', sa.Text))
    rows = bind.execute(sa.select(proposals.c.id, proposals.c.title, proposals.c.suggestions)).all()
    if rows:
        bind.execute(proposals.update().where(proposals.c.id == sa.bindparam('pid'))
                     .values(match_text=sa.bindparam('text')),
                     [{'pid': pid, 'text': match_text(title, suggestions)} for pid, title, suggestions in rows])


def _extension(bind, name: str) -> bool:
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = :n"), {"n": name}).scalar():
        return True
    try:
        with bind.begin_nested():
            bind.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS {name}"))
        return True
    except sa.exc.DBAPIError as exc:
        log.error("the extension %s could not be created (%s): the near-duplicate search will %s. "
                  "As a database administrator run 'CREATE EXTENSION %s' in this database, then "
                  "migrate intake again from 0006.", name, str(exc.orig).strip(),
                  "score every proposal of the year without an index" if name == "pg_trgm"
                  else "use an index over the text alone", name)
        return False


def _similarity_cost(bind) -> None:
    """Tell the planner what ``%`` costs. At its default cost (1) scoring a year of 10,000
    proposals through ``ix_proposals_year`` looks cheaper than the GIN index, and took 3 s where the
    index took 0.15 s (docs/performance.md, "Flat with the data"). The setting belongs to the
    extension's function: a dump and restore recreates the extension without it; migrate again."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text("ALTER FUNCTION similarity_op(text, text) COST 1000"))
    except sa.exc.DBAPIError as exc:
        log.error("could not set the cost of pg_trgm's similarity_op (%s): the planner may score the "
                  "whole year instead of using ix_proposals_match_text_trgm. As the extension's owner "
                  "run 'ALTER FUNCTION similarity_op(text, text) COST 1000'.", str(exc.orig).strip())


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_text', sa.Text(), nullable=True))
    bind = op.get_bind()
    _fill(bind)
    if bind.dialect.name == 'postgresql':
        if _extension(bind, 'pg_trgm'):
            year = "year, " if _extension(bind, 'btree_gin') else ""
            op.execute("CREATE INDEX ix_proposals_match_text_trgm ON proposals "
                       f"USING gin ({year}match_text gin_trgm_ops)")
            _similarity_cost(bind)
    elif bind.dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE proposal_match USING fts5("
                   "match_text, content='proposals', content_rowid='id')")
        op.execute("CREATE VIRTUAL TABLE proposal_match_terms USING fts5vocab(proposal_match, 'row')")
        for name, body in FTS_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute("INSERT INTO proposal_match(proposal_match) VALUES ('rebuild')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_proposals_match_text_trgm")
    elif bind.dialect.name == 'sqlite':
        for name in FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS proposal_match_terms")
        op.execute("DROP TABLE IF EXISTS proposal_match")
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_column('match_text')
