"""What a search box's text asks for (terms: words and phrases), and the ranges of ticket ids
the index is read in: shared by the SQLite and PostgreSQL halves of `search`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")

#: PostgreSQL reads older tickets in ranges of blocks of ids, newest first: FIRST_BLOCKS blocks,
#: then each range WIDEN times wider than the last, until enough matches are found. Ticket ids
#: ascend with time, so a frequent word is answered from the first range and a rare one costs a
#: handful of statements. Its GIN indexes lead with `ticket_id / BLOCK` (migration
#: e2fts0spd015): the entries of a range's words are read only where its blocks are.
BLOCK = 4096
FIRST_BLOCKS = 4
WIDEN = 4


@dataclass(frozen=True)
class Term:
    """One part of a query: a phrase (quoted, or a word with punctuation such as an e-mail) or a
    single word (matched as a prefix too)."""

    words: tuple[str, ...]
    raw: str

    @property
    def phrase(self) -> bool:
        return len(self.words) > 1

    @property
    def partial(self) -> bool:
        """Also matched as typed inside the subject or customer (a word's part, an e-mail); not
        a quoted phrase of several words, which is matched as words."""
        return " " not in self.raw


def parse(query: str) -> list[Term]:
    """The terms of a search box's text; words keep only letters and digits."""
    terms = []
    for quoted, bare in _TERM.findall(query or ""):
        raw = quoted if quoted else bare
        words = tuple(_WORD.findall(raw))
        if words:
            terms.append(Term(words, raw.strip()))
    return terms[:12]


def fold(word: str) -> str:
    """A word as the index stores it: lower case, without accents (FTS5's unicode61 with
    remove_diacritics 2)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def blocks(hi: int, size: int | None = None):
    """Ranges [first, last] of blocks of ids, newest first, from the block of id `hi` down to
    block 0: `size` blocks (FIRST_BLOCKS), then each range WIDEN times wider than the last."""
    last, size = hi // BLOCK, size or FIRST_BLOCKS
    while hi > 0 and last >= 0:
        first = max(0, last - size + 1)
        yield first, last
        last, size = first - 1, size * WIDEN
