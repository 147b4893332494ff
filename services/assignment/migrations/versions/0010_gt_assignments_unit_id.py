"""ix_assignments_unit_id (unit, id) in place of ix_assignments_unit (unit): a unit's assignments are
listed newest first a page at a time (``GET /api/assignments``), which reads this index backwards
from the unit's newest; the index on the unit alone served only the equality, so PostgreSQL sorted
every assignment of the unit to answer one page. Every lookup by unit still finds its rows here.

Revision ID: gt_assignments_unit_id
Revises: ff_contacts
Create Date: 2026-12-01 00:40:00
"""
from alembic import op


revision = 'gt_assignments_unit_id'
down_revision = 'ff_contacts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_unit_id', ['unit', 'id'], unique=False)
        batch_op.drop_index('ix_assignments_unit')


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_unit', ['unit'], unique=False)
        batch_op.drop_index('ix_assignments_unit_id')
