"""the near-duplicate index on SQLite holds each proposal's year: ``proposal_match`` gets a ``year``
column (external content, read from ``proposals.year``), so the FTS5 match itself is restricted to
the year asked and hands over no proposal of another year. Before, every proposal of any year
holding one of the rarest bigrams was handed over and the year filtered afterwards; at 110,000
proposals over eleven years that was most of the search's time (docs/performance.md, "Flat with
the data").

The FTS table, its vocabulary table and its triggers are made again and the index rebuilt from the
rows there are. PostgreSQL is unchanged (its GIN index is over the year and the text already).

Revision ID: gf_duplicate_index_year
Revises: lg_cosigner_publish_name
Create Date: 2026-11-30 08:40:00
"""
from alembic import op


revision = 'gf_duplicate_index_year'
down_revision = 'lg_cosigner_publish_name'
branch_labels = None
depends_on = None

# External-content FTS5 (https://sqlite.org/fts5.html#external_content_tables): the triggers keep
# the index in step with proposals.match_text and proposals.year, whoever writes the row; a delete
# names the old values of every indexed column.
WITH_YEAR = {
    'proposal_match_ai': "AFTER INSERT ON proposals BEGIN "
                         "INSERT INTO proposal_match(rowid, match_text, year) "
                         "VALUES (new.id, new.match_text, new.year); END",
    'proposal_match_ad': "AFTER DELETE ON proposals BEGIN "
                         "INSERT INTO proposal_match(proposal_match, rowid, match_text, year) "
                         "VALUES ('delete', old.id, old.match_text, old.year); END",
    'proposal_match_au': "AFTER UPDATE OF match_text, year ON proposals BEGIN "
                         "INSERT INTO proposal_match(proposal_match, rowid, match_text, year) "
                         "VALUES ('delete', old.id, old.match_text, old.year); "
                         "INSERT INTO proposal_match(rowid, match_text, year) "
                         "VALUES (new.id, new.match_text, new.year); END",
}
# As 0009_duplicate_index made them.
WITHOUT_YEAR = {
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


def _remake(columns: str, triggers: dict) -> None:
    for name in triggers:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS proposal_match_terms")
    op.execute("DROP TABLE IF EXISTS proposal_match")
    op.execute(f"CREATE VIRTUAL TABLE proposal_match USING fts5({columns}, content='proposals', content_rowid='id')")
    op.execute("CREATE VIRTUAL TABLE proposal_match_terms USING fts5vocab(proposal_match, 'row')")
    for name, body in triggers.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute("INSERT INTO proposal_match(proposal_match) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _remake("match_text, year", WITH_YEAR)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _remake("match_text", WITHOUT_YEAR)
