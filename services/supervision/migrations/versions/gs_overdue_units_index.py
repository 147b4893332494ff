"""on SQLite, ``ix_deadlines_overdue_units`` over (closed_at, due, rule, units): the overdue
board's count per unit (live deadlines of the board's rules due before today, grouped by their
units) is read from the index alone instead of looking up every overdue deadline's row. Not on
PostgreSQL, whose json column has no btree operator class and whose plan was flat without it
(docs/performance.md, "The year's report from one index")

Revision ID: gs_overdue_units_index
Revises: 0005_followup_milestones
Create Date: 2026-11-30 18:30:00
"""
from alembic import op


revision = 'gs_overdue_units_index'
down_revision = '0005_followup_milestones'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.create_index('ix_deadlines_overdue_units', 'deadlines', ['closed_at', 'due', 'rule', 'units'])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.drop_index('ix_deadlines_overdue_units', table_name='deadlines')
