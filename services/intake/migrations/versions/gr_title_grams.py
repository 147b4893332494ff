"""the title index: ``proposal_title_grams``, one row per bigram of each proposal's title, filled
from the proposals there are. Routing suggestions ask it for the past proposals whose titles share
enough of a new title's bigrams (``similar_titles``) instead of comparing a new title with every
title there is (docs/performance.md, "Routing suggestions from a title index").

Revision ID: gr_title_grams
Revises: gq_answer_on_proposal
Create Date: 2026-12-01 04:30:00
"""
import sqlalchemy as sa
from alembic import op

from services.intake.similarity import bigrams


revision = 'gr_title_grams'
down_revision = 'gq_answer_on_proposal'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        'proposal_title_grams',
        sa.Column('gram', sa.String(length=8), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('gram', 'proposal_id'),
    )
    op.create_index('ix_proposal_title_grams_proposal', 'proposal_title_grams', ['proposal_id'])
    bind = op.get_bind()
    proposals = sa.table('proposals', sa.column('id', sa.Integer), sa.column('title', sa.String))
    grams = sa.table('proposal_title_grams', sa.column('gram', sa.String), sa.column('proposal_id', sa.Integer))
    rows = []
    for pid, title in bind.execute(sa.select(proposals.c.id, proposals.c.title)).all():
        rows.extend({'gram': gram, 'proposal_id': pid} for gram in sorted(bigrams(title)))
        if len(rows) >= BATCH:
            bind.execute(grams.insert(), rows)
            rows = []
    if rows:
        bind.execute(grams.insert(), rows)


def downgrade() -> None:
    op.drop_index('ix_proposal_title_grams_proposal', table_name='proposal_title_grams')
    op.drop_table('proposal_title_grams')
