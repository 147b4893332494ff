"""a handling score's role: answering (the handling checklist) or co (a co-unit's checklist)

Every score before it was an answering unit's.

Revision ID: ss_0008_handling_score_roles
Revises: 0007_rating_appeals
Create Date: 2026-11-30 07:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'ss_0008_handling_score_roles'
down_revision = '0007_rating_appeals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handling_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=20), server_default='answering', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('handling_scores', schema=None) as batch_op:
        batch_op.drop_column('role')
