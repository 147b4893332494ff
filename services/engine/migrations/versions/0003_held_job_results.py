"""held job results: what a suspended instance receives waits here until it is resumed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'held_results',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('instance_id', sa.String(length=36), nullable=False),
        sa.Column('job_id', sa.String(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('held_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_results_instance_id'), ['instance_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('held_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_results_instance_id'))
    op.drop_table('held_results')
