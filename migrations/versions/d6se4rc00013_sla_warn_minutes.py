"""SLA policy: an absolute floor for *Próximo a vencer* (warn_minutes); a narrow search heap


A deadline turns amber with 25 % of its target left or `warn_minutes` left, whichever comes
first (30 by default: *Urgente*'s hour went amber only 15 minutes before the breach). The
running tickets of policies without a business calendar get their warning time moved now
(wall-clock minutes are business minutes there); the others at their next recompute. The sweep
turns the moved ones amber on its next run.

On PostgreSQL the search table `ticket_fts` is rebuilt with `toast_tuple_target = 128`: each
document and thread text moves out of line, so a row in the table itself is ~100 bytes instead
of ~1 KB. Finding the newest tickets that hold a query's words (a bitmap scan of the GIN index,
then the rows) then reads ~1/10 of the pages (at a million tickets: 49,000 pages for a phrase's
60,000 candidates before), and only the few hundred kept are read in full.

`sla_policies` gains a nullable column with `op.add_column`, outside batch mode: no SQLite
table is rebuilt (the search index's triggers on tickets/messages/customers stay).

Revision ID: d6se4rc00013
Revises: d4qv1ew00011
Create Date: 2026-11-30 10:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd6se4rc00013'
down_revision = 'd4qv1ew00011'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sla_policies", sa.Column("warn_minutes", sa.Integer(), nullable=True,
                                            server_default="30"))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        floor = "t.sla_due_at - make_interval(mins => coalesce(p.warn_minutes, 30))"
    else:  # SQLite stores UTC datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text
        floor = ("strftime('%Y-%m-%d %H:%M:%f000', t.sla_due_at, "
                 "'-' || coalesce(p.warn_minutes, 30) || ' minutes')")
    op.execute(f"""
        UPDATE tickets SET sla_warn_at = (
            SELECT {floor} FROM tickets t JOIN sla_policies p ON p.priority = t.priority
            WHERE t.id = tickets.id)
        WHERE sla_due_at IS NOT NULL AND sla_warn_at IS NOT NULL
          AND priority IN (SELECT priority FROM sla_policies WHERE calendar_id IS NULL)
          AND sla_warn_at > (
            SELECT {floor} FROM tickets t JOIN sla_policies p ON p.priority = t.priority
            WHERE t.id = tickets.id)
    """)


    if bind.dialect.name == "postgresql":
        _narrow_search_heap()


def _narrow_search_heap():
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # the GIN builds, at a million rows
    op.execute("CREATE TABLE ticket_fts_narrow (ticket_id integer NOT NULL, names text NOT NULL, "
               "body text NOT NULL, doc tsvector NOT NULL) WITH (toast_tuple_target = 128)")
    op.execute("INSERT INTO ticket_fts_narrow SELECT ticket_id, names, body, doc FROM ticket_fts "
               "ORDER BY ticket_id")
    op.execute("DROP TABLE ticket_fts")
    op.execute("ALTER TABLE ticket_fts_narrow RENAME TO ticket_fts")
    op.execute("ALTER TABLE ticket_fts ADD CONSTRAINT ticket_fts_pkey PRIMARY KEY (ticket_id)")
    op.execute("CREATE INDEX ix_ticket_fts_doc ON ticket_fts USING gin (doc)")
    op.execute("CREATE INDEX ix_ticket_fts_names ON ticket_fts USING gin (names gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ticket_fts RESET (toast_tuple_target)")
    op.drop_column("sla_policies", "warn_minutes")
