"""Full-text search over tickets: subject, customer name and e-mail, every message of the thread.

The index is `ticket_fts`, built and kept in sync by triggers (migration c7f75ea00007): FTS5 on
SQLite, a weighted tsvector (Spanish and English stemming, unaccent) plus a trigram index for
partial words on PostgreSQL. Both are accent- and case-insensitive and rank by relevance;
`"quoted words"` are phrases. Snippets come back escaped, with `<mark>` around the hits.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import (
    Integer,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)

from ..extensions import db

#: Tables, triggers and indexes of the search index: outside the models, so autogenerate and the
#: models-vs-migrations test leave them alone (SQLite's FTS5 adds ticket_fts_data, _idx, …).
INDEX_PREFIX = "ticket_fts"

#: Markers around a hit inside a snippet (private-use characters: never typed, never escaped).
OPEN, CLOSE = "\ue000", "\ue001"

_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


def outside_models(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: False for the search index's own objects."""
    return not (name or "").startswith(INDEX_PREFIX)


@dataclass(frozen=True)
class Term:
    """One part of a query: a phrase (quoted, or a word with punctuation such as an e-mail) or a
    single word (matched as a prefix too)."""

    words: tuple[str, ...]
    raw: str

    @property
    def phrase(self) -> bool:
        return len(self.words) > 1


def parse(query: str) -> list[Term]:
    """The terms of a search box's text; words keep only letters and digits."""
    terms = []
    for quoted, bare in _TERM.findall(query or ""):
        raw = quoted if quoted else bare
        words = tuple(_WORD.findall(raw))
        if words:
            terms.append(Term(words, raw.strip()))
    return terms[:12]


def _fts5_query(terms: list[Term]) -> str:
    """The FTS5 MATCH expression: every term required; words also match as prefixes."""
    parts = []
    for term in terms:
        quoted = '"' + " ".join(term.words).replace('"', '""') + '"'
        parts.append(quoted if term.phrase else quoted + "*")
    return " AND ".join(parts)


_SQLITE_FTS = table("ticket_fts", column("rowid", Integer))


#: Relevance is ranked over the newest RANK_CAP tickets that match, taken from the index in
#: ticket order (newest first) so a search never reads every match: a word in half of a million
#: tickets would cost seconds to rank in full (and more to count) for a page of 50 rows.
#: Fewer matches than this (any specific search) are all ranked.
RANK_CAP = 500
#: On PostgreSQL a phrase is first narrowed by its words (answered by the GIN index alone),
#: newest first, to this many tickets; only those are read to check the words' order.
PHRASE_WINDOW = 4 * RANK_CAP


@dataclass(frozen=True)
class Matches:
    """The tickets a search matches, as `ranked`: a subquery of (ticket_id, rank), lower rank
    = better, over at most RANK_CAP of them (the newest); `ids` selects their ids."""

    ranked: object

    @property
    def ids(self):
        return select(self.ranked.c.ticket_id)

    def include(self, ticket_id):
        """A condition on `ticket_id`: the ticket is among the matches."""
        return ticket_id.in_(self.ids)


def matches(query: str) -> Matches | None:
    """What `query` matches, or None when the text has nothing to search for."""
    terms = parse(query)
    if not terms:
        return None
    if db.engine.dialect.name == "postgresql":
        return Matches(_pg_matches(terms))
    return Matches(_fts5_matches(terms))


def _fts5_matches(terms: list[Term]):
    """FTS5 walks the index newest first and stops at the cap; bm25 is computed only for the
    rows it returns."""
    return (select(_SQLITE_FTS.c.rowid.label("ticket_id"),
                   literal_column("bm25(ticket_fts, 10.0, 5.0, 1.0)").label("rank"))
            .select_from(_SQLITE_FTS)
            .where(text("ticket_fts MATCH :fts_query").bindparams(fts_query=_fts5_query(terms)))
            .order_by(_SQLITE_FTS.c.rowid.desc()).limit(RANK_CAP)
            .subquery("fts"))


def _pg_tsquery(term: Term, index: int, *, phrase: bool = True):
    """One term's tsquery in both configurations: a phrase in either (OR), or a word also as
    prefix in either (OR). `phrase=False` gives a phrase's words in any order, required in
    *both* (AND): a document holding the phrase has both configurations' lexemes, and the AND
    lets the GIN index skip through a word that is frequent in one of them (Spanish "el" is
    not an English stop word) instead of reading all of its entries."""
    value = bindparam(f"fts_{index}", " ".join(term.words) if term.phrase else term.words[0])
    queries = []
    for config in ("hd_es", "hd_en"):
        cfg = literal_column(f"'{config}'::regconfig")
        if term.phrase:
            build = func.phraseto_tsquery if phrase else func.plainto_tsquery
            queries.append(build(cfg, value))
        else:
            queries.append(func.to_tsquery(cfg, func.quote_literal(value).op("||")(":*")))
    joint = "&&" if term.phrase and not phrase else "||"
    return queries[0].op(joint)(queries[1])


def _pg_table():
    return table("ticket_fts", column("ticket_id", Integer), column("doc"), column("names"))


