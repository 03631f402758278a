"""Full-text search on PostgreSQL: `ticket_fts` holds a weighted tsvector per ticket in two
configurations (`hd_es`, `hd_en`: unaccent, then the Spanish or English stemmer) and the subject
+ customer in lower-case unaccented form (trigram index, for partial words). Both GIN indexes
lead with the ticket's block of ids (migration e2fts0spd015), so one range of ids is cheap."""

from __future__ import annotations

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY

from ..extensions import db
from .search_terms import BLOCK, Term, blocks

#: A phrase is first narrowed by its words (answered by the GIN index alone), newest first, to
#: this many tickets per cap; only those are read to check the words' order.
PHRASE_CANDIDATES = 4
#: For words, the newest SCAN_ROWS tickets are read in id order, each document checked, stopping
#: at the cap: a word in most tickets is answered there, after a few hundred rows (through the GIN
#: index, its entries would be read for every ticket that has it). Older tickets are found
#: through the GIN indexes, a range of blocks at a time (`search_terms.blocks`).
SCAN_ROWS = 600
#: A phrase's first range of blocks: finding its candidates reads no document, so a wider first
#: range costs little and saves a statement (its candidates are checked newest first anyway).
PHRASE_FIRST_BLOCKS = 8


def find(terms: list[Term], cap: int) -> list[tuple[int, float]]:
    """The newest `cap` matches, ranked: the newest SCAN_ROWS tickets in order, then ranges of
    blocks through the GIN indexes, newest first. A phrase is checked (the one step that reads
    each document) only on the newest PHRASE_CANDIDATES x cap tickets that have all its words."""
    fts = _pg_table()
    phrases = any(term.phrase for term in terms)
    found: list[tuple[int, float]] = []
    budget = PHRASE_CANDIDATES * cap
    for kind, step in _steps(fts, terms):
        if phrases and kind == "blocks":  # the candidates' ids first: no document read
            ids = db.session.scalars(step.order_by(step.selected_columns[0].desc())
                                     .limit(budget)).all()
            budget -= len(ids)
            if ids:
                found += db.session.execute(
                    _phrase_hits(fts, ids, terms, cap - len(found))).all()
        else:
            window = select(fts.c.ticket_id, fts.c.doc, fts.c.names).where(
                fts.c.ticket_id.in_(step)) if kind == "blocks" else step
            limit = budget if phrases else cap - len(found)
            window = window.order_by(fts.c.ticket_id.desc()) if kind == "blocks" else window
            rows = db.session.execute(_checked(window.limit(limit).subquery("window"),
                                               terms)).all()
            found += [(ticket_id, rank) for ticket_id, hit, rank in rows if hit]
            budget -= len(rows)
        if len(found) >= cap or (phrases and budget <= 0):
            break
    return found[:cap]


def _steps(fts, terms: list[Term]):
    """The statements of a search, newest tickets first: the scan (not for a phrase, which is
    rarely in most tickets: its words would be checked in 600 documents for nothing), then each
    range of blocks (the newest id is looked up only when the scan was not enough)."""
    scanned, size = 0, PHRASE_FIRST_BLOCKS
    if not any(term.phrase for term in terms):
        yield "scan", _scan(fts, terms)
        scanned, size = SCAN_ROWS, None
    hi = (db.session.scalar(select(func.max(fts.c.ticket_id))) or 0) - scanned
    for first, last in blocks(hi, size):
        yield "blocks", _blocks(fts, terms, first, last, hi)


def _scan(fts, terms: list[Term]):
    """The newest SCAN_ROWS tickets that have every term's words, in id order: a walk of the
    primary key backwards, stopping at the limit."""
    newest = (select(fts.c.ticket_id, fts.c.doc, fts.c.names)
              .order_by(fts.c.ticket_id.desc()).limit(SCAN_ROWS).subquery("newest"))
    conditions, _tsquery = _pg_conditions(newest, terms, phrase=False)
    return select(newest.c.ticket_id, newest.c.doc, newest.c.names).where(*conditions)


def _blocks(fts, terms: list[Term], first: int, last: int, hi: int):
    """The ids of the tickets of blocks first..last (ids up to `hi`) that have every term's
    words: the block is the GIN indexes' first column, so their entries are read only there.
    Those whose document has every term come from the document's index alone (no row is read
    to check them); those where a term is only part of the subject or customer, from the
    trigram index (only its few rows are checked).

    A range of blocks is a partial match of the block column, which GIN cannot skip a word's
    entries by: every entry of a frequent word is decoded (a phrase of common words over 8
    blocks at a million tickets: 53 ms). When every term is a quoted phrase (exact words) the
    index is scanned once per block instead, each scan an exact key that GIN skips by (3 ms).
    A word is matched as a prefix and an e-mail or a part of a word through trigrams, both
    partial matches whose entries each scan would decode again (4 s over 160 blocks for two
    words, 0.47 s for an e-mail instead of 0.16 s), so a search with those keeps the range."""
    found = fts.alias("found")
    block = literal_column(f"found.ticket_id / {BLOCK}")  # the indexes' own expression
    each = None
    if all(term.phrase and not term.partial for term in terms):
        each = func.unnest(bindparam("fts_blocks", list(range(first, last + 1)),
                                     type_=ARRAY(Integer))).table_valued(
            column("n", Integer)).render_derived(name="b")
        in_blocks = block == each.c.n
    else:
        in_blocks = block.between(bindparam("fts_block_lo", first),
                                  bindparam("fts_block_hi", last))
    where = [in_blocks, found.c.ticket_id <= bindparam("fts_hi", hi)]
    words = [found.c.doc.op("@@")(_pg_tsquery(term, index, phrase=False))
             for index, term in enumerate(terms)]
    ids = select(found.c.ticket_id).where(*where, *words)
    likes = [found.c.names.like(_like(term, index))
             for index, term in enumerate(terms) if term.partial]
    if likes:
        conditions, _tsquery = _pg_conditions(found, terms, phrase=False)
        ids = union(ids, select(found.c.ticket_id).where(*where, or_(*likes), *conditions))
    if each is None:
        return ids
    # A LATERAL, not `= ANY(blocks)`: the planner prices that at one scan per block, and when
    # it takes a phrase of common words for a rare one it leaves the blocks out of the index
    # condition and reads every ticket holding the words (44,000 pages, 210 ms). A block bound
    # from the LATERAL's row stays in it.
    per_block = ids.offset(0).lateral("per_block")
    return select(per_block.c.ticket_id).select_from(each).join(per_block, true())


