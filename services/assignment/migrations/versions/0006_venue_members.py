"""venue_members: which member serves at which venue (a contact point's members), kept in the venue
directory, so a resident's case raised there reaches them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('venue_members',
                    sa.Column('venue', sa.String(length=50), nullable=False),
                    sa.Column('member', sa.String(length=100), nullable=False),
                    sa.ForeignKeyConstraint(['venue'], ['venues.code'], name='fk_venue_members_venue_venues'),
                    sa.PrimaryKeyConstraint('venue', 'member'))
    op.create_index(op.f('ix_venue_members_member'), 'venue_members', ['member'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_venue_members_member'), table_name='venue_members')
    op.drop_table('venue_members')
