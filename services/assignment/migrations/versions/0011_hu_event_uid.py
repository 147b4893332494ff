"""assignment_events.uid: a random key per entry that the messages it causes are named by
(``event_id`` of a unit's events, the engine's message id, the domain events' and notices' ids).
The row id alone repeats after the database is restored from a backup or made anew on the same
broker, and a unit's system that drops events whose event_id it has seen would drop new ones.
The rows already there keep None: their messages went out named by the row id, which stays their
name (``records.event_key``).

Revision ID: hu_event_uid
Revises: gt_assignments_unit_id
Create Date: 2026-12-02 06:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'hu_event_uid'
down_revision = 'gt_assignments_unit_id'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assignment_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assignment_events', schema=None) as batch_op:
        batch_op.drop_column('uid')
