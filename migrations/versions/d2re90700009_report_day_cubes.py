"""report day cubes

The Informes page reads day cubes (per day and team × category × agent × priority × channel,
with counts, sums and a quantile sketch) instead of aggregating the narrow facts; the facts get
the day and cell the cubes are keyed by, and keys (ticket, row). The backlog is kept per hour,
so a viewer's day ends where theirs does. The never-filled report_agent_day and
report_category_day go. Every report table is derived: they are dropped and created again
empty, and the refresh state is cleared, so the next refresh rebuilds them all.

Revision ID: d2re90700009
Revises: d6se4rc00013
Create Date: 2026-11-30 10:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd2re90700009'
down_revision = 'd6se4rc00013'
branch_labels = None
depends_on = None

OLD = ('report_backlog', 'report_escalations', 'report_activity', 'report_ratings',
       'report_rounds', 'report_tickets')
CUBES = ('report_response_day', 'report_resolution_day', 'report_rating_day',
         'report_activity_day')


def _dims():
    return [
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('priority', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
    ]


def _cell():
    return [sa.Column('day', sa.Date(), nullable=False),
            sa.Column('cell', sa.String(length=80), nullable=False), *_dims()]


def _counts(*names):
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _cell_index(table):
    op.create_index(f'ix_{table}_cell', table, ['day', 'cell'])


def upgrade():
    for table in ('report_agent_day', 'report_category_day', *OLD):
        op.drop_table(table)
    op.create_table(
        'report_tickets',
        *_cell(),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('first_response_s', sa.Float(), nullable=True),
        sa.Column('first_response_met', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id'),
    )
    op.create_index('ix_report_tickets_created_at', 'report_tickets', ['created_at'])
    _cell_index('report_tickets')
    op.create_table(
        'report_rounds',
        *_cell(),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolution_category_id', sa.Integer(), nullable=True),
        sa.Column('resolution_s', sa.Float(), nullable=False),
        sa.Column('reopened', sa.Boolean(), nullable=False),
        sa.Column('confirmation_requested', sa.Boolean(), nullable=False),
        sa.Column('confirmed', sa.Boolean(), nullable=True),
        sa.Column('survey_sent', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('ticket_id', 'round_id'),
    )
    op.create_index('ix_report_rounds_resolved_at', 'report_rounds', ['resolved_at'])
    _cell_index('report_rounds')
    op.create_table(
        'report_ratings',
        *_cell(),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('rating_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolution_category_id', sa.Integer(), nullable=True),
        sa.Column('score', sa.SmallInteger(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('ticket_id', 'rating_id'),
    )
    op.create_index('ix_report_ratings_created_at', 'report_ratings', ['created_at'])
    _cell_index('report_ratings')
    op.create_table(
        'report_activity',
        *_cell(),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('ticket_id', 'message_id'),
    )
    _cell_index('report_activity')
    op.create_table(
        'report_escalations',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('escalation_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason_id', sa.Integer(), nullable=False),
        sa.Column('to_team_id', sa.Integer(), nullable=True),
        *_dims(),
        sa.PrimaryKeyConstraint('ticket_id', 'escalation_id'),
    )
    op.create_index('ix_report_escalations_created', 'report_escalations', ['created_at'])
    measures = {
        'report_response_day': [*_counts('tickets', 'answered'),
                                sa.Column('sum_s', sa.Float(), nullable=True),
                                *_counts('met', 'judged'),
                                sa.Column('sketch', sa.LargeBinary(), nullable=True)],
        'report_resolution_day': [*_counts('rounds'),
                                  sa.Column('sum_s', sa.Float(), nullable=True),
                                  *_counts('reopened', 'confirm_asked', 'confirmed', 'answered',
                                           'survey_sent'),
                                  sa.Column('sketch', sa.LargeBinary(), nullable=True)],
        'report_rating_day': [sa.Column('resolution_category_id', sa.Integer(), nullable=True),
                              *_counts('ratings', 'score_1', 'score_2', 'score_3', 'score_4',
                                       'score_5')],
        'report_activity_day': _counts('replies', 'notes'),
    }
    for table in CUBES:
        op.create_table(table, sa.Column('id', sa.Integer(), nullable=False), *_cell(),
                        *measures[table], sa.PrimaryKeyConstraint('id'))
        _cell_index(table)
    op.create_table(
        'report_backlog',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('tickets', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_backlog_hour', 'report_backlog', ['hour'])
    op.create_table(
        'report_calendar_spans',
        sa.Column('calendar_id', sa.Integer(), nullable=False),
        sa.Column('begin_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('before_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('calendar_id', 'begin_at'),
    )
    op.execute("DELETE FROM settings WHERE key = 'reports.state'")


def downgrade():
    for table in ('report_calendar_spans', *CUBES, *OLD):
        op.drop_table(table)
    op.execute("DELETE FROM settings WHERE key = 'reports.state'")
    old_dims = _dims
    op.create_table(
        'report_tickets',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        *old_dims(),
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
        *old_dims(),
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
        *old_dims(),
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
        *old_dims(),
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
    for name, column in (('report_agent_day', 'agent_id'),
                         ('report_category_day', 'category_id')):
        target = 'users' if column == 'agent_id' else 'categories'
        op.create_table(
            name,
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('day', sa.Date(), nullable=False),
            sa.Column(column, sa.Integer(), nullable=False),
            sa.Column('tickets_resolved', sa.Integer(), nullable=False),
            sa.Column('avg_first_response_s', sa.Integer(), nullable=True),
            sa.Column('avg_satisfaction', sa.Float(), nullable=True),
            sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint([column], [f'{target}.id'], ondelete='CASCADE'),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('day', column),
        )
