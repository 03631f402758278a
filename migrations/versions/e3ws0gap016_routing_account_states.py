"""routing rules on the customer's account states

A routing rule may ask for the customer's subscription state (activa, en_prueba, …) and
billing state (al_dia, pago_pendiente, …), picked from the known codes. Both optional (NULL:
any), as every other condition.

Revision ID: e3ws0gap016
Revises: e2fts0spd015
Create Date: 2026-11-30 13:15:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3ws0gap016'
down_revision = 'e2fts0spd015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('routing_rules') as batch:
        batch.add_column(sa.Column('subscription_state', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('billing_state', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('routing_rules') as batch:
        batch.drop_column('billing_state')
        batch.drop_column('subscription_state')
