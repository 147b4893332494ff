"""no index over (year, bigram_count): the near-duplicate search checks the size bound on the rows
its text index hands over, and neither database's plan ever used ``ix_proposals_year_bigram_count``
(docs/performance.md, "At 100,000"), which every proposal's insert and update paid for

Revision ID: gp_no_bigram_count_index
Revises: gl_bigram_count
Create Date: 2026-11-30 15:10:00
"""
from alembic import op


revision = 'gp_no_bigram_count_index'
down_revision = 'gl_bigram_count'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_proposals_year_bigram_count', table_name='proposals')


def downgrade() -> None:
    op.create_index('ix_proposals_year_bigram_count', 'proposals', ['year', 'bigram_count'])
