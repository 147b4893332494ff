"""rating_round_cancellation: the operator's cancellation of a proposal's process that closed a
rating round (outcome ``cancelled``) or ended an appealable round's appeal window or undecided appeal.

Revision ID: 0009_rating_round_cancellation
Revises: ss_0008_handling_score_roles
Create Date: 2026-12-01 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_rating_round_cancellation'
down_revision = 'ss_0008_handling_score_roles'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rating_rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rating_rounds', schema=None) as batch_op:
        batch_op.drop_column('cancelled')
