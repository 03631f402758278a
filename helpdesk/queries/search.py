"""Full-text search over tickets: subject, customer name and e-mail, every message of the thread.

The index is `ticket_fts`, built and kept in sync by triggers (migrations c7f75ea00007,
e2fts0spd015): FTS5 on SQLite (`search_fts5`), a weighted tsvector (Spanish and English
stemming, unaccent) plus a trigram index for partial words on PostgreSQL (`search_pg`). Both
are accent- and case-insensitive and rank by relevance; `"quoted words"` are phrases. Snippets
come back escaped, with `<mark>` around the hits.

A search reads the index newest first and stops at RANK_CAP matches, which are ranked; the
queue's statement joins them as one bound value (`Matches.ranked`), read once per request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import Float, Integer, bindparam, select, text

from ..extensions import db
from . import search_fts5, search_pg
from .search_index import bulk_load  # noqa: F401  (the bench's and the demo's bulk seed)
from .search_terms import Term, parse

__all__ = ["Matches", "Term", "highlight", "matches", "outside_models", "parse", "snippets"]

#: Tables, triggers and indexes of the search index: outside the models, so autogenerate and the
#: models-vs-migrations test leave them alone (SQLite's FTS5 adds ticket_fts_data, _idx, …).
INDEX_PREFIX = "ticket_fts"

#: Markers around a hit inside a snippet (private-use characters: never typed, never escaped).
OPEN, CLOSE = "\ue000", "\ue001"

#: Relevance is ranked over the newest RANK_CAP tickets that match, so a search never reads
#: every match: a word in half of a million tickets would cost seconds to rank in full (and more
#: to count) for a page of 50 rows. Fewer matches than this (any specific search) are all ranked.
RANK_CAP = 500


def outside_models(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: False for the search index's own objects."""
    return not (name or "").startswith(INDEX_PREFIX)


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


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def matches(query: str) -> Matches | None:
    """What `query` matches, or None when the text has nothing to search for. The index is
    read once per request and text: the queue's rows, its count and its tabs share it."""
    terms = parse(query)
    if not terms:
        return None
    cache = db.session.info.setdefault("fts_matches", {})
    key = (tuple(terms), RANK_CAP)
    if key not in cache:
        backend = search_pg if _postgresql() else search_fts5
        cache[key] = Matches(tuple(backend.find(terms, RANK_CAP)))
    return cache[key]


def _found_table(found):
    """(ticket_id, rank) rows as a subquery: one bound value (an array, or JSON on SQLite), so
    the statement's text is the same for any number of matches."""
    if _postgresql():
        stmt = text("SELECT * FROM unnest(CAST(:fts_ids AS integer[]), "
                    "CAST(:fts_ranks AS double precision[])) AS fts(ticket_id, rank)").bindparams(
            bindparam("fts_ids", search_pg.array_literal(row[0] for row in found), unique=True),
            bindparam("fts_ranks", search_pg.array_literal(row[1] for row in found), unique=True))
    else:
        stmt = text("SELECT json_extract(value, '$[0]') AS ticket_id, "
                    "json_extract(value, '$[1]') AS rank FROM json_each(:fts_found)").bindparams(
            bindparam("fts_found", json.dumps(found), unique=True))
    return stmt.columns(ticket_id=Integer, rank=Float).subquery("fts")


def snippets(ticket_ids: list[int], query: str) -> dict[int, Markup]:
    """An escaped excerpt per ticket around what matched, hits wrapped in `<mark>`."""
    terms = parse(query)
    if not terms or not ticket_ids:
        return {}
    backend = search_pg if _postgresql() else search_fts5
    rows = backend.snippet_rows(ticket_ids, terms, OPEN, CLOSE)
    return {ticket_id: highlight(excerpt) for ticket_id, excerpt in rows if excerpt}


def highlight(excerpt: str) -> Markup:
    """Escape an excerpt (customer text), then turn the hit markers into `<mark>`."""
    safe = str(escape(excerpt.replace("\n", " ")))
    return Markup(safe.replace(OPEN, "<mark>").replace(CLOSE, "</mark>"))
