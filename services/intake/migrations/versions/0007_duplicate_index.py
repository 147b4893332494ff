"""the near-duplicate search from an index: proposals.match_text (the bigrams of title and
suggestions, services/intake/similarity.py), filled for existing rows; on PostgreSQL a pg_trgm
GIN index over it, on SQLite an FTS5 table kept in step with it by triggers.

PostgreSQL: ``CREATE EXTENSION pg_trgm`` needs a role that may create it (a superuser, or the
database's owner on PostgreSQL 13+, pg_trgm being trusted). If it may not, the migration says so
and goes on without the index: the search then scores every proposal of the year, as before,
until an administrator runs ``CREATE EXTENSION pg_trgm`` and ``ztc``'s migrate again (this
revision is re-run by downgrading to 0006 and upgrading).

Revision ID: 0007_duplicate_index
Revises: 0006
Create Date: 2026-11-30 00:20:00
"""
import logging

from alembic import op
import sqlalchemy as sa

from services.intake.similarity import match_text


revision = '0007_duplicate_index'
down_revision = '0006'
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


def _trigram_extension(bind) -> bool:
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar():
        return True
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        return True
    except sa.exc.DBAPIError as exc:
        log.error("pg_trgm could not be created (%s): the near-duplicate search will score every "
                  "proposal of the year without an index. As a database administrator run "
                  "'CREATE EXTENSION pg_trgm' in this database, then migrate intake again from 0006.",
                  str(exc.orig).strip())
        return False


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_text', sa.Text(), nullable=True))
    bind = op.get_bind()
    _fill(bind)
    if bind.dialect.name == 'postgresql':
        if _trigram_extension(bind):
            op.execute("CREATE INDEX ix_proposals_match_text_trgm ON proposals "
                       "USING gin (match_text gin_trgm_ops)")
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
