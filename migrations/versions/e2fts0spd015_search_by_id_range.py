"""search: the index read by ranges of ticket ids (PostgreSQL), a vocabulary for prefixes (SQLite)

Search reads the index newest first, one range of ticket ids at a time (see
`helpdesk.queries.search`). A plain GIN index on the document cannot be limited to a range: a
phrase's words ("app me dice que") were read for every ticket that has them (65,000 at a million
tickets) for each query. The GIN indexes now lead with the ticket's block of ids
(`ticket_id / 4096`, through the btree_gin extension), so a query on one range reads the
words' entries only where that block's tickets are (GIN skips through the rest), and the
trigram index for partial words likewise.

Both are built without `fastupdate`: a pending list (up to 4 MB of unsorted new entries) is read
in full by every search until vacuum merges it; a new message costs a little more instead.

SQLite: FTS5 reads its index in rowid order and stops at the limit, except for a prefix query
(`"equipo"*`), which first merges the entries of every word the prefix begins: 80 ms for a
common word at 400,000 tickets. The vocabulary `ticket_fts_terms` (every word the index holds)
lets search ask for those words instead (`"equipo" OR "equipos"`). Triggers keep it: the new
text (a message, a subject, a customer's name and e-mail) goes through a contentless FTS5 table
with the same tokenizer, whose words are added, and is cleared again. Words are never removed
(one no ticket holds any more matches nothing). It is filled here from the index itself.

Revision ID: e2fts0spd015
Revises: d2re90700009
Create Date: 2026-11-30 13:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e2fts0spd015'
down_revision = 'd2re90700009'
branch_labels = None
depends_on = None

#: helpdesk.queries.search.BLOCK: the ids one index key covers.
BLOCK = 4096


TOKENIZER = "tokenize = 'unicode61 remove_diacritics 2'"

#: trigger name -> (event, the new text)
SQLITE_TERM_TRIGGERS = {
    "ticket_fts_terms_message_ins": ("AFTER INSERT ON messages", "NEW.body"),
    "ticket_fts_terms_message_upd": ("AFTER UPDATE OF body ON messages", "NEW.body"),
    "ticket_fts_terms_ticket_ins": (
        "AFTER INSERT ON tickets",
        "NEW.subject || ' ' || coalesce((SELECT name || ' ' || email FROM customers "
        "WHERE id = NEW.customer_id), '')"),
    "ticket_fts_terms_ticket_upd": (
        "AFTER UPDATE OF subject, customer_id ON tickets",
        "NEW.subject || ' ' || coalesce((SELECT name || ' ' || email FROM customers "
        "WHERE id = NEW.customer_id), '')"),
    "ticket_fts_terms_customer_upd": ("AFTER UPDATE OF name, email ON customers",
                                      "coalesce(NEW.name, '') || ' ' || coalesce(NEW.email, '')"),
}

#: Every word of the index into the vocabulary (also helpdesk.queries.search_index's rebuild).
SQLITE_FILL_TERMS = (
    "CREATE VIRTUAL TABLE temp.ticket_fts_all_terms USING fts5vocab(main, ticket_fts, 'row')",
    "INSERT OR IGNORE INTO ticket_fts_terms(term) SELECT term FROM temp.ticket_fts_all_terms",
    "DROP TABLE temp.ticket_fts_all_terms",
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        _upgrade_sqlite()
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # the GIN builds, at a million rows
    op.execute("DROP INDEX IF EXISTS ix_ticket_fts_doc")
    op.execute("DROP INDEX IF EXISTS ix_ticket_fts_names")
    op.execute(f"CREATE INDEX ix_ticket_fts_doc ON ticket_fts USING gin "
               f"((ticket_id / {BLOCK}), doc) WITH (fastupdate = off)")
    op.execute(f"CREATE INDEX ix_ticket_fts_names ON ticket_fts USING gin "
               f"((ticket_id / {BLOCK}), names gin_trgm_ops) WITH (fastupdate = off)")
    op.execute("ANALYZE ticket_fts")  # statistics of the new index expression


def _upgrade_sqlite():
    op.execute("CREATE TABLE ticket_fts_terms (term TEXT PRIMARY KEY) WITHOUT ROWID")
    op.execute(f"CREATE VIRTUAL TABLE ticket_fts_stage USING fts5(text, content='', {TOKENIZER})")
    op.execute("CREATE VIRTUAL TABLE ticket_fts_stage_terms USING "
               "fts5vocab(ticket_fts_stage, 'row')")
    for name, (event, new_text) in SQLITE_TERM_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {event} BEGIN "
                   f"INSERT INTO ticket_fts_stage(rowid, text) VALUES (1, {new_text}); "
                   f"INSERT OR IGNORE INTO ticket_fts_terms(term) "
                   f"SELECT term FROM ticket_fts_stage_terms; "
                   f"INSERT INTO ticket_fts_stage(ticket_fts_stage) VALUES ('delete-all'); END")
    for statement in SQLITE_FILL_TERMS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        for name in SQLITE_TERM_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS ticket_fts_stage_terms")
        op.execute("DROP TABLE IF EXISTS ticket_fts_stage")
        op.execute("DROP TABLE IF EXISTS ticket_fts_terms")
        return
    op.execute("DROP INDEX IF EXISTS ix_ticket_fts_doc")
    op.execute("DROP INDEX IF EXISTS ix_ticket_fts_names")
    op.execute("CREATE INDEX ix_ticket_fts_doc ON ticket_fts USING gin (doc)")
    op.execute("CREATE INDEX ix_ticket_fts_names ON ticket_fts USING gin (names gin_trgm_ops)")