def _pg_matches(terms: list[Term]):
    """Newest first from the GIN index, capped; a phrase is checked (the one step that reads
    each document) only within the newest PHRASE_WINDOW tickets that have all its words. One
    scan of ticket_fts: the window carries each row's document (a TOAST pointer, read only
    when checked or ranked), so the planner cannot move the phrase check ahead of the cap."""
    fts = _pg_table()
    conditions, _tsquery = _pg_conditions(fts, terms, phrase=False)
    phrases = [(index, term) for index, term in enumerate(terms) if term.phrase]
    window = (select(fts.c.ticket_id, fts.c.doc, fts.c.names).where(*conditions)
              .order_by(fts.c.ticket_id.desc())
              .limit(PHRASE_WINDOW if phrases else RANK_CAP).subquery("window"))
    checks = [window.c.doc.op("@@")(_pg_tsquery(term, index))
              | window.c.names.like(_like(term, index)) for index, term in phrases]
    _conditions, tsquery = _pg_conditions(window, terms, phrase=True)
    rank = -func.ts_rank_cd(window.c.doc, tsquery)
    return (select(window.c.ticket_id, rank.label("rank")).where(*checks)
            .order_by(window.c.ticket_id.desc()).limit(RANK_CAP).subquery("fts"))


def _like(term: Term, index: int):
    """`%raw%` on the subject + customer column (lower-case, unaccented): partial words."""
    raw = term.raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    partial = func.lower(func.unaccent(bindparam(f"fts_raw_{index}", raw)))
    return literal_column("'%'").op("||")(partial).op("||")(literal_column("'%'"))


def _pg_conditions(fts, terms: list[Term], *, phrase: bool = True):
    """Each term's condition (the tsquery, or a partial word in subject or customer) and the
    whole tsquery, for ranking."""
    conditions, tsquery = [], None
    for index, term in enumerate(terms):
        one = _pg_tsquery(term, index, phrase=phrase)
        tsquery = one if tsquery is None else tsquery.op("&&")(one)
        conditions.append(fts.c.doc.op("@@")(one) | fts.c.names.like(_like(term, index)))
    return conditions, tsquery


def snippets(ticket_ids: list[int], query: str) -> dict[int, Markup]:
    """An escaped excerpt per ticket around what matched, hits wrapped in `<mark>`."""
    terms = parse(query)
    if not terms or not ticket_ids:
        return {}
    if db.engine.dialect.name == "postgresql":
        rows = _pg_snippets(ticket_ids, terms)
    else:
        stmt = text(
            "SELECT rowid, snippet(ticket_fts, -1, :open, :close, '…', 16) FROM ticket_fts "
            "WHERE ticket_fts MATCH :fts_query AND rowid IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        rows = db.session.execute(stmt, {"open": OPEN, "close": CLOSE, "ids": ticket_ids,
                                         "fts_query": _fts5_query(terms)})
    return {ticket_id: highlight(excerpt) for ticket_id, excerpt in rows if excerpt}


def _pg_snippets(ticket_ids: list[int], terms: list[Term]):
    fts = table("ticket_fts", column("ticket_id", Integer), column("body"), column("names"))
    tsquery = None
    for index, term in enumerate(terms):
        one = _pg_tsquery(term, index)
        tsquery = one if tsquery is None else tsquery.op("||")(one)
    options = f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords=24, MinWords=8, MaxFragments=2"
    headline = func.ts_headline(literal_column("'hd_es'::regconfig"), fts.c.body, tsquery,
                                bindparam("fts_options", options))
    stmt = select(fts.c.ticket_id, headline).where(fts.c.ticket_id.in_(ticket_ids))
    return db.session.execute(stmt)


def highlight(excerpt: str) -> Markup:
    """Escape an excerpt (customer text), then turn the hit markers into `<mark>`."""
    safe = str(escape(excerpt.replace("\n", " ")))
    return Markup(safe.replace(OPEN, "<mark>").replace(CLOSE, "</mark>"))


#: The whole index rebuilt in one statement (the same rows migration c7f75ea00007's triggers
#: write one ticket at a time).
_SQLITE_REBUILD = """
    INSERT INTO ticket_fts(rowid, subject, customer, body)
    SELECT t.id, t.subject, coalesce(c.name, '') || ' ' || coalesce(c.email, ''),
           coalesce((SELECT group_concat(m.body, char(10)) FROM messages m
                     WHERE m.ticket_id = t.id), '')
    FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id
"""

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
               FROM messages GROUP BY ticket_id) b ON b.ticket_id = t.id
"""

_PG_TRIGGERS = (("tickets", "ticket_fts_ticket"), ("messages", "ticket_fts_message"),
                ("customers", "ticket_fts_customer"))


@contextmanager
def bulk_load(rebuild: bool = True):
    """Load many tickets and messages at once (the demo's million-ticket seed): the index's
    triggers are off inside, and the index is rebuilt in one pass at the end (each in its own
    transaction; the rebuild runs even if the load fails), unless the loader writes the index
    itself (`rebuild=False`). Per-row triggers refresh a ticket's whole document for each of
    its messages: a thread of seven is indexed eight times."""
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
                for _name, sql in triggers:
                    conn.exec_driver_sql(sql)
