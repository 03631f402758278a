"""saved views

The queue's saved views (helpdesk/view_tables.py): a person's named filters, search and sort,
optionally shared with one of their teams; and an index for the queue's *Escalados* count
(escalation_level > 0 scanned the whole table). A new table and a plain CREATE INDEX: SQLite
and PostgreSQL take the same path and the search triggers on `tickets` are untouched.

Revision ID: d4qv1ew00011
Revises: d3n071f00010
Create Date: 2026-11-30 09:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4qv1ew00011'
down_revision = 'd3n071f00010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('query', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_saved_views_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_saved_views_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_views')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_saved_views_owner_id'))
    )
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_views_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_saved_views_team_id'), ['team_id'], unique=False)
    op.create_index('ix_tickets_escalation', 'tickets',
                    ['escalation_level', 'status', 'team_id', 'assignee_id'], unique=False)


def downgrade():
    op.drop_index('ix_tickets_escalation', table_name='tickets')
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_views_team_id'))
        batch_op.drop_index(batch_op.f('ix_saved_views_owner_id'))
    op.drop_table('saved_views')
