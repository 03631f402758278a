"""Read the day cubes: one query per cube for the period and filters, then every grouping the
page shows is added up in numpy (counts, sums, and the quantile sketches bucket by bucket).

On PostgreSQL the query returns one row: each column of the period's cube rows as an array
and the sketches concatenated into one bytea, so no Python object is made per cube row;
SQLite returns rows. The arrays need no ORDER BY to line up: the aggregates of one query level
are advanced together, row by row, over the same input (an ORDER BY per aggregate made
PostgreSQL 15 sort the rows once per column: 157 ms instead of 35 ms at 1M).

numpy is imported with this module, when the app starts (the admin imports it): imported at a
page's first merge it cost that view ~150 ms, the first cold view of every worker."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
from sqlalchemy import Integer, cast, func, literal, select, text

from ..extensions import db
from . import sketch

#: Dimensions stored as text (the others are ids; None is read as -1).
TEXT = ("priority", "channel")
_NONE = -1


def _postgres_columns(cube, conds, dims, measures, sketched) -> list:
    """The columns of the period as arrays (PostgreSQL): day ordinals, dims, measures, sizes
    and the sketches' bytes joined."""
    cols = [func.array_agg(cast(cube.day - literal(date(1, 1, 1)), Integer) + 1)]
    for d in dims:
        col = getattr(cube, d)
        cols.append(func.array_agg(col if d in TEXT else func.coalesce(col, _NONE)))
    cols += [func.array_agg(func.coalesce(getattr(cube, m), 0)) for m in measures]
    if sketched:
        cols += [func.array_agg(func.coalesce(func.octet_length(cube.sketch), 0)),
                 func.string_agg(cube.sketch, literal(b""))]
    row = db.session.execute(select(*cols).where(*conds)).one()
    return [list(v) if v is not None and not isinstance(v, bytes) else v for v in row]


def _rows_columns(cube, conds, dims, measures, sketched) -> list:
    """The same columns from plain rows (SQLite)."""
    cols = [cube.day, *(getattr(cube, d) for d in dims),
            *(getattr(cube, m) for m in measures)]
    if sketched:
        cols.append(cube.sketch)
    rows = db.session.connection().execute(select(*cols).where(*conds)).all()
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in cols]
    out = [[d.toordinal() for d in columns[0]]]
    for i, d in enumerate(dims, start=1):
        out.append(columns[i] if d in TEXT else [_NONE if v is None else v for v in columns[i]])
    out += [[v or 0 for v in c] for c in columns[1 + len(dims):1 + len(dims) + len(measures)]]
    if sketched:
        blobs = columns[-1]
        out += [[len(b) if b else 0 for b in blobs], b"".join(b for b in blobs if b)]
    return out


class Frame:
    """The cube rows of a period: dimension columns, measure columns, sketches (numpy)."""

    def __init__(self, cube, conds, dims: tuple[str, ...], measures: tuple[str, ...],
                 sketched: bool):
        read = _postgres_columns if db.engine.dialect.name == "postgresql" else _rows_columns
        columns = read(cube, conds, dims, measures, sketched)
        days = np.asarray(columns[0] or [], dtype=np.int64)
        self.n = len(days)
        self.keys = {"day": days}
        self.names: dict[str, list] = {}
        for i, d in enumerate(dims, start=1):
            if d in TEXT:  # coded as ints: np.unique over Python strings took 70 ms a page
                codes: dict = {}
                self.keys[d] = np.fromiter((codes.setdefault(v, len(codes))
                                            for v in columns[i] or []), dtype=np.int64)
                self.names[d] = list(codes)
            else:
                self.keys[d] = np.asarray(columns[i] or [], dtype=np.int64)
        start = 1 + len(dims)
        self.values = {m: np.asarray(columns[start + i] or [], dtype=np.float64)
                       for i, m in enumerate(measures)}
        self.pairs = None
        if sketched and self.n:
            sizes = np.asarray(columns[-2], dtype=np.int64) // sketch.PAIR_SIZE
            data = np.frombuffer(columns[-1] or b"", dtype=sketch.pair_dtype())
            if int(sizes.sum()) != len(data):
                raise ValueError("cube sketches and their sizes disagree")
            self.pairs = (np.repeat(np.arange(self.n, dtype=np.int64), sizes),
                          data["b"].astype(np.int64), data["n"].astype(np.float64))

    def _label(self, key: str, value):
        if key == "day":
            return date.fromordinal(int(value))
        if key in TEXT:
            return self.names[key][int(value)]
        return None if value == _NONE else int(value)

    def group(self, key: str | None) -> dict:
        """{group key: {measure: sum, …, "hist": histogram}} for a dimension (None: all)."""
        if self.n == 0:
            return {}
        if key is None:
            labels, inverse = ["all"], np.zeros(self.n, dtype=np.int64)
        else:
            uniques, inverse = np.unique(self.keys[key], return_inverse=True)
            labels = [self._label(key, u) for u in uniques]
            inverse = inverse.reshape(-1)
        size = len(labels)
        sums = {m: np.bincount(inverse, weights=v, minlength=size)
                for m, v in self.values.items()}
        hists = None
        if self.pairs is not None:
            rows, buckets, counts = self.pairs
            flat = inverse[rows] * sketch.SIZE + buckets
            hists = np.bincount(flat, weights=counts, minlength=size * sketch.SIZE) \
                .reshape(size, sketch.SIZE)
        out = {}
        for slot, label in enumerate(labels):
            row = {m: float(s[slot]) for m, s in sums.items()}
            if hists is not None:
                row["hist"] = hists[slot]
            out[label] = row
        return out


