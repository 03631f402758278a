"""search: a thread's events are not searched

The search documents held every message of a thread, events too: their bodies are JSON for
the panel to phrase (`{"event": "assign", "to": "María José Ortega"}`), so a snippet showed
that JSON, "assign" or an agent's name matched most tickets, and events (~40 % of messages)
made every document bigger. A document now holds the customer's messages, the replies and
the internal notes. Adding an event no longer rewrites its ticket's document either (an
assignment or a status change did, on every ticket).

The documents are rebuilt: on PostgreSQL the table is emptied and filled with its GIN indexes
dropped and built again after (writing a GIN index row by row, without a pending list, is
much slower); on SQLite the FTS5 table is created again (deleting its rows one by one reads
each row's words). The vocabulary of prefixes keeps the events' words: a word no ticket holds
matches nothing.

Revision ID: e4fts0evt017
Revises: e3ws0gap016
Create Date: 2026-11-30 16:45:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4fts0evt017'
down_revision = 'e3ws0gap016'
branch_labels = None
depends_on = None

#: helpdesk.queries.search_terms.BLOCK (e2fts0spd015's index expression).
BLOCK = 4096
TOKENIZER = "tokenize = 'unicode61 remove_diacritics 2'"

#: The messages a document holds (`m` is messages); None: every one (the downgrade).
SEARCHED = "m.kind <> 'event'"


def _thread(searched: str | None) -> str:
    where = f" AND {searched}" if searched else ""
    return (f"coalesce((SELECT group_concat(m.body, char(10)) FROM messages m "
            f"WHERE m.ticket_id = t.id{where}), '')")


def _sqlite_refresh(where: str, searched: str | None) -> str:
    return (f"DELETE FROM ticket_fts WHERE rowid IN (SELECT t.id FROM tickets t WHERE {where}); "
            f"INSERT INTO ticket_fts(rowid, subject, customer, body) "
            f"SELECT t.id, t.subject, coalesce(c.name, '') || ' ' || coalesce(c.email, ''), "
            f"{_thread(searched)} "
            f"FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id WHERE {where};")


def _sqlite_triggers(searched: str | None) -> dict[str, tuple[str, str]]:
    """name -> (event, which tickets): c7f75ea00007's and d5me96e00012's triggers; with
    `searched`, a message that is not searched changes no document."""
    skip_new = " WHEN NEW.kind <> 'event'" if searched else ""
    skip_old = " WHEN OLD.kind <> 'event'" if searched else ""
    skip_moved = " WHEN NEW.kind <> 'event' OR OLD.kind <> 'event'" if searched else ""
    return {
        "ticket_fts_ticket_ins": ("AFTER INSERT ON tickets", "t.id = NEW.id"),
        "ticket_fts_ticket_upd": ("AFTER UPDATE OF subject, customer_id ON tickets",
                                  "t.id = NEW.id"),
        "ticket_fts_message_ins": (f"AFTER INSERT ON messages{skip_new}",
                                   "t.id = NEW.ticket_id"),
        "ticket_fts_message_upd": (f"AFTER UPDATE OF body, ticket_id ON messages{skip_moved}",
                                   "t.id IN (NEW.ticket_id, OLD.ticket_id)"),
        "ticket_fts_message_del": (f"AFTER DELETE ON messages{skip_old}",
                                   "t.id = OLD.ticket_id"),
        "ticket_fts_customer_upd": ("AFTER UPDATE OF name, email ON customers",
                                    "t.customer_id = NEW.id"),
    }


def _sqlite_term_triggers(searched: str | None) -> dict[str, str]:
    """e2fts0spd015's vocabulary triggers on messages: name -> event."""
    skip = " WHEN NEW.kind <> 'event'" if searched else ""
    return {"ticket_fts_terms_message_ins": f"AFTER INSERT ON messages{skip}",
            "ticket_fts_terms_message_upd": f"AFTER UPDATE OF body ON messages{skip}"}


#: A ticket's row of the index, from its subject (`t`), customer (`c`) and thread (`b.body`,
#: joined after this).
_PG_ROW = r"""
INSERT INTO ticket_fts(ticket_id, names, body, doc)
SELECT t.id,
       lower(unaccent(t.subject || ' ' || coalesce(c.name, '') || ' ' || coalesce(c.email, ''))),
       coalesce(b.body, ''),
       setweight(to_tsvector('hd_es', t.subject), 'A')
       || setweight(to_tsvector('hd_es', coalesce(c.name, '') || ' ' || coalesce(c.email, '')), 'B')
       || setweight(to_tsvector('hd_es', coalesce(b.body, '')), 'D')
       || setweight(to_tsvector('hd_en', t.subject), 'A')
       || setweight(to_tsvector('hd_en', coalesce(b.body, '')), 'D')
FROM tickets t
LEFT JOIN customers c ON c.id = t.customer_id
"""


