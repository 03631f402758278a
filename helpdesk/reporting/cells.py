"""The cube cells a refresh touches, in a temporary table of the run's transaction.

A changed ticket's old facts sit in some (day, cell) pairs and its new facts in others; each
cube recomputes exactly those pairs. The pairs are noted by INSERT … SELECT from the facts
(set-based, never through Python) and read back as a semi-join on the cubes' and facts'
(day, cell) index: no statement carries thousands of bound values, as the lists of pairs
did (16.8 s for 1,000 tickets at 1M).
"""

from __future__ import annotations

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
    union_all,
)

from ..extensions import db
from ..report_tables import CELL_LENGTH

NAME = "report_touched_cells"
CELLS = Table(NAME, MetaData(), Column("kind", SmallInteger), Column("day", Date),
              Column("cell", String(CELL_LENGTH)), prefixes=["TEMPORARY"])


def temporary(name: str, columns: str) -> None:
    """Create a temporary table if this connection has none yet (on PostgreSQL emptied at
    each commit)."""
    postgres = db.engine.dialect.name == "postgresql"
    db.session.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({columns})"
                            + (" ON COMMIT DELETE ROWS" if postgres else "")))


def settings(**values: str) -> None:
    """SET LOCAL some settings, in one statement (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        return
    parts = [f"set_config('{name}', '{value}', true)" for name, value in values.items()]
    db.session.execute(text("SELECT " + ", ".join(parts)))


def start() -> None:
    """An empty table of touched cells for this transaction, and for the rest of it (on
    PostgreSQL) joins by nested loops over indexes only, and no JIT compilation.

    A refresh joins a few thousand ids or (day, cell) pairs to big tables. Estimating a
    semi-join on two columns, PostgreSQL guessed every fact would match and merged the whole
    (day, cell) index (12 s for the activity cube at 1M, not 50 ms); joining 1,000 escalation
    ids to tickets it merged 100,000 rows of the tickets' key. And it costs these small
    statements high enough to compile them: 70 ms each."""
    temporary(NAME, f"kind SMALLINT NOT NULL, day DATE NOT NULL, "
                    f"cell VARCHAR({CELL_LENGTH}) NOT NULL")
    if db.engine.dialect.name == "postgresql":  # the table is empty: emptied at the last commit
        settings(enable_mergejoin="off", enable_hashjoin="off", jit="off")
    else:
        db.session.execute(delete(CELLS))


def note(facts: dict, cond) -> None:
    """Add the (day, cell) pairs that the facts of some tickets sit in, in one statement.

    :param facts: {kind: fact model}, kind being the cube's position in `facts.CUBES`
    :param cond: the tickets, as a function of a ticket id column
    """
    pairs = [select(literal(kind), fact.day, fact.cell).where(cond(fact.ticket_id)).distinct()
             for kind, fact in facts.items()]
    db.session.execute(insert(CELLS).from_select(["kind", "day", "cell"], union_all(*pairs)))


def settle() -> None:
    """Give the planner the table's size (PostgreSQL keeps no statistics of temporary tables
    until asked)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"ANALYZE {NAME}"))


def touched(model, kind: int):
    """WHERE (model.day, model.cell) is one of the pairs noted for `kind`."""
    pairs = select(CELLS.c.day, CELLS.c.cell).where(CELLS.c.kind == kind)
    return tuple_(model.day, model.cell).in_(pairs)
