"""indexes for a year's report: ``ix_proposals_year_counts`` over (year, decision, area,
reason_code, merged_into, status, id), every column the report's counts read, so that they are
counted from the index alone, grouped in its order, without reading a proposal's row (its texts);
and ``ix_proposal_events_proposal_action`` over (proposal_id, action), so that the year's answers
(each proposal's ``published`` and ``publication_declined`` lines) are found in the index instead
of among all of a proposal's lines (docs/performance.md, "Flat with the data"). It replaces
``ix_proposal_events_proposal_id``, whose lookups it serves (proposal_id leads), and which
PostgreSQL's planner otherwise preferred for the answers, reading every line of the year's
proposals to keep their publication lines.

Revision ID: gh_year_counts_index
Revises: gf_duplicate_index_year
Create Date: 2026-11-30 11:00:00
"""
from alembic import op


revision = 'gh_year_counts_index'
down_revision = 'gf_duplicate_index_year'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_proposals_year_counts',
        'proposals',
        ['year', 'decision', 'area', 'reason_code', 'merged_into', 'status', 'id'],
    )
    op.create_index('ix_proposal_events_proposal_action', 'proposal_events', ['proposal_id', 'action'])
    op.drop_index('ix_proposal_events_proposal_id', table_name='proposal_events')


def downgrade() -> None:
    op.create_index('ix_proposal_events_proposal_id', 'proposal_events', ['proposal_id'])
    op.drop_index('ix_proposal_events_proposal_action', table_name='proposal_events')
    op.drop_index('ix_proposals_year_counts', table_name='proposals')
