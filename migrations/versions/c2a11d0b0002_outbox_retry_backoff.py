"""outbox retry with backoff

Each pending intent says when the sweep should hand it to Redis again (`next_attempt_at`,
indexed with `state` instead of the old `state, enqueued_at`), when its current run started
(`started_at`, the lease a dead worker lets expire), when it failed and when someone last
retried it. Pending rows get a due time now, so the sweep keeps finding them. A new state,
'discarded', fits the existing VARCHAR(20) (no CHECK constraint: native_enum=False,
create_constraint off), so the column itself is unchanged. Only `job_intents` changes.

Revision ID: c2a11d0b0002
Revises: c1a5e55e0001
Create Date: 2026-11-30 06:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c2a11d0b0002'
down_revision = 'c1a5e55e0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retried_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_job_intents_state')
        batch_op.create_index('ix_job_intents_state_due', ['state', 'next_attempt_at'],
                              unique=False)
    op.execute("UPDATE job_intents SET next_attempt_at = COALESCE(enqueued_at, created_at) "
               "WHERE state = 'pending'")


def downgrade():
    op.execute("UPDATE job_intents SET state = 'failed' WHERE state = 'discarded'")
    with op.batch_alter_table('job_intents', schema=None) as batch_op:
        batch_op.drop_index('ix_job_intents_state_due')
        batch_op.create_index('ix_job_intents_state', ['state', 'enqueued_at'], unique=False)
        batch_op.drop_column('retried_at')
        batch_op.drop_column('failed_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('next_attempt_at')
