"""merged proposals: whose proposers rate the answer of the proposal they were merged into

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('merged_proposals',
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('into', sa.String(length=50), nullable=False),
    sa.Column('proposers', sa.JSON(), nullable=False),
    sa.Column('heard_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('number')
    )
    with op.batch_alter_table('merged_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merged_proposals_into'), ['into'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('merged_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merged_proposals_into'))
    op.drop_table('merged_proposals')
