"""Report helpers shared by the refresh (helpdesk.reporting), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


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
