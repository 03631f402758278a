"""The search index loaded in bulk: its triggers off while many tickets and messages are
written (the demo's million-ticket seed), the whole index rebuilt in one statement after."""

from __future__ import annotations

from contextlib import contextmanager

from ..extensions import db

#: The whole index rebuilt in one statement (the same rows the triggers of migrations
#: c7f75ea00007 and e4fts0evt017 write one ticket at a time: a thread's events are not
#: searched).
_SQLITE_REBUILD = """
    INSERT INTO ticket_fts(rowid, subject, customer, body)
    SELECT t.id, t.subject, coalesce(c.name, '') || ' ' || coalesce(c.email, ''),
           coalesce((SELECT group_concat(m.body, char(10)) FROM messages m
                     WHERE m.ticket_id = t.id AND m.kind <> 'event'), '')
    FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id
"""

#: Every word of the index into the vocabulary of prefixes (migration e2fts0spd015 does the same).
_SQLITE_FILL_TERMS = (
    "CREATE VIRTUAL TABLE temp.ticket_fts_all_terms USING fts5vocab(main, ticket_fts, 'row')",
    "INSERT OR IGNORE INTO ticket_fts_terms(term) SELECT term FROM temp.ticket_fts_all_terms",
    "DROP TABLE temp.ticket_fts_all_terms",
)

_PG_REBUILD = r"""
    INSERT INTO ticket_fts(ticket_id, names, body, doc)
    SELECT t.id,
           lower(unaccent(t.subject || ' ' || coalesce(c.name, '') || ' '
                          || coalesce(c.email, ''))),
           coalesce(b.body, ''),
           setweight(to_tsvector('hd_es', t.subject), 'A')
           || setweight(to_tsvector('hd_es', coalesce(c.name, '') || ' '
                                    || coalesce(c.email, '')), 'B')
           || setweight(to_tsvector('hd_es', coalesce(b.body, '')), 'D')
           || setweight(to_tsvector('hd_en', t.subject), 'A')
           || setweight(to_tsvector('hd_en', coalesce(b.body, '')), 'D')
    FROM tickets t
    LEFT JOIN customers c ON c.id = t.customer_id
    LEFT JOIN (SELECT ticket_id, string_agg(body, E'\n' ORDER BY id) AS body
               FROM messages WHERE kind <> 'event' GROUP BY ticket_id) b ON b.ticket_id = t.id
"""

_PG_TRIGGERS = (("tickets", "ticket_fts_ticket"), ("messages", "ticket_fts_message"),
                ("customers", "ticket_fts_customer"))


@contextmanager
def bulk_load(rebuild: bool = True):
    """Load many tickets and messages at once (the demo's million-ticket seed): the index's
    triggers are off inside, and the index is rebuilt in one pass at the end (each in its own
    transaction; the rebuild runs even if the load fails), unless the loader writes the index
    itself (`rebuild=False`). Per-row triggers refresh a ticket's whole document for each of
    its messages: a thread of seven is indexed eight times. On SQLite the rebuild also fills the
    vocabulary of prefixes (`ticket_fts_terms`); a loader that writes the index itself writes
    no new words (the bench's copies) or fills it too."""
    with db.engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            for table_name, trigger in _PG_TRIGGERS:
                conn.exec_driver_sql(f"ALTER TABLE {table_name} DISABLE TRIGGER {trigger}")
        else:
            triggers = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE "
                "'ticket_fts%'").all()
            for name, _sql in triggers:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
    try:
        yield
    finally:
        db.session.remove()
        with db.engine.begin() as conn:
            if pg:
                if rebuild:
                    conn.exec_driver_sql("TRUNCATE ticket_fts")
                    conn.exec_driver_sql(_PG_REBUILD)
                for table_name, trigger in _PG_TRIGGERS:
                    conn.exec_driver_sql(f"ALTER TABLE {table_name} ENABLE TRIGGER {trigger}")
            else:
                if rebuild:
                    conn.exec_driver_sql("DELETE FROM ticket_fts")
                    conn.exec_driver_sql(_SQLITE_REBUILD)
                    for statement in _SQLITE_FILL_TERMS:
                        conn.exec_driver_sql(statement)
                for _name, sql in triggers:
                    conn.exec_driver_sql(sql)
