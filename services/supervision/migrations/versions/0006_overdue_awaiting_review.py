"""on SQLite, ``ix_deadlines_overdue_units`` over (closed_at, fulfilled_at, due, rule, units): the
overdue board leaves out a reply submitted and awaiting staff's review (fulfilled, still open:
services/supervision/reply_review.py), and its count per unit is still read from the index alone

Revision ID: 0006_overdue_awaiting_review
Revises: gs_overdue_units_index
Create Date: 2026-12-03 16:20:00
"""
from alembic import op


revision = '0006_overdue_awaiting_review'
down_revision = 'gs_overdue_units_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.drop_index('ix_deadlines_overdue_units', table_name='deadlines')
        op.create_index(
            'ix_deadlines_overdue_units', 'deadlines', ['closed_at', 'fulfilled_at', 'due', 'rule', 'units']
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.drop_index('ix_deadlines_overdue_units', table_name='deadlines')
        op.create_index('ix_deadlines_overdue_units', 'deadlines', ['closed_at', 'due', 'rule', 'units'])
