"""a person's task list page read in its order: open work items by their candidates (an empty one
as '') then by when they were opened, the candidates as they are last (so that a count reads the
index alone); and work items by their business key (a person's task of one proposal)

Revision ID: go_task_list_order
Revises: 0005_task_list_indexes
Create Date: 2026-11-30 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'go_task_list_order'
down_revision = '0005_task_list_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_work_items_open_order',
        'work_items',
        [
            'status',
            sa.text("coalesce(candidate_role, '')"),
            sa.text("coalesce(candidate_unit, '')"),
            sa.text("coalesce(candidate_user, '')"),
            'created_at',
            'task_id',
            'candidate_role',
            'candidate_unit',
            'candidate_user',
        ],
    )
    op.create_index('ix_work_items_business_key', 'work_items', ['business_key', 'status'])


def downgrade() -> None:
    op.drop_index('ix_work_items_business_key', table_name='work_items')
    op.drop_index('ix_work_items_open_order', table_name='work_items')
