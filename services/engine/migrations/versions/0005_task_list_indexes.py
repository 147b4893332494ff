"""the task list filtered in SQL: open work items by candidate unit (with role) and by candidate user

Revision ID: 0005_task_list_indexes
Revises: 0004
Create Date: 2026-11-30 00:15:00
"""
from alembic import op


revision = '0005_task_list_indexes'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_work_items_open_unit', 'work_items', ['status', 'candidate_unit', 'candidate_role'])
    op.create_index('ix_work_items_open_user', 'work_items', ['status', 'candidate_user'])


def downgrade() -> None:
    op.drop_index('ix_work_items_open_user', table_name='work_items')
    op.drop_index('ix_work_items_open_unit', table_name='work_items')
