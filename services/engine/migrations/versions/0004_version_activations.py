"""versions designers control: each process's versions numbered, and the active version chosen
(a log of activations: who, when, how); the newest version of every process deployed so far is
made active, as it was before

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=False, server_default='1'))
    op.create_table(
        'activations',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('process_id', sa.String(length=200), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('previous_version_id', sa.Integer(), nullable=True),
        sa.Column('how', sa.String(length=20), nullable=False),
        sa.Column('activated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('activated_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['process_versions.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activations_process_id'), ['process_id'], unique=False)

    # What was there keeps working: versions numbered in deployment order, the newest one active.
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, process_id, deployed_at FROM process_versions ORDER BY id")).fetchall()
    counts, newest = {}, {}
    for version_id, process_id, deployed_at in rows:
        counts[process_id] = counts.get(process_id, 0) + 1
        conn.execute(sa.text("UPDATE process_versions SET number = :n WHERE id = :id"),
                     {"n": counts[process_id], "id": version_id})
        newest[process_id] = (version_id, deployed_at)
    for process_id, (version_id, deployed_at) in newest.items():
        conn.execute(sa.text(
            "INSERT INTO activations (process_id, version_id, previous_version_id, how, activated_at, "
            "activated_by) VALUES (:p, :v, NULL, 'migration', :at, 'migration 0004')"),
            {"p": process_id, "v": version_id, "at": deployed_at})


def downgrade() -> None:
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activations_process_id'))
    op.drop_table('activations')
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('number')
