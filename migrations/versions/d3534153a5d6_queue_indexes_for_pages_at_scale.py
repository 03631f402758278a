"""queue indexes for pages at scale

The queue orders by (sla_due_at IS NULL, sla_due_at, id); these indexes hold that order, then the
columns the saved views and agent visibility filter on, so page 1, page 200 and the capped tab
counts read a bounded slice of an index instead of sorting or counting a million tickets.
On PostgreSQL, extended statistics tell the planner that unassigned or team tickets are mostly
unresolved ones (without them it sorts every new ticket for the "Sin asignar" tab). Both
databases need fresh statistics to choose these indexes (SQLite otherwise unions the three
visibility conditions and sorts): ANALYZE runs here, and should run again as the table grows.

Revision ID: d3534153a5d6
Revises: e7970274cbf4
Create Date: 2026-11-24 09:19:48.823135

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3534153a5d6'
down_revision = 'e7970274cbf4'
branch_labels = None
depends_on = None

ORDER = [sa.text("(sla_due_at IS NULL)"), "sla_due_at", "id"]
INDEXES = {
    "ix_tickets_queue": [*ORDER, "status", "team_id", "assignee_id"],
    "ix_tickets_status_queue": ["status", *ORDER, "team_id", "assignee_id"],
    "ix_tickets_assignee_queue": ["assignee_id", *ORDER, "status", "team_id"],
}
STATISTICS = {
    "st_tickets_assignee_status": "assignee_id, status",
    "st_tickets_team_status": "team_id, status",
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "tickets", columns, unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for name, columns in STATISTICS.items():
            op.execute(f"CREATE STATISTICS {name} (mcv) ON {columns} FROM tickets")
    op.execute("ANALYZE tickets")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
    for name in reversed(list(INDEXES)):
        op.drop_index(name, table_name="tickets")