class Sums:
    """A cube without sketches (ratings, staff messages): each grouping summed by the database
    (a few rows back: one per agent, team or category), not the period's rows read. On
    PostgreSQL every grouping of `dims` (and the total) comes from one scan (GROUPING SETS)."""

    def __init__(self, cube, conds, measures: tuple[str, ...], dims: tuple[str, ...] = ()):
        self.cube, self.conds, self.measures, self.dims = cube, conds, measures, dims
        self._groups: dict = {}

    def _all_groups(self) -> None:
        """Every grouping of `dims` and the total in one query (PostgreSQL)."""
        columns = [getattr(self.cube, d) for d in self.dims]
        sums = [func.coalesce(func.sum(getattr(self.cube, m)), 0) for m in self.measures]
        sets = ", ".join(["()", *(f"({c.name})" for c in columns)])
        stmt = (select(*columns, *(func.grouping(c) for c in columns), func.count(), *sums)
                .where(*self.conds).group_by(text(f"GROUPING SETS ({sets})")))
        self._groups = {key: {} for key in (None, *self.dims)}
        width = len(columns)
        for row in db.session.execute(stmt):
            values, flags, n = row[:width], row[width:2 * width], row[2 * width]
            grouped = [i for i, flag in enumerate(flags) if flag == 0]
            key = self.dims[grouped[0]] if grouped else None
            if n:
                label = values[grouped[0]] if grouped else "all"
                self._groups[key][label] = {m: float(v) for m, v in zip(
                    self.measures, row[2 * width + 1:], strict=True)}

    def group(self, key: str | None) -> dict:
        """{group key: {measure: sum, …}} for a dimension column (None: all)."""
        if not self._groups and self.dims and db.engine.dialect.name == "postgresql":
            self._all_groups()
        if key not in self._groups:
            column = literal("all") if key is None else getattr(self.cube, key)
            sums = [func.coalesce(func.sum(getattr(self.cube, m)), 0) for m in self.measures]
            stmt = select(column, func.count(), *sums).where(*self.conds)
            if key is not None:
                stmt = stmt.group_by(column)
            self._groups[key] = {
                label: {m: float(v) for m, v in zip(self.measures, values, strict=True)}
                for label, n, *values in db.session.execute(stmt) if n}
        return self._groups[key]


def quantiles(hist) -> tuple[float | None, float | None]:
    """(median, p90) of a histogram, nearest rank."""
    if hist is None:
        return None, None
    cumulative = np.cumsum(hist)
    n = cumulative[-1]
    if n == 0:
        return None, None
    out = []
    for p in (0.5, 0.9):
        rank = max(1, math.ceil(p * int(n)))
        out.append(sketch.value(int(np.searchsorted(cumulative, rank))))
    return out[0], out[1]
