"""a micro-consultation case's client_reference: the registration's idempotency key, unique per registrar

A redelivered RPC request or a client's retry carries the same key and gets the row already
recorded. Existing rows: null.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_reference', sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint('uq_cases_registered_by_client_reference', ['registered_by', 'client_reference'])


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('uq_cases_registered_by_client_reference', type_='unique')
        batch_op.drop_column('client_reference')
