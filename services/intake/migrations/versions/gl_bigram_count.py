"""the near-duplicate search's size bound: ``proposals.bigram_count`` (how many bigrams
``match_text`` holds), filled from the rows there are, and ``ix_proposals_year_bigram_count`` over
(year, bigram_count), so that the search asks only for the proposals of the year whose count can
reach the threshold (a Jaccard index is at most min/max of the two counts: ``similarity.size_range``;
docs/performance.md, "Flat with the data").

Revision ID: gl_bigram_count
Revises: gh_year_counts_index
Create Date: 2026-11-30 12:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = 'gl_bigram_count'
down_revision = 'gh_year_counts_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('proposals', sa.Column('bigram_count', sa.Integer(), nullable=True))
    bind = op.get_bind()
    proposals = sa.table('proposals', sa.column('id', sa.Integer), sa.column('match_text', sa.Text),
                         sa.column('bigram_count', sa.Integer))
    rows = bind.execute(sa.select(proposals.c.id, proposals.c.match_text)
                        .where(proposals.c.match_text.is_not(None))).all()
    if rows:
        bind.execute(proposals.update().where(proposals.c.id == sa.bindparam('pid'))
                     .values(bigram_count=sa.bindparam('n')),
                     [{'pid': pid, 'n': len(text.split())} for pid, text in rows])
    op.create_index('ix_proposals_year_bigram_count', 'proposals', ['year', 'bigram_count'])


def downgrade() -> None:
    op.drop_index('ix_proposals_year_bigram_count', table_name='proposals')
    # ALTER TABLE on SQLite too (3.35 and later), not a copy of the table: a copy would lose the
    # triggers that keep proposal_match in step.
    op.execute('ALTER TABLE proposals DROP COLUMN bigram_count')
