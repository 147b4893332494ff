"""a co-signer's publish_name: whether they consented, when co-signing, to being named where the
proposal is published (as the initiator's ``proposals.publish_name``); without it the public sees
the name masked.

Existing rows: false (no co-signer was asked before).

Revision ID: lg_cosigner_publish_name
Revises: 0009_duplicate_index
Create Date: 2026-11-30 04:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'lg_cosigner_publish_name'
down_revision = '0009_duplicate_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cosigners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_name', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('cosigners', schema=None) as batch_op:
        batch_op.drop_column('publish_name')
