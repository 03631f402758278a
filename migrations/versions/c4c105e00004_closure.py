"""closure

Guided closure keeps one row per resolution round (who resolved, when, the categories, closing
notes, the customer's confirmation, a reopen, the survey, a follow-up ticket past the reopen
window). Satisfaction ratings become one per round (not per ticket), credited to the agent,
team and resolution category of that round; ratings given before rounds existed keep a NULL
round. A resolution category may fit one ticket category. `tickets` is not touched, so SQLite's
batch mode never rebuilds it (its open-ticket triggers stay).

Revision ID: c4c105e00004
Revises: c3e5ca1a0003
Create Date: 2026-11-30 07:01:59.902963

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4c105e00004'
down_revision = 'c3e5ca1a0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('resolution_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('resolution_category_id', sa.Integer(), nullable=False),
    sa.Column('closing_notes', sa.Text(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolution_seconds', sa.Integer(), nullable=False),
    sa.Column('confirmation_requested', sa.Boolean(), nullable=False),
    sa.Column('confirmation_answer', sa.String(length=10), nullable=True),
    sa.Column('confirmation_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened_by', sa.String(length=20), nullable=True),
    sa.Column('survey_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('survey_skipped', sa.String(length=20), nullable=True),
    sa.Column('follow_up_ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_resolution_rounds_agent_id_users')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_resolution_rounds_category_id_categories')),
    sa.ForeignKeyConstraint(['follow_up_ticket_id'], ['tickets.id'], name=op.f('fk_resolution_rounds_follow_up_ticket_id_tickets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolution_category_id'], ['resolution_categories.id'], name=op.f('fk_resolution_rounds_resolution_category_id_resolution_categories')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_resolution_rounds_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_resolution_rounds_team_id_teams')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_resolution_rounds_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resolution_rounds')),
    sa.UniqueConstraint('ticket_id', 'number', name=op.f('uq_resolution_rounds_ticket_id'))
    )
    with op.batch_alter_table('resolution_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_resolution_rounds_resolved', ['resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resolution_rounds_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('resolution_categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_resolution_categories_category_id_categories'), 'categories', ['category_id'], ['id'])

    with op.batch_alter_table('satisfaction_ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('agent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolution_category_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_satisfaction_ratings_ticket_id'), type_='unique')
        batch_op.create_index(batch_op.f('ix_satisfaction_ratings_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_satisfaction_ratings_round_id'), ['round_id'])
        batch_op.create_foreign_key(batch_op.f('fk_satisfaction_ratings_round_id_resolution_rounds'), 'resolution_rounds', ['round_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_satisfaction_ratings_team_id_teams'), 'teams', ['team_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_satisfaction_ratings_resolution_category_id_resolution_categories'), 'resolution_categories', ['resolution_category_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_satisfaction_ratings_agent_id_users'), 'users', ['agent_id'], ['id'])



def downgrade():
    with op.batch_alter_table('satisfaction_ratings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_satisfaction_ratings_agent_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_satisfaction_ratings_resolution_category_id_resolution_categories'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_satisfaction_ratings_team_id_teams'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_satisfaction_ratings_round_id_resolution_rounds'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_satisfaction_ratings_round_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_satisfaction_ratings_ticket_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_satisfaction_ratings_ticket_id'), ['ticket_id'])
        batch_op.drop_column('resolution_category_id')
        batch_op.drop_column('team_id')
        batch_op.drop_column('agent_id')
        batch_op.drop_column('round_id')

    with op.batch_alter_table('resolution_categories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_resolution_categories_category_id_categories'), type_='foreignkey')
        batch_op.drop_column('category_id')

    with op.batch_alter_table('resolution_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resolution_rounds_ticket_id'))
        batch_op.drop_index('ix_resolution_rounds_resolved')

    op.drop_table('resolution_rounds')
