"""API tokens expire: expires_at (null for a token made before, which is expired at once by the
upgrade: it was never meant to live forever) and kind (person or system).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='person'))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    # Tokens issued before expiry existed end now: issue new ones (`ztc token ...`).
    op.execute(sa.text("UPDATE api_tokens SET expires_at = created_at WHERE expires_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('kind')
