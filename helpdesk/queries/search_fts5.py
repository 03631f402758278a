"""Full-text search on SQLite: the FTS5 table `ticket_fts` (rowid = ticket id; subject,
customer, body; unicode61 without diacritics), read newest first in rowid order so FTS5 stops at
the cap, and the vocabulary `ticket_fts_terms` (every indexed word, kept by triggers: migration
e2fts0spd015) that turns a word's prefix into the words it begins."""

from __future__ import annotations

from sqlalchemy import bindparam, text

from ..extensions import db
from .search_terms import Term, fold

#: A word also matches the indexed words it begins ("factura" finds "facturas"): when it begins
#: at most PREFIX_TERMS of them it is searched as those words, which FTS5 reads newest first and
#: stops at the cap. A shorter prefix falls back to FTS5's own prefix query (`"fa"*`), which
#: merges the entries of every word it begins before returning a row.
PREFIX_TERMS = 32
#: Relevance: a bm25-like score per column (subject, customer, body), weighted, with term
#: frequency saturating (K1) and normalised by the column's length against the found rows'
#: average (B). FTS5's own bm25() counts each term over the whole index first (its IDF) on
#: every statement: 40 ms for a common word at 400,000 tickets, growing with the index.
WEIGHTS = (10.0, 5.0, 1.0)
K1, B = 1.2, 0.75
#: Marks a hit's end in highlight() (a private-use character: never typed).
_HIT = "\ue002"


def _quote(words) -> str:
    return '"' + " ".join(words).replace('"', '""') + '"'


def expression(terms: list[Term]) -> str:
    """The FTS5 MATCH expression: every term required; a word as the indexed words it begins."""
    parts = []
    for term in terms:
        if term.phrase:
            parts.append(_quote(term.words))
            continue
        known = vocabulary(fold(term.words[0]))
        if 0 < len(known) <= PREFIX_TERMS:
            parts.append("(" + " OR ".join(_quote((word,)) for word in known) + ")")
        else:
            parts.append(_quote(term.words) + "*")
    return " AND ".join(parts)


def vocabulary(prefix: str) -> list[str]:
    """The indexed words that begin with `prefix` (one more than PREFIX_TERMS at most)."""
    if not prefix:
        return []
    end = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    return list(db.session.scalars(
        text("SELECT term FROM ticket_fts_terms WHERE term >= :lo AND term < :hi LIMIT :n"),
        {"lo": prefix, "hi": end, "n": PREFIX_TERMS + 1}))


def find(terms: list[Term], cap: int) -> list[tuple[int, float]]:
    """The newest `cap` matches (FTS5 walks its index in rowid order and stops there), ranked
    from where their hits are (highlight(): only these rows are read)."""
    rows = db.session.execute(text(
        "SELECT rowid, highlight(ticket_fts, 0, '', :hit), highlight(ticket_fts, 1, '', :hit), "
        "highlight(ticket_fts, 2, '', :hit) FROM ticket_fts WHERE ticket_fts MATCH :fts_query "
        "ORDER BY rowid DESC LIMIT :cap"),
        {"hit": _HIT, "fts_query": expression(terms), "cap": cap}).all()
    return ranked(rows)


def ranked(rows) -> list[tuple[int, float]]:
    """(rowid, rank) per row of (rowid, subject, customer, body) with hits marked; lower rank =
    better."""
    if not rows:
        return []
    counts = [[(text_ or "").count(_HIT) for text_ in row[1:]] for row in rows]
    lengths = [[len(text_ or "") - n for text_, n in zip(row[1:], hits, strict=True)]
               for row, hits in zip(rows, counts, strict=True)]
    average = [max(1.0, sum(col) / len(rows)) for col in zip(*lengths, strict=True)]
    result = []
    for row, hits, sizes in zip(rows, counts, lengths, strict=True):
        score = sum(weight * tf * (K1 + 1) / (tf + K1 * (1 - B + B * size / avg))
                    for weight, tf, size, avg in zip(WEIGHTS, hits, sizes, average, strict=True)
                    if tf)
        result.append((row[0], -score))
    return result


def snippet_rows(ticket_ids: list[int], terms: list[Term], open_: str, close: str):
    """(ticket_id, excerpt) of each ticket, hits between the markers. One walk of the index over
    the tickets' range (`+rowid IN` is a filter: as a constraint FTS5 would start the query
    again for each id)."""
    stmt = text(
        "SELECT rowid, snippet(ticket_fts, -1, :open, :close, '…', 16) FROM ticket_fts "
        "WHERE ticket_fts MATCH :fts_query AND rowid >= :lo AND rowid <= :hi AND +rowid IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    return db.session.execute(stmt, {"open": open_, "close": close, "ids": ticket_ids,
                                     "lo": min(ticket_ids), "hi": max(ticket_ids),
                                     "fts_query": expression(terms)})
