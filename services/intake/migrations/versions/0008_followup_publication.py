"""followup_publication: a category B reply is published with its follow-up pending, and the
published record takes the follow-up reply when it arrives.

Revision ID: 0008_followup_publication
Revises: 0007_areas
Create Date: 2026-11-30 00:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_followup_publication'
down_revision = '0007_areas'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('publications') as batch:
        batch.add_column(sa.Column('followup_status', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('followup_text', sa.Text(), nullable=True))
        batch.add_column(sa.Column('followup_received_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('publications') as batch:
        batch.drop_column('followup_received_at')
        batch.drop_column('followup_text')
        batch.drop_column('followup_status')
