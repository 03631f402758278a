"""breach digests

A notice can speak for several tickets: when one sweep breaches more than a few tickets of a team,
each person concerned gets one notice for all of them (team_id, count) instead of one per ticket.
notifications.ticket_id gets the index its cascading delete needs.

Revision ID: a112773955c7
Revises: 51ea1b7d29bf
Create Date: 2026-11-24 12:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a112773955c7'
down_revision = '51ea1b7d29bf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('count', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_notifications_team_id_teams'), 'teams',
                                    ['team_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_notifications_ticket_id'), ['ticket_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_ticket_id'))
        batch_op.drop_constraint(batch_op.f('fk_notifications_team_id_teams'),
                                 type_='foreignkey')
        batch_op.drop_column('count')
        batch_op.drop_column('team_id')
