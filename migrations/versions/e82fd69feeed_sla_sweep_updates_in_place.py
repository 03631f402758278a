"""sla sweep updates in place

The sweep rewrites sla_state on every ticket whose deadline state moved. On PostgreSQL an UPDATE
that changes no indexed column and finds room on the row's page is a HOT update: no index is
touched. So sla_state leaves the indexes (the SLA filter rides on the queue-order indexes), and
tickets pages keep a fifth free (fillfactor 80; pages written from now on, the rest as they are
rewritten). Catching up a hundred thousand breaches then writes heap pages, not fourteen indexes.

Revision ID: e82fd69feeed
Revises: d3534153a5d6
Create Date: 2026-11-24 12:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e82fd69feeed'
down_revision = 'd3534153a5d6'
branch_labels = None
depends_on = None

FILLFACTOR = 80


def upgrade():
    op.drop_index("ix_tickets_sla_state", table_name="tickets")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE tickets SET (fillfactor = {FILLFACTOR})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tickets RESET (fillfactor)")
    op.create_index("ix_tickets_sla_state", "tickets", ["sla_state", "status"], unique=False)
