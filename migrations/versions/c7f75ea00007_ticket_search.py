"""ticket full-text search

One search document per ticket (subject, customer name and e-mail, every message of the
thread), kept in sync by triggers so no writer can forget it, and backfilled here.

- SQLite: an FTS5 table `ticket_fts` (rowid = ticket id) with the unicode61 tokenizer and
  `remove_diacritics 2` (case- and accent-insensitive), ranked by bm25.
- PostgreSQL: a table `ticket_fts` holding a weighted tsvector in two text search
  configurations (`hd_es`, `hd_en`: unaccent, then the Spanish or English stemmer) under a GIN
  index, the thread's text for `ts_headline`, and the subject + customer in lower-case unaccented
  form under a trigram index (partial words).

`tickets` is not altered, so SQLite's batch mode never rebuilds it. The objects live outside
the models (autogenerate skips them: see `helpdesk.queries.search.outside_models`).

Revision ID: c7f75ea00007
Revises: c5ma11140005
Create Date: 2026-11-30 07:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c7f75ea00007'
down_revision = 'c5ma11140005'
branch_labels = None
depends_on = None

SQLITE_REFRESH = """
    DELETE FROM ticket_fts WHERE rowid IN (SELECT t.id FROM tickets t WHERE {where});
    INSERT INTO ticket_fts(rowid, subject, customer, body)
    SELECT t.id, t.subject, coalesce(c.name, '') || ' ' || coalesce(c.email, ''),
           coalesce((SELECT group_concat(m.body, char(10)) FROM messages m
                     WHERE m.ticket_id = t.id), '')
    FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id WHERE {where};
"""

SQLITE_TRIGGERS = {
    "ticket_fts_ticket_ins": ("AFTER INSERT ON tickets", "t.id = NEW.id"),
    "ticket_fts_ticket_upd": ("AFTER UPDATE OF subject, customer_id ON tickets", "t.id = NEW.id"),
    "ticket_fts_message_ins": ("AFTER INSERT ON messages", "t.id = NEW.ticket_id"),
    "ticket_fts_message_upd": ("AFTER UPDATE OF body ON messages", "t.id = NEW.ticket_id"),
    "ticket_fts_message_del": ("AFTER DELETE ON messages", "t.id = OLD.ticket_id"),
    "ticket_fts_customer_upd": ("AFTER UPDATE OF name, email ON customers",
                                "t.customer_id = NEW.id"),
}

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION hd_fts_refresh(tid integer) RETURNS void AS $$
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
    LEFT JOIN LATERAL (SELECT string_agg(m.body, E'\n' ORDER BY m.id) AS body
                       FROM messages m WHERE m.ticket_id = t.id) b ON true
    WHERE t.id = tid
    ON CONFLICT (ticket_id) DO UPDATE
        SET names = excluded.names, body = excluded.body, doc = excluded.doc;
$$ LANGUAGE sql;

CREATE OR REPLACE FUNCTION hd_fts_ticket() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM ticket_fts WHERE ticket_id = OLD.id;
        RETURN OLD;
    END IF;
    PERFORM hd_fts_refresh(NEW.id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION hd_fts_message() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM hd_fts_refresh(OLD.ticket_id);
        RETURN OLD;
    END IF;
    PERFORM hd_fts_refresh(NEW.ticket_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION hd_fts_customer() RETURNS trigger AS $$
BEGIN
    PERFORM hd_fts_refresh(t.id) FROM tickets t WHERE t.customer_id = NEW.id;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

PG_TRIGGERS = r"""
CREATE TRIGGER ticket_fts_ticket AFTER INSERT OR DELETE OR UPDATE OF subject, customer_id
    ON tickets FOR EACH ROW EXECUTE FUNCTION hd_fts_ticket();
CREATE TRIGGER ticket_fts_message AFTER INSERT OR DELETE OR UPDATE OF body
    ON messages FOR EACH ROW EXECUTE FUNCTION hd_fts_message();
CREATE TRIGGER ticket_fts_customer AFTER UPDATE OF name, email
    ON customers FOR EACH ROW EXECUTE FUNCTION hd_fts_customer();
"""

PG_BACKFILL = r"""
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
LEFT JOIN (SELECT ticket_id, string_agg(body, E'\n' ORDER BY id) AS body
           FROM messages GROUP BY ticket_id) b ON b.ticket_id = t.id
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_sqlite():
    op.execute("CREATE VIRTUAL TABLE ticket_fts USING fts5(subject, customer, body, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    for name, (event, where) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {event} BEGIN "
                   f"{SQLITE_REFRESH.format(where=where)} END")
    op.execute("CREATE TRIGGER ticket_fts_ticket_del AFTER DELETE ON tickets BEGIN "
               "DELETE FROM ticket_fts WHERE rowid = OLD.id; END")
    op.execute(SQLITE_REFRESH.split(";")[1].format(where="1 = 1"))


def _upgrade_postgresql():
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, stem in (("hd_es", "spanish_stem"), ("hd_en", "english_stem")):
        base = "spanish" if name == "hd_es" else "english"
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base})")
        op.execute(f"ALTER TEXT SEARCH CONFIGURATION {name} "
                   f"ALTER MAPPING FOR hword, hword_part, word WITH unaccent, {stem}")
    op.execute("CREATE TABLE ticket_fts (ticket_id integer PRIMARY KEY, names text NOT NULL, "
               "body text NOT NULL, doc tsvector NOT NULL)")
    op.execute(PG_BACKFILL)
    op.execute("CREATE INDEX ix_ticket_fts_doc ON ticket_fts USING gin (doc)")
    op.execute("CREATE INDEX ix_ticket_fts_names ON ticket_fts USING gin (names gin_trgm_ops)")
    op.execute(PG_FUNCTIONS)
    op.execute(PG_TRIGGERS)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_fts_ticket ON tickets")
        op.execute("DROP TRIGGER IF EXISTS ticket_fts_message ON messages")
        op.execute("DROP TRIGGER IF EXISTS ticket_fts_customer ON customers")
        op.execute("DROP FUNCTION IF EXISTS hd_fts_ticket(), hd_fts_message(), "
                   "hd_fts_customer(), hd_fts_refresh(integer)")
        op.execute("DROP TABLE IF EXISTS ticket_fts")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS hd_es")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS hd_en")
        return  # the extensions stay: other databases objects may use them
    for name in (*SQLITE_TRIGGERS, "ticket_fts_ticket_del"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS ticket_fts")
