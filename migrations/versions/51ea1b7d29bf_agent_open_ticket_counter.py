"""agent open ticket counter

users.open_tickets is how many unresolved tickets (new, open, pending) the agent holds. Database
triggers on tickets keep it, so every path that writes tickets (the domain layer, bulk demo
inserts, COPY, deletes) keeps it right, and assignment reads one row instead of counting: the
capacity check becomes a conditional UPDATE of the agent's row, atomic on both databases.

PostgreSQL: one row trigger for UPDATE OF assignee_id, status (only when the count moves), and
statement triggers with transition tables for INSERT and DELETE, so a bulk load updates each
agent once instead of once per ticket. SQLite: row triggers.

SQLite caveat for later migrations: a batch operation that recreates `tickets` drops these
triggers; such a migration must create them again (see `sqlite_triggers`).

Revision ID: 51ea1b7d29bf
Revises: e82fd69feeed
Create Date: 2026-11-24 12:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '51ea1b7d29bf'
down_revision = 'e82fd69feeed'
branch_labels = None
depends_on = None

UNRESOLVED = "('new', 'open', 'pending')"

BACKFILL = f"""
UPDATE users SET open_tickets = (
    SELECT count(*) FROM tickets
    WHERE tickets.assignee_id = users.id AND tickets.status IN {UNRESOLVED})
"""

POSTGRES = [
    f"""
CREATE FUNCTION helpdesk_open_tickets_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.assignee_id IS NOT NULL AND OLD.status IN {UNRESOLVED} THEN
        UPDATE users SET open_tickets = open_tickets - 1 WHERE id = OLD.assignee_id;
    END IF;
    IF NEW.assignee_id IS NOT NULL AND NEW.status IN {UNRESOLVED} THEN
        UPDATE users SET open_tickets = open_tickets + 1 WHERE id = NEW.assignee_id;
    END IF;
    RETURN NULL;
END $$""",
    f"""
CREATE TRIGGER tickets_open_update AFTER UPDATE OF assignee_id, status ON tickets
FOR EACH ROW WHEN (
    OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
    OR (OLD.status IN {UNRESOLVED}) IS DISTINCT FROM (NEW.status IN {UNRESOLVED}))
EXECUTE FUNCTION helpdesk_open_tickets_row()""",
    f"""
CREATE FUNCTION helpdesk_open_tickets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET open_tickets = users.open_tickets + added.n
    FROM (SELECT assignee_id, count(*) AS n FROM inserted
          WHERE assignee_id IS NOT NULL AND status IN {UNRESOLVED}
          GROUP BY assignee_id) AS added
    WHERE users.id = added.assignee_id;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER tickets_open_insert AFTER INSERT ON tickets
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
EXECUTE FUNCTION helpdesk_open_tickets_inserted()""",
    f"""
CREATE FUNCTION helpdesk_open_tickets_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET open_tickets = users.open_tickets - gone.n
    FROM (SELECT assignee_id, count(*) AS n FROM deleted
          WHERE assignee_id IS NOT NULL AND status IN {UNRESOLVED}
          GROUP BY assignee_id) AS gone
    WHERE users.id = gone.assignee_id;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER tickets_open_delete AFTER DELETE ON tickets
REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
EXECUTE FUNCTION helpdesk_open_tickets_deleted()""",
]

POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS tickets_open_update ON tickets",
    "DROP TRIGGER IF EXISTS tickets_open_insert ON tickets",
    "DROP TRIGGER IF EXISTS tickets_open_delete ON tickets",
    "DROP FUNCTION IF EXISTS helpdesk_open_tickets_row()",
    "DROP FUNCTION IF EXISTS helpdesk_open_tickets_inserted()",
    "DROP FUNCTION IF EXISTS helpdesk_open_tickets_deleted()",
]


def sqlite_triggers() -> list[str]:
    """SQLite's four row triggers (a ticket enters or leaves an agent's unresolved count)."""
    held = lambda row: f"{row}.assignee_id IS NOT NULL AND {row}.status IN {UNRESOLVED}"  # noqa: E731
    moved = f"(NEW.assignee_id IS NOT OLD.assignee_id OR (NEW.status IN {UNRESOLVED}) " \
            f"IS NOT (OLD.status IN {UNRESOLVED}))"
    add = "UPDATE users SET open_tickets = open_tickets + 1 WHERE id = NEW.assignee_id;"
    sub = "UPDATE users SET open_tickets = open_tickets - 1 WHERE id = OLD.assignee_id;"
    return [
        f"CREATE TRIGGER tickets_open_insert AFTER INSERT ON tickets WHEN {held('NEW')} "
        f"BEGIN {add} END",
        f"CREATE TRIGGER tickets_open_delete AFTER DELETE ON tickets WHEN {held('OLD')} "
        f"BEGIN {sub} END",
        f"CREATE TRIGGER tickets_open_leave AFTER UPDATE OF assignee_id, status ON tickets "
        f"WHEN {held('OLD')} AND {moved} BEGIN {sub} END",
        f"CREATE TRIGGER tickets_open_enter AFTER UPDATE OF assignee_id, status ON tickets "
        f"WHEN {held('NEW')} AND {moved} BEGIN {add} END",
    ]


SQLITE_DROP = [f"DROP TRIGGER IF EXISTS tickets_open_{name}"
               for name in ("insert", "delete", "leave", "enter")]


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_tickets', sa.Integer(), server_default='0',
                                      nullable=False))
    op.execute(BACKFILL)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES if postgres else sqlite_triggers():
        op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_DROP if postgres else SQLITE_DROP:
        op.execute(statement)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('open_tickets')
