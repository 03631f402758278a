"""reply recipient

A reply keeps the address it was written to (messages.recipient), so changing a customer's
e-mail never redirects a reply already queued. Only `messages` changes: the batch rebuild on
SQLite never touches `tickets` or its open-ticket triggers (51ea1b7d29bf).

Revision ID: b7c3e9a41f20
Revises: 3c51f0a4d2b7
Create Date: 2026-11-30 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c3e9a41f20'
down_revision = '3c51f0a4d2b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('recipient')
