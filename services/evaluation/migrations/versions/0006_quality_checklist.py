"""the quality checklist a proposal's grade was computed from, and its points

Existing grades were given directly: they keep no checklist (both columns empty).

Revision ID: 0006_quality_checklist
Revises: 0005
Create Date: 2026-11-30 00:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_quality_checklist'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quality_grades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checklist', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('quality_grades', schema=None) as batch_op:
        batch_op.drop_column('checklist')
        batch_op.drop_column('points')
