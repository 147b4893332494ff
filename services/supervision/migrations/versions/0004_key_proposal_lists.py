"""key proposal lists: staff's list for the chair's meeting and the meeting's decision

Revision ID: 0004_key_proposal_lists
Revises: 0003
Create Date: 2026-11-30 00:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_key_proposal_lists'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('key_proposal_lists',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('proposed_by', sa.String(length=100), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('key_proposal_lists', schema=None) as batch_op:
        batch_op.create_index('ix_key_proposal_lists_year', ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('key_proposal_lists', schema=None) as batch_op:
        batch_op.drop_index('ix_key_proposal_lists_year')
    op.drop_table('key_proposal_lists')
