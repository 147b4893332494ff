"""fulfilment of per-unit deadlines: when and by which event a unit signed or sent its input

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unit_facts',
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=False),
    sa.Column('rule', sa.String(length=50), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('heard_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadlines.id'], name='fk_unit_facts_deadline_id_deadlines'),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('unit_facts', schema=None) as batch_op:
        batch_op.create_index('ix_unit_facts_number', ['number'], unique=False)
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('fulfilled_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_unit_facts_number')
    op.drop_table('unit_facts')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_column('fulfilled_by')
        batch_op.drop_column('fulfilled_at')
