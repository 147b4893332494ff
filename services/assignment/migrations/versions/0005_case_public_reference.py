"""a micro-consultation case's public_reference: the unguessable reference a resident follows the
case by (GET /api/public/consultations/{reference}); case numbers are sequential and guessable.

Existing rows: null (a case registered before has no public reference).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_reference', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint('uq_cases_public_reference', ['public_reference'])


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('uq_cases_public_reference', type_='unique')
        batch_op.drop_column('public_reference')
