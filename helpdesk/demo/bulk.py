"""Bulk insertion: plain rows in chunks (executemany), ids given out by the seed itself."""

from __future__ import annotations

import itertools
import sys
from contextlib import contextmanager

import click
from sqlalchemy import func, insert, select, text

from ..extensions import db
from ..models import (
    AccountEvent,
    AuditEntry,
    Customer,
    Escalation,
    Message,
    SatisfactionRating,
    Ticket,
)

#: Rows per executemany: big enough to amortise the round trip, small enough for memory.
CHUNK = 10_000

#: Tables whose ids `seed()` gives out itself (PostgreSQL sequences are reset after).
BULK_TABLES = (Customer, AccountEvent, Ticket, Message, AuditEntry, SatisfactionRating,
               Escalation)


def next_ids() -> dict[str, itertools.count]:
    """Counters starting after the highest id of each bulk table (1 on an empty database)."""
    return {model.__tablename__: itertools.count(
                (db.session.scalar(select(func.max(model.id))) or 0) + 1)
            for model in BULK_TABLES}


def insert_rows(model, rows: list[dict]) -> None:
    """executemany through the model's table, CHUNK rows at a time (column types still apply)."""
    stmt = insert(model.__table__)
    for start in range(0, len(rows), CHUNK):
        db.session.execute(stmt, rows[start:start + CHUNK])


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
