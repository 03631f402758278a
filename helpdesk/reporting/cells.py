"""The cube cells a refresh touches, in a temporary table of the run's transaction.

A changed ticket's old facts sit in some (day, cell) pairs and its new facts in others; each
cube recomputes exactly those pairs. The pairs are noted by INSERT … SELECT from the facts
(set-based, never through Python) and read back as a semi-join on the cubes' and facts'
(day, cell) index: no statement carries thousands of bound values, as the lists of pairs
did (16.8 s for 1,000 tickets at 1M).
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import (
    Column,
    Date,
    MetaData,
    SmallInteger,
    String,
    Table,
    delete,
    insert,
    literal,
    select,
    text,
    tuple_,
)

from ..extensions import db
from ..report_tables import CELL_LENGTH

NAME = "report_touched_cells"
CELLS = Table(NAME, MetaData(), Column("kind", SmallInteger), Column("day", Date),
              Column("cell", String(CELL_LENGTH)), prefixes=["TEMPORARY"])


def start() -> None:
    """An empty table of touched cells for this transaction (created once per connection);
    no JIT compilation for the rest of the transaction."""
    postgres = db.engine.dialect.name == "postgresql"
    db.session.execute(text(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {NAME} (kind SMALLINT NOT NULL, "
        f"day DATE NOT NULL, cell VARCHAR({CELL_LENGTH}) NOT NULL)"
        + (" ON COMMIT DELETE ROWS" if postgres else "")))
    db.session.execute(delete(CELLS))
    if postgres:  # small statements the planner costs high: compiling them took 70 ms each
        db.session.execute(text("SET LOCAL jit = off"))


def note(kind: int, fact, cond) -> None:
    """Add the (day, cell) pairs that the facts of some tickets sit in.

    :param kind: which cube the pairs are for (its position in `facts.CUBES`)
    :param cond: the tickets, as a function of a ticket id column
    """
    pairs = select(literal(kind), fact.day, fact.cell).where(cond(fact.ticket_id)).distinct()
    db.session.execute(insert(CELLS).from_select(["kind", "day", "cell"], pairs))


def settle() -> None:
    """Give the planner the table's size (PostgreSQL keeps no statistics of temporary tables
    until asked)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"ANALYZE {NAME}"))


@contextmanager
def looked_up():
    """Within the block, PostgreSQL joins the noted pairs to a (day, cell) index by nested
    loops only: estimating a semi-join on two columns, it guessed every row would match and
    merged the whole index instead (12 s for the activity cube at 1M, not 50 ms)."""
    postgres = db.engine.dialect.name == "postgresql"
    settings = ("enable_mergejoin", "enable_hashjoin")
    if postgres:
        for name in settings:
            db.session.execute(text(f"SET LOCAL {name} = off"))
    try:
        yield
    finally:
        if postgres:
            for name in settings:
                db.session.execute(text(f"SET LOCAL {name} TO DEFAULT"))


def touched(model, kind: int):
    """WHERE (model.day, model.cell) is one of the pairs noted for `kind`."""
    pairs = select(CELLS.c.day, CELLS.c.cell).where(CELLS.c.kind == kind)
    return tuple_(model.day, model.cell).in_(pairs)
