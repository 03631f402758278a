"""Full-text search over tickets: subject, customer name and e-mail, every message of the thread.

The index is `ticket_fts`, built and kept in sync by triggers (migration c7f75ea00007): FTS5 on
SQLite, a weighted tsvector (Spanish and English stemming, unaccent) plus a trigram index for
partial words on PostgreSQL. Both are accent- and case-insensitive and rank by relevance;
`"quoted words"` are phrases. Snippets come back escaped, with `<mark>` around the hits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import (
    Float,
    Integer,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    true,
)

from ..extensions import db
from .search_index import bulk_load  # noqa: F401  (the bench's and the demo's bulk seed)

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


#: Relevance is ranked over the newest RANK_CAP tickets that match, so a search never reads
#: every match: a word in half of a million tickets would cost seconds to rank in full (and more
#: to count) for a page of 50 rows. Fewer matches than this (any specific search) are all ranked.
RANK_CAP = 500
#: On PostgreSQL a phrase is first narrowed by its words (answered by the GIN index alone),
#: newest first, to this many tickets; only those are read to check the words' order.
PHRASE_WINDOW = 4 * RANK_CAP
#: The index is read in ranges of ticket ids, newest first: the newest FIRST_WINDOW ids, then
#: each range WIDEN times wider than the last, until RANK_CAP matches are found. Ticket ids
#: ascend with time, so a common word is answered from the first range (the index never reads
#: the rest of its entries) and a rare one costs a handful of statements.
FIRST_WINDOW = 4096
WIDEN = 4


@dataclass(frozen=True)
class Matches:
    """The tickets a search matches: `found`, (ticket_id, rank) newest first, lower rank =
    better, at most RANK_CAP of them (the newest); `ranked` is the same as a subquery (for the
    queue's statement to join), `ids` selects their ids."""

    found: tuple[tuple[int, float], ...]

    @property
    def ranked(self):
        return _found_table(self.found)

    @property
    def ids(self):
        return select(self.ranked.c.ticket_id)

    def include(self, ticket_id):
        """A condition on `ticket_id`: the ticket is among the matches."""
        return ticket_id.in_(self.ids)


def matches(query: str) -> Matches | None:
    """What `query` matches, or None when the text has nothing to search for. The index is
    read once per request and text: the queue's rows, its count and its tabs share it."""
    terms = parse(query)
    if not terms:
        return None
    cache = db.session.info.setdefault("fts_matches", {})
    key = tuple(terms)
    if key not in cache:
        find = _pg_find if db.engine.dialect.name == "postgresql" else _fts5_find
        cache[key] = Matches(tuple(find(terms)))
    return cache[key]


def windows(top: int | None):
    """Ranges (lo, hi] of ticket ids, newest first, each WIDEN times wider than the last."""
    hi, size = top or 0, FIRST_WINDOW
    while hi > 0:
        lo = max(0, hi - size)
        yield lo, hi
        hi, size = lo, size * WIDEN


def _found_table(found):
    """(ticket_id, rank) rows as a subquery: one bound value (an array, or JSON on SQLite), so
    the statement's text is the same for any number of matches."""
    if db.engine.dialect.name == "postgresql":
        stmt = text("SELECT * FROM unnest(CAST(:fts_ids AS integer[]), "
                    "CAST(:fts_ranks AS double precision[])) AS fts(ticket_id, rank)").bindparams(
            bindparam("fts_ids", [row[0] for row in found], unique=True),
            bindparam("fts_ranks", [row[1] for row in found], unique=True))
    else:
        stmt = text("SELECT json_extract(value, '$[0]') AS ticket_id, "
                    "json_extract(value, '$[1]') AS rank FROM json_each(:fts_found)").bindparams(
            bindparam("fts_found", json.dumps(found), unique=True))
    return stmt.columns(ticket_id=Integer, rank=Float).subquery("fts")


def _fts5_find(terms: list[Term]) -> list[tuple[int, float]]:
    """FTS5 walks each range of the index newest first and stops at the cap; bm25 is computed
    only for the rows it returns."""
    query = _fts5_query(terms)
    top = db.session.scalar(select(_SQLITE_FTS.c.rowid).order_by(_SQLITE_FTS.c.rowid.desc())
                            .limit(1))
    found: list[tuple[int, float]] = []
    for lo, hi in windows(top):
        stmt = (select(_SQLITE_FTS.c.rowid,
                       literal_column("bm25(ticket_fts, 10.0, 5.0, 1.0)"))
                .where(text("ticket_fts MATCH :fts_query").bindparams(fts_query=query),
                       _SQLITE_FTS.c.rowid > lo, _SQLITE_FTS.c.rowid <= hi)
                .order_by(_SQLITE_FTS.c.rowid.desc()).limit(RANK_CAP - len(found)))
        found += [tuple(row) for row in db.session.execute(stmt)]
        if len(found) >= RANK_CAP:
            break
    return found


def _pg_find(terms: list[Term]) -> list[tuple[int, float]]:
    """Each range of ticket ids from the GIN index, newest first, until the cap; a phrase is
    checked (the one step that reads each document) only on the newest PHRASE_WINDOW tickets
    that have all its words."""
    fts = _pg_table()
    top = db.session.scalar(select(func.max(fts.c.ticket_id)))
    phrases = any(term.phrase for term in terms)
    found: list[tuple[int, float]] = []
    budget = PHRASE_WINDOW
    for lo, hi in windows(top):
        limit = budget if phrases else RANK_CAP - len(found)
        rows = db.session.execute(_pg_window(fts, terms, lo, hi, limit)).all()
        found += [(ticket_id, rank) for ticket_id, hit, rank in rows if hit]
        budget -= len(rows)
        if len(found) >= RANK_CAP or (phrases and budget <= 0):
            break
    return found[:RANK_CAP]


def _pg_window(fts, terms: list[Term], lo: int, hi: int, limit: int):
    """The newest `limit` tickets in (lo, hi] that have every term's words, whether each holds
    the phrases too (`hit`), and the rank of those that do. One scan of ticket_fts: the window
    carries each row's document (a TOAST pointer, read only when checked or ranked), so the
    planner cannot move the phrase check ahead of the limit."""
    conditions, _tsquery = _pg_conditions(fts, terms, phrase=False)
    window = (select(fts.c.ticket_id, fts.c.doc, fts.c.names)
              .where(fts.c.ticket_id > bindparam("fts_lo", lo),
                     fts.c.ticket_id <= bindparam("fts_hi", hi), *conditions)
              .order_by(fts.c.ticket_id.desc())
              .limit(limit).subquery("window"))
    checks = [window.c.doc.op("@@")(_pg_tsquery(term, index))
              | window.c.names.like(_like(term, index))
              for index, term in enumerate(terms) if term.phrase]
    hit = and_(*checks) if checks else true()
    _conditions, tsquery = _pg_conditions(window, terms, phrase=True)
    rank = case((hit, -func.ts_rank_cd(window.c.doc, tsquery)), else_=None)
    return select(window.c.ticket_id, hit.label("hit"), rank.label("rank")).order_by(
        window.c.ticket_id.desc())


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
