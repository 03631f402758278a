"""Cubes of plain counts (staff messages per day and cell) take a refresh as a difference:
each touched cell's row, minus the changed tickets' old facts, plus their new ones.

Recomputing a cell from its facts read every fact of the cell (some 25 staff messages each at
1M tickets, scattered over the table): most of a refresh. The difference reads one cube row
per touched cell and the changed tickets' own facts. Counts add up exactly, so the result is
the recomputed cell's, which `test_incremental_refresh_equals_rebuild` holds it to. (The cubes
with quantile sketches are still recomputed from their facts.)
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)

from ..extensions import db
from ..models import ReportActivity, ReportActivityDay
from ..report_tables import CELL_LENGTH
from . import cells

NAME = "report_activity_delta"
DIMS = ("day", "cell", "team_id", "category_id", "agent_id", "priority", "channel")
COUNTS = ("replies", "notes")
DELTA = Table(NAME, MetaData(), Column("day", Date), Column("cell", String(CELL_LENGTH)),
              Column("team_id", Integer), Column("category_id", Integer),
              Column("agent_id", Integer), Column("priority", String(20)),
              Column("channel", String(20)), Column("replies", Integer),
              Column("notes", Integer), prefixes=["TEMPORARY"])
#: The cubes kept by differences, and the facts they count.
CUBES = {ReportActivityDay: ReportActivity}


def start() -> None:
    """An empty difference table for this transaction."""
    cells.temporary(NAME, f"day DATE, cell VARCHAR({CELL_LENGTH}), team_id INTEGER, "
                          "category_id INTEGER, agent_id INTEGER, priority VARCHAR(20), "
                          "channel VARCHAR(20), replies INTEGER, notes INTEGER")
    db.session.execute(delete(DELTA))


def note(cond, sign: int) -> None:
    """Add (sign 1) or take away (sign -1) the counts of some tickets' staff messages."""
    fact = ReportActivity
    dims = [getattr(fact, d) for d in DIMS]
    replies = func.sum(case((fact.public.is_(True), sign), else_=0))
    notes = func.sum(case((fact.public.is_(True), 0), else_=sign))
    rows = select(*dims, replies, notes).where(cond(fact.ticket_id)).group_by(*dims)
    db.session.execute(insert(DELTA).from_select([*DIMS, *COUNTS], rows))


def apply(kind: int) -> None:
    """Replace the touched cells' rows by their rows plus the differences (cells left with
    nothing are dropped)."""
    cube = ReportActivityDay
    touched = cells.touched(cube, kind)
    current = select(*(getattr(cube, c) for c in (*DIMS, *COUNTS))).where(touched)
    db.session.execute(insert(DELTA).from_select([*DIMS, *COUNTS], current))
    db.session.execute(delete(cube).where(touched),
                       execution_options={"synchronize_session": False})
    dims = [DELTA.c[d] for d in DIMS]
    sums = [func.sum(DELTA.c[c]) for c in COUNTS]
    merged = select(*dims, *sums).group_by(*dims).having(sums[0] + sums[1] > literal(0))
    table = cube.__table__
    db.session.execute(insert(table).from_select([table.c[c] for c in (*DIMS, *COUNTS)],
                                                 merged))
