"""the 1533 model's area of proposals and opinion items

Revision ID: 0007_areas
Revises: 0006
Create Date: 2026-11-30 00:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_areas'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('proposals', 'opinion_items'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('area', sa.String(length=30), nullable=True))
            batch_op.create_index(f'ix_{table}_area', ['area'], unique=False)


def downgrade() -> None:
    for table in ('proposals', 'opinion_items'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_area')
            batch_op.drop_column('area')
