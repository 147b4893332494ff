"""followup_milestones: a category B reply carries the milestones it promises (what, by when),
each reported done by the unit.

Revision ID: 0007_followup_milestones
Revises: 0006
Create Date: 2026-11-30 00:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_followup_milestones'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('replies') as batch:
        batch.add_column(sa.Column('milestones', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('replies') as batch:
        batch.drop_column('milestones')
