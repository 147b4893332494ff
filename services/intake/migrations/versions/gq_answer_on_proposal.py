"""the answer on the proposal: ``proposals.reply_category`` and ``proposals.lead_unit``, the
category and first unit of the answer last published or declined for publication (written beside
its ``published`` / ``publication_declined`` line by ``publication.record_answer``), filled here
from those lines, and added to ``ix_proposals_year_counts``, so that the year's report counts the
answers from that index alone instead of looking up every proposal's history lines
(docs/performance.md, "The year's report from one index")

Revision ID: gq_answer_on_proposal
Revises: gp_no_bigram_count_index
Create Date: 2026-11-30 17:30:00
"""
import json

import sqlalchemy as sa
from alembic import op


revision = 'gq_answer_on_proposal'
down_revision = 'gp_no_bigram_count_index'
branch_labels = None
depends_on = None

COUNTED = ['year', 'decision', 'area', 'reason_code', 'merged_into', 'status']


def upgrade() -> None:
    op.add_column('proposals', sa.Column('reply_category', sa.String(length=20), nullable=True))
    op.add_column('proposals', sa.Column('lead_unit', sa.Text(), nullable=True))
    bind = op.get_bind()
    events = sa.table(
        'proposal_events', sa.column('id'), sa.column('proposal_id'), sa.column('action'), sa.column('data')
    )
    rows = bind.execute(
        sa.select(events.c.proposal_id, events.c.data)
        .where(events.c.action.in_(('published', 'publication_declined')))
        .order_by(events.c.id)
    )
    answers = {}
    for proposal_id, data in rows:  # the last line with a category wins, as the report read them
        data = json.loads(data) if isinstance(data, str) else (data or {})
        if data.get('reply_category'):
            answers[proposal_id] = (data['reply_category'], (data.get('units') or [None])[0])
    proposals = sa.table('proposals', sa.column('id'), sa.column('reply_category'), sa.column('lead_unit'))
    update = (
        proposals.update()
        .where(proposals.c.id == sa.bindparam('pid'))
        .values(reply_category=sa.bindparam('category'), lead_unit=sa.bindparam('unit'))
    )
    filled = [{'pid': pid, 'category': category, 'unit': unit} for pid, (category, unit) in answers.items()]
    for start in range(0, len(filled), 5000):
        bind.execute(update, filled[start : start + 5000])
    op.drop_index('ix_proposals_year_counts', table_name='proposals')
    op.create_index(
        'ix_proposals_year_counts', 'proposals', [*COUNTED, 'reply_category', 'lead_unit', 'id']
    )


def downgrade() -> None:
    op.drop_index('ix_proposals_year_counts', table_name='proposals')
    op.create_index('ix_proposals_year_counts', 'proposals', [*COUNTED, 'id'])
    # ALTER TABLE on SQLite too (3.35 and later), not a copy of the table: a copy would lose the
    # triggers that keep proposal_match in step.
    op.execute('ALTER TABLE proposals DROP COLUMN lead_unit')
    op.execute('ALTER TABLE proposals DROP COLUMN reply_category')