def _checked(window, terms: list[Term]):
    """Each ticket of `window`, whether it holds the phrases too (`hit`), and the rank of those
    that do. The window has its own limit, so the planner cannot move the phrase check ahead
    of it."""
    rows = _read(select(window.c.ticket_id, window.c.names, window.c.doc))
    hit, rank = _hit_rank(rows, terms)
    return select(rows.c.ticket_id, hit.label("hit"), rank.label("rank")).order_by(
        rows.c.ticket_id.desc())


def _phrase_hits(fts, ids: list[int], terms: list[Term], want: int):
    """(ticket_id, rank) of the newest `want` of the candidates `ids` that hold the phrases:
    read newest first, stopping there (each candidate's document is read only until then)."""
    rows = _read(select(fts.c.ticket_id, fts.c.names, fts.c.doc)
                 .where(text("ticket_fts.ticket_id = ANY(CAST(:fts_candidates AS integer[]))")
                        .bindparams(fts_candidates=array_literal(ids)))
                 .order_by(fts.c.ticket_id.desc()))
    hit, rank = _hit_rank(rows, terms)
    return (select(rows.c.ticket_id, rank).where(hit)
            .order_by(rows.c.ticket_id.desc()).limit(want))


def _read(rows):
    """`rows` behind OFFSET 0, so the planner keeps them a step of their own, in their order,
    under the caller's limit. The documents are in the rows themselves (e4fts1nln017): the
    phrase check and the rank read them in place."""
    return rows.offset(0).subquery("read")


def _hit_rank(rows, terms: list[Term]):
    """Whether a row holds every phrase, and its rank (for those that do)."""
    checks = [rows.c.doc.op("@@")(_pg_tsquery(term, index))
              | (rows.c.names.like(_like(term, index)) if term.partial else false())
              for index, term in enumerate(terms) if term.phrase]
    hit = and_(*checks) if checks else true()
    _conditions, tsquery = _pg_conditions(rows, terms, phrase=True)
    return hit, case((hit, -func.ts_rank_cd(rows.c.doc, tsquery)), else_=None)


def _pg_tsquery(term: Term, index: int, *, phrase: bool = True):
    """One term's tsquery in both configurations: a phrase in either (OR), or a word also as
    prefix in either (OR). `phrase=False` gives a phrase's words in any order, as the Spanish
    configuration has them (every text is indexed in it, the customer's name and e-mail too),
    or the English one's if those are all Spanish stop words. One configuration, not both
    (AND): a word's two lexemes are always found together, and the planner, multiplying their
    frequencies as if they were not, took a phrase of common words for a handful of tickets
    and read every ticket holding them instead of the range's (800 ms at a million)."""
    value = bindparam(f"fts_{index}", " ".join(term.words) if term.phrase else term.words[0])
    if term.phrase and not phrase:
        spanish, english = (func.plainto_tsquery(literal_column(f"'{config}'::regconfig"), value)
                            for config in ("hd_es", "hd_en"))
        return case((func.numnode(spanish) > 0, spanish), else_=english)
    queries = []
    for config in ("hd_es", "hd_en"):
        cfg = literal_column(f"'{config}'::regconfig")
        if term.phrase:
            queries.append(func.phraseto_tsquery(cfg, value))
        else:
            queries.append(func.to_tsquery(cfg, func.quote_literal(value).op("||")(":*")))
    return queries[0].op("||")(queries[1])


def array_literal(values) -> str:
    """A PostgreSQL array literal of numbers (`{1,2,3}`), bound as text and cast by the
    statement: the driver adapts a list one element at a time in Python, 1.4 ms for the
    2,000 ids a phrase's candidates can be, against 0.25 ms for this text."""
    return "{" + ",".join("NULL" if value is None else repr(value) for value in values) + "}"


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
        condition = fts.c.doc.op("@@")(one)
        if term.partial:
            condition = condition | fts.c.names.like(_like(term, index))
        conditions.append(condition)
    return conditions, tsquery


def snippet_rows(ticket_ids: list[int], terms: list[Term], open_: str, close: str):
    """(ticket_id, excerpt) of each ticket: ts_headline over its thread, hits between the
    markers."""
    fts = table("ticket_fts", column("ticket_id", Integer), column("body"), column("names"))
    tsquery = None
    for index, term in enumerate(terms):
        one = _pg_tsquery(term, index)
        tsquery = one if tsquery is None else tsquery.op("||")(one)
    options = f"StartSel={open_}, StopSel={close}, MaxWords=24, MinWords=8"
    headline = func.ts_headline(literal_column("'hd_es'::regconfig"), fts.c.body, tsquery,
                                bindparam("fts_options", options))
    stmt = select(fts.c.ticket_id, headline).where(fts.c.ticket_id.in_(ticket_ids))
    return db.session.execute(stmt)


