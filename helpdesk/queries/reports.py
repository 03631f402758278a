"""SQL helpers of the report refresh (helpdesk.reporting), on SQLite and PostgreSQL alike.

SQLite has no time zones and no bytea aggregate: the functions it lacks are Python functions
registered on every SQLite connection (`_sqlite_functions`), named like their PostgreSQL twins'
constructs here.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, Integer, LargeBinary, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..reporting import sketch


class epoch(FunctionElement):
    """Seconds since 1970 of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Float()
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element, compiler, **kw):
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"(julianday({compiler.process(element.clauses, **kw)}) * 86400.0)"


class local_day(FunctionElement):
    """local_day(timestamp, zone name): the calendar day of a UTC timestamp in a time zone."""

    type = Date()
    inherit_cache = True


@compiles(local_day)
def _local_day_default(element, compiler, **kw):
    column, zone = list(element.clauses)
    return (f"CAST(timezone({compiler.process(zone, **kw)}, {compiler.process(column, **kw)})"
            " AS DATE)")


@compiles(local_day, "sqlite")
def _local_day_sqlite(element, compiler, **kw):
    return f"hd_local_day({compiler.process(element.clauses, **kw)})"


class sketch_bucket(FunctionElement):
    """The sketch bucket of a duration in seconds (`reporting.sketch.bucket`'s SQL twin)."""

    type = Integer()
    inherit_cache = True


@compiles(sketch_bucket)
def _bucket(element, compiler, **kw):
    x = compiler.process(element.clauses, **kw)
    return (f"(CASE WHEN {x} < 1 THEN 0 ELSE LEAST({sketch.SIZE - 1}, "
            f"CAST(CEIL(LN({x}) / {sketch.LN_GAMMA!r}) AS INTEGER) + 1) END)")


@compiles(sketch_bucket, "sqlite")
def _bucket_sqlite(element, compiler, **kw):
    return f"hd_sketch_bucket({compiler.process(element.clauses, **kw)})"


class sketch_agg(FunctionElement):
    """sketch_agg(bucket, count): the sketch's bytes of (bucket, count) rows (NULLs skipped)."""

    type = LargeBinary()
    inherit_cache = True


@compiles(sketch_agg)
def _sketch_agg(element, compiler, **kw):
    b, n = (compiler.process(c, **kw) for c in element.clauses)
    return (f"string_agg(int2send(CAST({b} AS SMALLINT)) || int4send(CAST({n} AS INTEGER)), "
            f"''::bytea ORDER BY {b})")


@compiles(sketch_agg, "sqlite")
def _sketch_agg_sqlite(element, compiler, **kw):
    return f"hd_sketch_agg({compiler.process(element.clauses, **kw)})"


def _sqlite_day(stamp, zone):
    if stamp is None:
        return None
    moment = datetime.fromisoformat(str(stamp)).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


def _sqlite_bucket(x):
    return None if x is None else sketch.bucket(float(x))


class _SketchAgg:
    def __init__(self):
        self.counts = {}

    def step(self, b, n):
        if b is not None and n:
            self.counts[int(b)] = self.counts.get(int(b), 0) + int(n)

    def finalize(self):
        return sketch.encode(self.counts.items()) or None


@event.listens_for(Engine, "connect")
def _sqlite_functions(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.create_function("hd_local_day", 2, _sqlite_day, deterministic=True)
    dbapi_connection.create_function("hd_sketch_bucket", 1, _sqlite_bucket, deterministic=True)
    dbapi_connection.create_aggregate("hd_sketch_agg", 2, _SketchAgg)
