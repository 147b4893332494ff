"""followup_milestones: a deadline per milestone a category B reply promised (its number and what
it promises), and the milestone a unit's fact fulfils.

Revision ID: 0005_followup_milestones
Revises: 0004_key_proposal_lists
Create Date: 2026-11-30 00:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_followup_milestones'
down_revision = '0004_key_proposal_lists'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deadlines') as batch:
        batch.add_column(sa.Column('milestone', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('label', sa.Text(), nullable=True))
    with op.batch_alter_table('unit_facts') as batch:
        batch.add_column(sa.Column('milestone', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit_facts') as batch:
        batch.drop_column('milestone')
    with op.batch_alter_table('deadlines') as batch:
        batch.drop_column('label')
        batch.drop_column('milestone')