def _pg_refresh(searched: str | None) -> str:
    where = f" AND {searched}" if searched else ""
    return rf"""
CREATE OR REPLACE FUNCTION hd_fts_refresh(tid integer) RETURNS void AS $$
{_PG_ROW}LEFT JOIN LATERAL (SELECT string_agg(m.body, E'\n' ORDER BY m.id) AS body
                   FROM messages m WHERE m.ticket_id = t.id{where}) b ON true
WHERE t.id = tid
ON CONFLICT (ticket_id) DO UPDATE
    SET names = excluded.names, body = excluded.body, doc = excluded.doc;
$$ LANGUAGE sql;
"""


def _pg_message(searched: str | None) -> str:
    skip = ("    IF TG_OP = 'DELETE' AND OLD.kind = 'event' OR TG_OP = 'INSERT' AND NEW.kind = "
            "'event' OR TG_OP = 'UPDATE' AND OLD.kind = 'event' AND NEW.kind = 'event' THEN\n"
            "        RETURN NULL;  -- not in any document\n    END IF;\n") if searched else ""
    return rf"""
CREATE OR REPLACE FUNCTION hd_fts_message() RETURNS trigger AS $$
BEGIN
{skip}    IF TG_OP = 'DELETE' THEN
        PERFORM hd_fts_refresh(OLD.ticket_id);
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.ticket_id IS DISTINCT FROM NEW.ticket_id THEN
        PERFORM hd_fts_refresh(OLD.ticket_id);
    END IF;
    PERFORM hd_fts_refresh(NEW.ticket_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""


def _pg_rebuild(searched: str | None) -> str:
    where = f" WHERE {searched}" if searched else ""
    return rf"""{_PG_ROW}LEFT JOIN (SELECT m.ticket_id, string_agg(m.body, E'\n' ORDER BY m.id)
           AS body FROM messages m{where} GROUP BY m.ticket_id) b ON b.ticket_id = t.id
ORDER BY t.id
"""


def upgrade():
    _apply(SEARCHED)


def downgrade():
    _apply(None)


def _apply(searched: str | None) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_refresh(searched))
        op.execute(_pg_message(searched))
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # the GIN builds, at 1M tickets
        op.execute("DROP INDEX IF EXISTS ix_ticket_fts_doc")
        op.execute("DROP INDEX IF EXISTS ix_ticket_fts_names")
        op.execute("TRUNCATE ticket_fts")
        op.execute(_pg_rebuild(searched))
        op.execute(f"CREATE INDEX ix_ticket_fts_doc ON ticket_fts USING gin "
                   f"((ticket_id / {BLOCK}), doc) WITH (fastupdate = off)")
        op.execute(f"CREATE INDEX ix_ticket_fts_names ON ticket_fts USING gin "
                   f"((ticket_id / {BLOCK}), names gin_trgm_ops) WITH (fastupdate = off)")
        op.execute("ANALYZE ticket_fts")
        return
    for name, (event, where) in _sqlite_triggers(searched).items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {event} BEGIN "
                   f"{_sqlite_refresh(where, searched)} END")
    for name, event in _sqlite_term_triggers(searched).items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {event} BEGIN "
                   f"INSERT INTO ticket_fts_stage(rowid, text) VALUES (1, NEW.body); "
                   f"INSERT OR IGNORE INTO ticket_fts_terms(term) "
                   f"SELECT term FROM ticket_fts_stage_terms; "
                   f"INSERT INTO ticket_fts_stage(ticket_fts_stage) VALUES ('delete-all'); END")
    op.execute("DROP TABLE ticket_fts")
    op.execute(f"CREATE VIRTUAL TABLE ticket_fts USING fts5(subject, customer, body, {TOKENIZER})")
    op.execute(f"INSERT INTO ticket_fts(rowid, subject, customer, body) "
               f"SELECT t.id, t.subject, coalesce(c.name, '') || ' ' || coalesce(c.email, ''), "
               f"{_thread(searched)} FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id")
