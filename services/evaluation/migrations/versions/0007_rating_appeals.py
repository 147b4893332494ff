"""rating_appeals: a re-handled reply rated 不满意 may be appealed until the round's appeal_due; the
appeals with the committee's decision.

Revision ID: 0007_rating_appeals
Revises: 0006_quality_checklist
Create Date: 2026-11-30 00:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_rating_appeals'
down_revision = '0006_quality_checklist'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rating_rounds') as batch:
        batch.add_column(sa.Column('appeal_due', sa.DateTime(timezone=True), nullable=True))
    op.create_table('appeals',
                    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
                    sa.Column('number', sa.String(length=50), nullable=False),
                    sa.Column('round', sa.Integer(), nullable=False),
                    sa.Column('appellant', sa.String(length=100), nullable=False),
                    sa.Column('reason', sa.Text(), nullable=False),
                    sa.Column('lodged_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('decision', sa.String(length=20), nullable=True),
                    sa.Column('decision_reason', sa.Text(), nullable=True),
                    sa.Column('decided_by', sa.String(length=100), nullable=True),
                    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('number', 'round', name='uq_appeals_number_round'))
    op.create_index(op.f('ix_appeals_number'), 'appeals', ['number'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_appeals_number'), table_name='appeals')
    op.drop_table('appeals')
    with op.batch_alter_table('rating_rounds') as batch:
        batch.drop_column('appeal_due')
