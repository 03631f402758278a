"""notification preferences: per person and kind, in the panel and/or by e-mail

A person's choice for each kind of notice (assigned, customer answered, mention, escalation);
no row means the kind's default (`notice_rules.NOTICE_DEFAULTS`), so nothing is backfilled.

Revision ID: d3n071f00010
Revises: d5me96e00012
Create Date: 2026-11-30 09:45:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd3n071f00010'
down_revision = 'd5me96e00012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'notification_preferences',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('panel', sa.Boolean(), nullable=False),
        sa.Column('email', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'kind', name='uq_notification_pref_user_kind'),
    )


def downgrade():
    op.drop_table('notification_preferences')
