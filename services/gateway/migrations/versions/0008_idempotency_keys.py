"""idempotency_keys: each Idempotency-Key a caller gave a creating request that succeeded, with the
request's fingerprint, so another request under the same key is refused (422) instead of being
answered the first one's result (services/gateway/idempotency.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
                    sa.Column('user', sa.String(length=100), nullable=False),
                    sa.Column('key', sa.String(length=100), nullable=False),
                    sa.Column('fingerprint', sa.String(length=64), nullable=False),
                    sa.Column('path', sa.String(length=300), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('user', 'key'))


def downgrade() -> None:
    op.drop_table('idempotency_keys')
