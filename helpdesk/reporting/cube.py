"""Read the day cubes: one query per cube for the period and filters, then every grouping the
page shows is added up in numpy (counts, sums, and the quantile sketches bucket by bucket)."""

from __future__ import annotations

import math

from sqlalchemy import select

from ..extensions import db
from . import sketch

DIMS = ("team_id", "category_id", "agent_id", "priority", "channel")


class Frame:
    """The cube rows of a period: dimension columns, measure columns, sketches."""

    def __init__(self, cube, conds, dims: tuple[str, ...], measures: tuple[str, ...],
                 sketched: bool):
        import numpy as np  # when a page first needs it, not at start-up

        cols = [cube.day, *(getattr(cube, d) for d in dims),
                *(getattr(cube, m) for m in measures)]
        if sketched:
            cols.append(cube.sketch)
        rows = db.session.execute(select(*cols).where(*conds)).all()
        self.n = len(rows)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(cols)
        self.keys = {"day": columns[0]}
        for i, d in enumerate(dims, start=1):
            self.keys[d] = columns[i]
        start = 1 + len(dims)
        self.values = {m: np.asarray([v or 0 for v in columns[start + i]], dtype=np.float64)
                       for i, m in enumerate(measures)}
        self.pairs = None
        if sketched:
            blobs = columns[-1]
            sizes = np.asarray([len(b) // sketch.PAIR_SIZE if b else 0 for b in blobs],
                               dtype=np.int64)
            data = np.frombuffer(b"".join(b for b in blobs if b), dtype=sketch.pair_dtype())
            self.pairs = (np.repeat(np.arange(self.n, dtype=np.int64), sizes),
                          data["b"].astype(np.int64), data["n"].astype(np.float64))

    def group(self, key: str | None) -> dict:
        """{group key: {measure: sum, …, "hist": histogram}} for a dimension (None: all)."""
        import numpy as np

        if self.n == 0:
            return {}
        if key is None:
            labels, inverse = ["all"], np.zeros(self.n, dtype=np.int64)
        else:
            raw = self.keys[key]
            index: dict = {}
            inverse = np.fromiter((index.setdefault(k, len(index)) for k in raw),
                                  dtype=np.int64, count=self.n)
            labels = list(index)
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


def quantiles(hist) -> tuple[float | None, float | None]:
    """(median, p90) of a histogram, nearest rank."""
    import numpy as np

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
