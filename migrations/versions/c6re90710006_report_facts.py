"""report facts

The report jobs keep one narrow row per ticket, resolution round, rating, staff message and
escalation, with the dimensions the Informes filters use; the page reads only these. An index
on tickets.updated_at lets the incremental refresh find changed tickets without a scan
(created with CREATE INDEX, so SQLite's batch mode never rebuilds `tickets`).

Revision ID: c6re90710006
Revises: c4c105e00004
Create Date: 2026-11-30 07:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c6re90710006'
down_revision = 'c4c105e00004'
branch_labels = None
depends_on = None


def _dims():
    return [
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('priority', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
    ]


def upgrade():
    op.create_index('ix_tickets_updated', 'tickets', ['updated_at'])
    op.create_table(
        'report_tickets',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        *_dims(),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('first_response_s', sa.Float(), nullable=True),
        sa.Column('first_response_met', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id'),
    )
    op.create_index('ix_report_tickets_created', 'report_tickets', ['created_at'])
    op.create_index('ix_report_tickets_team_created', 'report_tickets',
                    ['team_id', 'created_at'])
    op.create_table(
        'report_rounds',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
        *_dims(),
        sa.Column('resolution_category_id', sa.Integer(), nullable=True),
        sa.Column('resolution_s', sa.Float(), nullable=False),
        sa.Column('reopened', sa.Boolean(), nullable=False),
        sa.Column('confirmation_requested', sa.Boolean(), nullable=False),
        sa.Column('confirmed', sa.Boolean(), nullable=True),
        sa.Column('survey_sent', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['resolution_rounds.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id'),
    )
    op.create_index('ix_report_rounds_resolved', 'report_rounds', ['resolved_at'])
    op.create_index('ix_report_rounds_ticket_id', 'report_rounds', ['ticket_id'])
    op.create_table(
        'report_ratings',
        sa.Column('rating_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        *_dims(),
        sa.Column('resolution_category_id', sa.Integer(), nullable=True),
        sa.Column('score', sa.SmallInteger(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['rating_id'], ['satisfaction_ratings.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('rating_id'),
    )
    op.create_index('ix_report_ratings_created', 'report_ratings', ['created_at'])
    op.create_index('ix_report_ratings_ticket_id', 'report_ratings', ['ticket_id'])
    op.create_table(
        'report_activity',
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('priority', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('message_id'),
    )
    op.create_index('ix_report_activity_created', 'report_activity', ['created_at'])
    op.create_index('ix_report_activity_ticket_id', 'report_activity', ['ticket_id'])
    op.create_table(
        'report_escalations',
        sa.Column('escalation_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason_id', sa.Integer(), nullable=False),
        sa.Column('to_team_id', sa.Integer(), nullable=True),
        *_dims(),
        sa.ForeignKeyConstraint(['escalation_id'], ['escalations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('escalation_id'),
    )
    op.create_index('ix_report_escalations_created', 'report_escalations', ['created_at'])
    op.create_index('ix_report_escalations_ticket_id', 'report_escalations', ['ticket_id'])
    op.create_table(
        'report_backlog',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('tickets', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_backlog_day', 'report_backlog', ['day'])


def downgrade():
    for table in ('report_backlog', 'report_escalations', 'report_activity', 'report_ratings', 'report_rounds',
                  'report_tickets'):
        op.drop_table(table)
    op.drop_index('ix_tickets_updated', table_name='tickets')
