"""open ticket counter: lock order and a recount under lock

Two repairs to the counter of 51ea1b7d29bf:

- The statement triggers for bulk INSERT and DELETE lock the agents' rows in id order before
  updating them, the order assignment takes them in, so a bulk load never deadlocks with it.
- The first backfill ran before the triggers existed, with tickets still writable: a ticket
  assigned in between was missed. The counts are taken again here under every user's row lock
  (PostgreSQL; taken in id order, as assignment does), so an assignment running meanwhile
  either is in the count or moves it after this migration commits. (Locking the tickets table
  instead would deadlock with an assigner that holds an agent's row.)

Revision ID: 3c51f0a4d2b7
Revises: a112773955c7
Create Date: 2026-11-24 14:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c51f0a4d2b7'
down_revision = 'a112773955c7'
branch_labels = None
depends_on = None

UNRESOLVED = "('new', 'open', 'pending')"

RECOUNT = f"""
UPDATE users SET open_tickets = (
    SELECT count(*) FROM tickets
    WHERE tickets.assignee_id = users.id AND tickets.status IN {UNRESOLVED})
"""


def statement_function(name: str, table: str, sign: str, lock_first: bool) -> str:
    lock = (f"PERFORM 1 FROM users WHERE id IN (SELECT assignee_id FROM {table}) "
            f"ORDER BY id FOR NO KEY UPDATE;" if lock_first else "")
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {lock}
    UPDATE users SET open_tickets = users.open_tickets {sign} moved.n
    FROM (SELECT assignee_id, count(*) AS n FROM {table}
          WHERE assignee_id IS NOT NULL AND status IN {UNRESOLVED}
          GROUP BY assignee_id) AS moved
    WHERE users.id = moved.assignee_id;
    RETURN NULL;
END $$"""


def functions(lock_first: bool) -> list[str]:
    return [statement_function("helpdesk_open_tickets_inserted", "inserted", "+", lock_first),
            statement_function("helpdesk_open_tickets_deleted", "deleted", "-", lock_first)]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT id FROM users ORDER BY id FOR NO KEY UPDATE")
        for statement in functions(lock_first=True):
            op.execute(statement)
    op.execute(RECOUNT)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in functions(lock_first=False):
            op.execute(statement)
