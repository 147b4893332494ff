"""cases.converted_outcome: what became of the opinion item or proposal a case was turned into
(``{status, reason, kind, number}``: published, not filed with its reason, merged into another,
adopted...), as intake's ``converted_outcome`` message said; shown on the case and on its public
status.

Existing rows: empty (their outcome is in the case's history, ``converted_outcome``).

Revision ID: lg_case_converted_outcome
Revises: 0007_followup_milestones
Create Date: 2026-11-30 04:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'lg_case_converted_outcome'
down_revision = '0007_followup_milestones'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('converted_outcome', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('converted_outcome')
