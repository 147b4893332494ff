"""an opinion item's adoption may be published: opinion_reports.publishable, recorded with the
adoption; the public list of adopted items shows only adoptions so marked.

Existing rows: false (nobody marked them publishable).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 22:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('opinion_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publishable', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('opinion_reports', schema=None) as batch_op:
        batch_op.drop_column('publishable')
