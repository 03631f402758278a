"""Bulk insertion: plain rows in chunks (executemany), ids given out by the seed itself."""

from __future__ import annotations

import itertools
import sys
from contextlib import contextmanager

import click
from sqlalchemy import func, select, text

from ..extensions import db
from ..models import (
    AccountEvent,
    AuditEntry,
    Customer,
    Escalation,
    Message,
    ResolutionRound,
    SatisfactionRating,
    Ticket,
)

#: Rows per executemany: big enough to amortise the round trip, small enough for memory.
CHUNK = 10_000

#: Tables whose ids `seed()` gives out itself (PostgreSQL sequences are reset after).
BULK_TABLES = (Customer, AccountEvent, Ticket, Message, AuditEntry, ResolutionRound,
               SatisfactionRating, Escalation)


def next_ids() -> dict[str, itertools.count]:
    """Counters starting after the highest id of each bulk table (1 on an empty database)."""
    return {model.__tablename__: itertools.count(
                (db.session.scalar(select(func.max(model.id))) or 0) + 1)
            for model in BULK_TABLES}


def insert_rows(model, rows: list[dict]) -> None:
    """executemany of the model's table, CHUNK rows at a time. Each value goes through its
    column type's bind processor, as `session.execute(insert(…), rows)` would; what is skipped
    is SQLAlchemy's per-row parameter building, two thirds of the insert time at 100k tickets."""
    if not rows:
        return
    conn = db.session.connection()
    table, dialect = model.__table__, conn.dialect
    columns = [table.c[name] for name in rows[0]]
    sql = _insert_sql(table.name, [c.name for c in columns], dialect)
    convert = [(c.name, c.type.dialect_impl(dialect).bind_processor(dialect)) for c in columns]
    for start in range(0, len(rows), CHUNK):
        params = [tuple(row[name] if process is None else process(row[name])
                        for name, process in convert)
                  for row in rows[start:start + CHUNK]]
        conn.exec_driver_sql(sql, params)


def _insert_sql(table: str, names: list[str], dialect) -> str:
    """INSERT INTO table (…) VALUES (…) in the driver's own parameter style."""
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    return (f"INSERT INTO {quote(table)} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join([mark] * len(names))})")


def reset_sequences() -> None:
    """After explicit ids, move PostgreSQL's sequences past them (later inserts collide else)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for model in BULK_TABLES:
        table = model.__tablename__
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        ))


@contextmanager
def progress(enabled: bool, total: int):
    """Yield an `advance(n)` callable: a progress bar on stderr, or nothing."""
    if not enabled:
        yield lambda n: None
        return
    with click.progressbar(length=total, label="Demo tickets", file=sys.stderr) as bar:
        yield bar.update
