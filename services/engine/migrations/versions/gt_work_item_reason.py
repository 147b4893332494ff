"""a work item's ``reason``: the business error the diagram caught in the step that opened the
item (a service refused what the last step sent it), so the person asked for the task (again) is
told why

Revision ID: gt_work_item_reason
Revises: gr_no_candidate_indexes
Create Date: 2026-12-03 21:40:00
"""
import sqlalchemy as sa
from alembic import op


revision = 'gt_work_item_reason'
down_revision = 'gr_no_candidate_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('work_items', sa.Column('reason', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('work_items') as batch:
        batch.drop_column('reason')
