"""user sessions

Server-side sessions (helpdesk/sessions.py): one row per signed-in browser, holding SHA-256
digests of the session cookie's token and of the remember-me validator. A new table only, so
SQLite and PostgreSQL take the same path. Sessions from before this revision carried the
user's id (and Flask-Login's `id|HMAC` remember cookie); no row matches them, so everyone
signs in once more after the upgrade.

Revision ID: c1a5e55e0001
Revises: b7c3e9a41f20
Create Date: 2026-11-30 06:35:36.875215

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1a5e55e0001'
down_revision = 'b7c3e9a41f20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('remember_selector', sa.String(length=32), nullable=True),
    sa.Column('remember_hash', sa.String(length=64), nullable=True),
    sa.Column('previous_remember_hash', sa.String(length=64), nullable=True),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('remember_selector', name=op.f('uq_user_sessions_remember_selector')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
