"""a proposal's publish_name: whether the initiator consents to being named where the proposal is
published (公开提办双方); without it the public sees the name masked.

Existing rows: false (nobody consented to being named before the question was asked).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_name', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_column('publish_name')
