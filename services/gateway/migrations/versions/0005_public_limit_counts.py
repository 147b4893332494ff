"""public_limit_counts: the spam limit of residents' cases raised through the public API, counted
per client address and per venue in fixed windows.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('public_limit_counts',
                    sa.Column('scope', sa.String(length=20), nullable=False),
                    sa.Column('key', sa.String(length=100), nullable=False),
                    sa.Column('window_start', sa.BigInteger(), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('scope', 'key', 'window_start'))


def downgrade() -> None:
    op.drop_table('public_limit_counts')
