"""ix_notifications_recipient_id (recipient, id) in place of ix_notifications_recipient
(recipient): an inbox is read newest first, a page at a time, per address (``GET
/api/notifications?limit=&before=``), which reads this index backwards from the address's newest
notification and stops at the page. The index on the recipient alone served only the equality,
and a role's inbox (one notice for every proposal) was sorted whole to answer a look at it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 01:05:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient_id', ['recipient', 'id'], unique=False)
        batch_op.drop_index('ix_notifications_recipient')


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient', ['recipient'], unique=False)
        batch_op.drop_index('ix_notifications_recipient_id')
