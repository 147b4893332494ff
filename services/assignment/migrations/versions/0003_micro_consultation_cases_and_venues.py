"""micro-consultation cases and the venue directory

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:50:00.000000

Micro-consultation (微协商): towns and streets, venues (contact points, reception rooms,
consultation rooms, sector studios) and the towns they cover; cases with their yearly counter,
meetings, departments' commitments, follow-ups and the append-only case event log.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('towns',
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('venues',
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('town', sa.String(length=50), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('sector', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['town'], ['towns.code'], name='fk_venues_town_towns'),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index(op.f('ix_venues_kind'), 'venues', ['kind'], unique=False)
    op.create_table('cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('thread', sa.String(length=100), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('venue', sa.String(length=50), nullable=False),
    sa.Column('town', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('resident_name', sa.String(length=100), nullable=False),
    sa.Column('resident_phone', sa.String(length=50), nullable=True),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.Column('registered_role', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('member', sa.String(length=100), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('converted_kind', sa.String(length=20), nullable=True),
    sa.Column('converted_number', sa.String(length=50), nullable=True),
    sa.Column('satisfaction', sa.String(length=30), nullable=True),
    sa.Column('close_reason', sa.String(length=30), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('follow_up_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rulebook_version', sa.String(length=50), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['town'], ['towns.code'], name='fk_cases_town_towns'),
    sa.ForeignKeyConstraint(['venue'], ['venues.code'], name='fk_cases_venue_venues'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('year', 'sequence', name='uq_cases_year_sequence')
    )
    op.create_index(op.f('ix_cases_member'), 'cases', ['member'], unique=False)
    op.create_index(op.f('ix_cases_status'), 'cases', ['status'], unique=False)
    op.create_index(op.f('ix_cases_thread'), 'cases', ['thread'], unique=False)
    op.create_index(op.f('ix_cases_venue'), 'cases', ['venue'], unique=False)
    op.create_table('venue_coverage',
    sa.Column('venue', sa.String(length=50), nullable=False),
    sa.Column('town', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['town'], ['towns.code'], name='fk_venue_coverage_town_towns'),
    sa.ForeignKeyConstraint(['venue'], ['venues.code'], name='fk_venue_coverage_venue_venues'),
    sa.PrimaryKeyConstraint('venue', 'town')
    )
    op.create_index(op.f('ix_venue_coverage_town'), 'venue_coverage', ['town'], unique=False)
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_case_events_case_id'), 'case_events', ['case_id'], unique=False)
    op.create_table('case_follow_ups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('actions_done', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('checked_by', sa.String(length=100), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_case_follow_ups_case_id'), 'case_follow_ups', ['case_id'], unique=False)
    op.create_table('case_meetings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('form', sa.String(length=20), nullable=False),
    sa.Column('venue', sa.String(length=50), nullable=True),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('attendees', sa.JSON(), nullable=False),
    sa.Column('units', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['venue'], ['venues.code'], name='fk_case_meetings_venue_venues'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_case_meetings_case_id'), 'case_meetings', ['case_id'], unique=False)
    op.create_table('case_commitments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actions', sa.Text(), nullable=True),
    sa.Column('done_by', sa.Date(), nullable=True),
    sa.Column('contact', sa.String(length=100), nullable=True),
    sa.Column('committed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('committed_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['case_meetings.id'], ),
    sa.ForeignKeyConstraint(['unit'], ['units.code'], name='fk_case_commitments_unit_units'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'unit', name='uq_case_commitments_meeting_unit')
    )
    op.create_index(op.f('ix_case_commitments_case_id'), 'case_commitments', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_commitments_unit'), 'case_commitments', ['unit'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_case_commitments_unit'), table_name='case_commitments')
    op.drop_index(op.f('ix_case_commitments_case_id'), table_name='case_commitments')
    op.drop_table('case_commitments')
    op.drop_index(op.f('ix_case_meetings_case_id'), table_name='case_meetings')
    op.drop_table('case_meetings')
    op.drop_index(op.f('ix_case_follow_ups_case_id'), table_name='case_follow_ups')
    op.drop_table('case_follow_ups')
    op.drop_index(op.f('ix_case_events_case_id'), table_name='case_events')
    op.drop_table('case_events')
    op.drop_index(op.f('ix_venue_coverage_town'), table_name='venue_coverage')
    op.drop_table('venue_coverage')
    op.drop_index(op.f('ix_cases_venue'), table_name='cases')
    op.drop_index(op.f('ix_cases_thread'), table_name='cases')
    op.drop_index(op.f('ix_cases_status'), table_name='cases')
    op.drop_index(op.f('ix_cases_member'), table_name='cases')
    op.drop_table('cases')
    op.drop_index(op.f('ix_venues_kind'), table_name='venues')
    op.drop_table('venues')
    op.drop_table('towns')
    op.drop_table('case_counters')
