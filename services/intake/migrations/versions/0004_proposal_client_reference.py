"""a proposal's client_reference: the submission's idempotency key, unique per initiator

A redelivered RPC request (the worker died after committing, before the broker had its ack) or a
client's retry carries the same key and gets the proposal already recorded. Existing rows: null.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_reference', sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint('uq_proposals_initiator_client_reference',
                                          ['initiator', 'client_reference'])


def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_constraint('uq_proposals_initiator_client_reference', type_='unique')
        batch_op.drop_column('client_reference')
