"""unit commands, replies and the event log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:32:33.133222

The assignment domain: proposal number, round, role and status on each assignment; co-unit
inputs, replies and their co-signatures, extension requests, and the append-only event log.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignment_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assignment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_events_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_events_number'), ['number'], unique=False)

    op.create_table('co_unit_inputs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('lead_assignment_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['lead_assignment_id'], ['assignments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('co_unit_inputs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_co_unit_inputs_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_co_unit_inputs_lead_assignment_id'), ['lead_assignment_id'], unique=False)

    op.create_table('extension_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('requested_until', sa.Date(), nullable=True),
    sa.Column('months', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_requests_assignment_id'), ['assignment_id'], unique=False)

    op.create_table('replies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('drafted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drafted_by', sa.String(length=100), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by', sa.String(length=100), nullable=True),
    sa.Column('sent_back_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_back_comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('assignment_id', 'round', name='uq_replies_assignment_round')
    )
    op.create_table('reply_cosignatures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['replies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reply_id', 'assignment_id', 'revision', name='uq_reply_cosignatures_once')
    )
    with op.batch_alter_table('reply_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_cosignatures_reply_id'), ['reply_id'], unique=False)

    # Assignments made before this revision (the smoke diagram's) become single-unit assignments
    # in round 1; the submission they were for is the proposal they are for.
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_submission_id')
        batch_op.alter_column('submission_id', new_column_name='proposal_id',
                              existing_type=sa.Integer(), existing_nullable=False)
        batch_op.add_column(sa.Column('number', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('role', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('signed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('objection_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('objected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE assignments SET number = 'submission-' || proposal_id, round = 1, "
               "role = 'single', status = 'assigned'")
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        for name, type_ in (('number', sa.String(length=50)), ('round', sa.Integer()),
                            ('role', sa.String(length=10)), ('status', sa.String(length=20))):
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_index('ix_assignments_number_status', ['number', 'status'], unique=False)
        batch_op.create_index('ix_assignments_proposal_id', ['proposal_id'], unique=False)
        batch_op.create_index('ix_assignments_unit', ['unit'], unique=False)
        batch_op.create_foreign_key('fk_assignments_unit_units', 'units', ['unit'], ['code'])



def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint('fk_assignments_unit_units', type_='foreignkey')
        batch_op.drop_index('ix_assignments_unit')
        batch_op.drop_index('ix_assignments_proposal_id')
        batch_op.drop_index('ix_assignments_number_status')
        for name in ('cancelled_at', 'objected_at', 'objection_reason', 'signed_by', 'signed_at',
                     'status', 'role', 'round', 'number'):
            batch_op.drop_column(name)
        batch_op.alter_column('proposal_id', new_column_name='submission_id',
                              existing_type=sa.Integer(), existing_nullable=False)
    op.create_index('ix_assignments_submission_id', 'assignments', ['submission_id'], unique=False)

    with op.batch_alter_table('reply_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_cosignatures_reply_id'))

    op.drop_table('reply_cosignatures')
    op.drop_table('replies')
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_requests_assignment_id'))

    op.drop_table('extension_requests')
    with op.batch_alter_table('co_unit_inputs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_co_unit_inputs_lead_assignment_id'))
        batch_op.drop_index(batch_op.f('ix_co_unit_inputs_assignment_id'))

    op.drop_table('co_unit_inputs')
    with op.batch_alter_table('assignment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_events_number'))
        batch_op.drop_index(batch_op.f('ix_assignment_events_assignment_id'))

    op.drop_table('assignment_events')
