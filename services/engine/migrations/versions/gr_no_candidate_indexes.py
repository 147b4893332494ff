"""no ``ix_work_items_open``, ``ix_work_items_open_unit`` or ``ix_work_items_open_user``: since
``go_task_list_order`` every query of open work items by their candidates reads
``ix_work_items_open_order`` (the candidates as ``coalesce(…, '')``, which these three do not
hold), and one by status alone has that index's first column; every work item's insert and
update paid for three indexes no plan used

Revision ID: gr_no_candidate_indexes
Revises: go_task_list_order
Create Date: 2026-11-30 17:45:00
"""
from alembic import op


revision = 'gr_no_candidate_indexes'
down_revision = 'go_task_list_order'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_work_items_open', table_name='work_items')
    op.drop_index('ix_work_items_open_unit', table_name='work_items')
    op.drop_index('ix_work_items_open_user', table_name='work_items')


def downgrade() -> None:
    op.create_index('ix_work_items_open_user', 'work_items', ['status', 'candidate_user'])
    op.create_index('ix_work_items_open_unit', 'work_items', ['status', 'candidate_unit', 'candidate_role'])
    op.create_index('ix_work_items_open', 'work_items', ['status', 'candidate_role'])
